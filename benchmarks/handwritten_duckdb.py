"""The employees recipe's three outputs hand-written in DuckDB SQL: the other practical limit.

What an expert would write with DuckDB for this one job (no manifest, rules, profiles or report):

* pass 1, one scan reading only ``age``, ``salary`` and ``department`` (``GROUPING SETS``):
  the global medians and, per department, the sums and counts from which the department
  means of the *filled* columns follow exactly (a filled value is the median):
  ``(sum + missing * median) / rows``; so ``department_statistics.csv`` needs no second pass;
* pass 2: the cleaned rows (each ``profile`` parsed once by ``json_transform`` into a struct)
  go into a temporary table, and the two wide outputs are written from that table
  (``--rescan``: instead, each output re-reads and re-parses the CSV; no table).

Same semantics as ``examples/employees/recipe.yaml`` on valid input: a row whose age is
outside [0, 120] (or NaN) is dropped, medians skip NaN and nulls (``quantile_cont`` is
pandas' median), ``department`` gaps become ``Unknown``, ``address_length`` is 0 for a
missing address, bins are right-closed with the lowest edge included. Floats are written
as DuckDB writes them (``70000.0``); the benchmark compares values, not their text.

Usage: ``python benchmarks/handwritten_duckdb.py INPUT.csv OUTDIR [--rescan] [--threads N]
[--memory-limit 1GB]``
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import duckdb

COLUMNS = (
    "{'id': 'BIGINT', 'name': 'VARCHAR', 'age': 'DOUBLE', 'salary': 'DOUBLE', 'hire_date': 'VARCHAR', "
    "'profile': 'VARCHAR', 'department': 'VARCHAR', 'bonus': 'DOUBLE'}"
)
AGE_OK = "(age IS NULL OR (NOT isnan(age) AND age BETWEEN 0 AND 120))"


def source(path: str) -> str:
    return (
        f"read_csv({quoted(path)}, header = true, columns = {COLUMNS}, nullstr = '', quote = '\"', "
        "escape = '\"', auto_detect = false)"
    )


def quoted(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def cleaned_select(src: str, age_median: float, salary_median: float) -> str:
    return f"""
        SELECT id, name,
               coalesce(CASE WHEN isnan(age) THEN NULL ELSE age END, {age_median!r}) AS age,
               coalesce(CASE WHEN isnan(salary) THEN NULL ELSE salary END, {salary_median!r}) AS salary,
               hire_date,
               coalesce(department, 'Unknown') AS department,
               bonus,
               p.address AS address, p.phone AS phone, p.email AS email
        FROM (SELECT *, json_transform(profile, '{{"address": "VARCHAR", "phone": "VARCHAR", "email": "VARCHAR"}}') AS p
              FROM {src} WHERE {AGE_OK})
    """


FEATURES = """
    coalesce(length(address), 0)::BIGINT AS address_length,
    CASE WHEN salary >= 0 AND salary <= 50000 THEN 'low'
         WHEN salary > 50000 AND salary <= 70000 THEN 'medium'
         WHEN salary > 70000 AND salary <= 100000 THEN 'high' END AS salary_category,
    CASE WHEN age >= 0 AND age <= 25 THEN 'Young'
         WHEN age > 25 AND age <= 35 THEN 'Early Career'
         WHEN age > 35 AND age <= 45 THEN 'Mid Career'
         WHEN age > 45 AND age <= 55 THEN 'Senior'
         WHEN age > 55 THEN 'Experienced' END AS age_group
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("outdir", type=Path)
    parser.add_argument(
        "--rescan", action="store_true", help="no temporary table: each output re-reads the CSV"
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--memory-limit", default=None, help="DuckDB memory_limit (spills to a temp folder beyond)"
    )
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    src = source(str(Path(args.input).resolve()))

    with tempfile.TemporaryDirectory(prefix="duckdb-spill-") as spill:
        con = duckdb.connect(":memory:")
        con.execute(f"SET threads = {int(args.threads)}")
        con.execute(f"SET temp_directory = {quoted(Path(spill))}")
        con.execute("SET preserve_insertion_order = true")
        if args.memory_limit:
            con.execute(f"SET memory_limit = '{args.memory_limit}'")

        # pass 1: medians and the per-department sums, in one scan of three columns
        rows = con.execute(f"""
            SELECT grouping(department) AS whole, department,
                   quantile_cont(a, 0.5) AS age_median, quantile_cont(s, 0.5) AS salary_median,
                   count(*) AS n, count(a) AS n_age, sum(a) AS sum_age, count(s) AS n_salary, sum(s) AS sum_salary
            FROM (SELECT CASE WHEN isnan(age) THEN NULL ELSE age END AS a,
                         CASE WHEN isnan(salary) THEN NULL ELSE salary END AS s,
                         coalesce(department, 'Unknown') AS department
                  FROM {src} WHERE {AGE_OK})
            GROUP BY GROUPING SETS ((department), ())
        """).fetchall()
        total = next(r for r in rows if r[0] == 1)
        age_median, salary_median = total[2], total[3]
        with open(
            args.outdir / "department_statistics.csv", "w", encoding="utf-8", newline=""
        ) as out:
            out.write("Department,Average Salary,Average Age\n")
            for _, dept, _, _, n, n_age, sum_age, n_sal, sum_sal in sorted(
                (r for r in rows if r[0] == 0), key=lambda r: r[1]
            ):
                avg_salary = ((sum_sal or 0.0) + (n - n_sal) * salary_median) / n
                avg_age = ((sum_age or 0.0) + (n - n_age) * age_median) / n
                out.write(f"{dept},{avg_salary!r},{avg_age!r}\n")

        # pass 2: the cleaned rows once, both wide outputs from them
        cleaned = cleaned_select(src, age_median, salary_median)
        if args.rescan:
            body = cleaned
        else:
            con.execute(f"CREATE TEMP TABLE cleaned AS {cleaned}")
            body = "SELECT * FROM cleaned"
        con.execute(
            f"COPY ({body}) TO {quoted(args.outdir / 'cleaned_data.csv')} (HEADER, DELIMITER ',')"
        )
        con.execute(
            f"COPY (SELECT *, {FEATURES} FROM ({body})) TO {quoted(args.outdir / 'transformed_data.csv')} (HEADER, DELIMITER ',')"
        )
        con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
