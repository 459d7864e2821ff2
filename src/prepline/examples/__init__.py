"""Example recipes shipped with the package (the repository's examples/ folder is their source)."""

from __future__ import annotations

from pathlib import Path


def employees_recipe() -> Path:
    """The employees recipe: the repository's copy when run from a clone, else the packaged one."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "examples" / "employees" / "recipe.yaml", here.parent / "employees" / "recipe.yaml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("the employees example recipe is missing from this installation")
