"""The recipe: what to do to the data, as validated, typed steps (no engine, no I/O)."""

from prepline.recipe.loader import load_recipe, parse_recipe
from prepline.recipe.model import Recipe

__all__ = ["Recipe", "load_recipe", "parse_recipe"]
