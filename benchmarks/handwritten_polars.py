"""The employees recipe's three outputs as one hand-written Polars query: the practical limit.

What an expert would write for this one job, with no manifest, rules, profiles or report:

* pass 1 (reads only ``age`` and ``salary``): the two medians, on the rows the recipe keeps;
* pass 2: one lazy scan of the CSV with its declared types, each ``profile`` decoded once
  into a struct, the fills, the features; that one flow feeds the three CSV sinks, which
  ``collect_all`` runs together on the streaming engine (no frame is materialised).

Same semantics as ``examples/employees/recipe.yaml`` on valid input: a row whose age is
outside [0, 120] (or NaN) is dropped (the recipe rejects it), medians skip NaN and nulls,
``department`` gaps become ``Unknown``, ``address_length`` is 0 for a missing address, bins
are right-closed with the lowest edge included, the statistics are sorted by department.
It does not check the JSON (an invalid profile makes it fail) nor the recipe's other rules.

Usage: ``python benchmarks/handwritten_polars.py INPUT.csv OUTDIR [--no-cache]``
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

SCHEMA = {
    "id": pl.Int64,
    "name": pl.String,
    "age": pl.Float64,
    "salary": pl.Float64,
    "hire_date": pl.String,
    "profile": pl.String,
    "department": pl.String,
    "bonus": pl.Float64,
}
PROFILE = pl.Struct({"address": pl.String, "phone": pl.String, "email": pl.String})
CLEANED = [
    "id",
    "name",
    "age",
    "salary",
    "hire_date",
    "department",
    "bonus",
    "address",
    "phone",
    "email",
]


def bins(column: str, edges: list[float], labels: list[str]) -> pl.Expr:
    """pandas.cut(right=True, include_lowest=True): (lo, hi], the first bin [lo, hi]; else null."""
    x = pl.col(column)
    chain = pl.when((x >= edges[0]) & (x <= edges[1])).then(pl.lit(labels[0]))
    for lo, hi, label in zip(edges[1:-1], edges[2:], labels[1:], strict=True):
        chain = chain.when((x > lo) & (x <= hi)).then(pl.lit(label))
    return chain.otherwise(pl.lit(None, dtype=pl.String))


def main(argv: list[str]) -> int:
    cache = "--no-cache" not in argv
    argv = [a for a in argv if a != "--no-cache"]
    if len(argv) != 2:
        sys.stderr.write("usage: handwritten_polars.py INPUT.csv OUTDIR [--no-cache]\n")
        return 2
    source, target = argv[0], Path(argv[1])
    target.mkdir(parents=True, exist_ok=True)

    age = pl.col("age")
    kept = pl.scan_csv(source, schema=SCHEMA).filter(
        age.is_null() | (age.is_not_nan() & (age >= 0) & (age <= 120))
    )

    # pass 1: medians (NaN is missing, as in pandas)
    medians = (
        kept.select(
            age.fill_nan(None).median().alias("age"),
            pl.col("salary").fill_nan(None).median().alias("salary"),
        )
        .collect(engine="streaming")
        .row(0, named=True)
    )

    # pass 2: one flow, three sinks
    base = kept.select(
        "id",
        "name",
        age.fill_nan(None).fill_null(medians["age"]),
        pl.col("salary").fill_nan(None).fill_null(medians["salary"]),
        "hire_date",
        pl.col("department").fill_null("Unknown"),
        "bonus",
        pl.col("profile").str.json_decode(PROFILE).alias("p"),
    ).unnest("p")
    if cache:
        base = base.cache()

    cleaned = base.select(CLEANED)
    transformed = base.select(
        *CLEANED,
        pl.col("address").str.len_chars().cast(pl.Int64).fill_null(0).alias("address_length"),
        bins("salary", [0, 50_000, 70_000, 100_000], ["low", "medium", "high"]).alias("salary_category"),
        bins("age", [0, 25, 35, 45, 55, float("inf")],
             ["Young", "Early Career", "Mid Career", "Senior", "Experienced"]).alias("age_group"),
    )  # fmt: skip
    statistics = (
        base.group_by(pl.col("department").alias("Department"))
        .agg(pl.col("salary").mean().alias("Average Salary"), age.mean().alias("Average Age"))
        .sort("Department")
    )
    pl.collect_all(
        [
            cleaned.sink_csv(target / "cleaned_data.csv", lazy=True),
            transformed.sink_csv(target / "transformed_data.csv", lazy=True),
            statistics.sink_csv(target / "department_statistics.csv", lazy=True),
        ],
        engine="streaming",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
