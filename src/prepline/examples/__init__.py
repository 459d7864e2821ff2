"""Example recipes shipped with the package (the repository's examples/ folder is their source)."""

from __future__ import annotations

from pathlib import Path


def _example(name: str) -> Path:
    """An example file: the repository's copy when run from a clone, else the packaged one."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "examples" / "employees" / name, here.parent / "employees" / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"the example {name} is missing from this installation")


def employees_recipe() -> Path:
    return _example("recipe.yaml")


def employees_job_template() -> Path:
    return _example("job.json")
