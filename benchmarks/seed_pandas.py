"""The seed tutorial's preprocessing, done with pandas the way the tutorial does it.

This is the *before* that prepline is measured against, so it keeps the tutorial's
approach and its quirks on purpose:

* the whole CSV is read into memory at once;
* the JSON ``profile`` is decoded row by row with ``json.loads`` in ``Series.apply``;
* the cleaned table is written, then read back from disk to build the features;
* ``address_length`` is ``len(str(value))`` of the re-read column, so a missing
  address counts as 3 (the length of ``"nan"``);
* the re-read turns ``phone`` into a float column (it holds only digits and blanks),
  so ``transformed_data.csv`` shows ``7323475298.0``;
* the salary and age bins are cut from the in-memory frame, not the re-read one.

Usage: ``python benchmarks/seed_pandas.py INPUT.csv OUTDIR``
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

PROFILE_KEYS = ("address", "phone", "email")

SALARY_EDGES = [0, 50_000, 70_000, 100_000]
SALARY_NAMES = ["low", "medium", "high"]

AGE_EDGES = [0, 25, 35, 45, 55, float("inf")]
AGE_NAMES = ["Young", "Early Career", "Mid Career", "Senior", "Experienced"]

SUMMARY_HEADER = ["Department", "Average Salary", "Average Age"]


def impute(frame: pd.DataFrame) -> None:
    """Fill the gaps in place: medians for the numbers, a placeholder department."""
    for numeric in ("age", "salary"):
        frame[numeric] = frame[numeric].fillna(frame[numeric].median())
    frame["department"] = frame["department"].fillna("Unknown")


def _decode(cell: object) -> dict:
    return json.loads(cell) if pd.notnull(cell) else {}


def unpack_profile(frame: pd.DataFrame) -> pd.DataFrame:
    """Decode each profile, lift its keys into columns, return a copy without it.

    Like the tutorial, the decoded dicts replace the text in ``frame`` and stay there
    for the rest of the run (part of the memory this baseline is measured with).
    """
    frame["profile"] = frame["profile"].apply(_decode)
    for key in PROFILE_KEYS:
        frame[key] = frame["profile"].apply(lambda record, key=key: record.get(key))
    return frame.drop(columns=["profile"])


def add_features(reread: pd.DataFrame, filled: pd.DataFrame) -> pd.DataFrame:
    """Derive the three features; the bins come from the in-memory (filled) frame."""
    reread["address_length"] = reread["address"].apply(lambda value: len(str(value)))
    reread["salary_category"] = pd.cut(
        filled["salary"], bins=SALARY_EDGES, labels=SALARY_NAMES, include_lowest=True
    )
    reread["age_group"] = pd.cut(
        filled["age"], bins=AGE_EDGES, labels=AGE_NAMES, include_lowest=True
    )
    return reread


def summarise(filled: pd.DataFrame) -> pd.DataFrame:
    """Mean salary and age per department, one row per department."""
    summary = filled.groupby("department").agg({"salary": "mean", "age": "mean"}).reset_index()
    summary.columns = SUMMARY_HEADER
    return summary


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: seed_pandas.py INPUT.csv OUTDIR\n")
        return 2
    source, target = Path(argv[0]), Path(argv[1])

    frame = pd.read_csv(source)
    sys.stderr.write(f"seed_pandas: {len(frame)} rows x {frame.shape[1]} columns from {source}\n")

    impute(frame)
    cleaned = unpack_profile(frame)

    target.mkdir(parents=True, exist_ok=True)
    cleaned_path = target / "cleaned_data.csv"
    cleaned.to_csv(cleaned_path, index=False)

    features = add_features(pd.read_csv(cleaned_path), frame)
    features.to_csv(target / "transformed_data.csv", index=False)

    summarise(frame).to_csv(target / "department_statistics.csv", index=False)
    sys.stderr.write(f"seed_pandas: wrote 3 files to {target}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
