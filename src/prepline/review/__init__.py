"""Recipe review: run two versions of a recipe on sample data and report how their outputs differ."""

from prepline.review.diff import RecipeDiff, diff_recipes
from prepline.review.render import render, render_json, render_markdown, render_text

__all__ = ["RecipeDiff", "diff_recipes", "render", "render_json", "render_markdown", "render_text"]
