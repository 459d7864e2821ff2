"""recipe.flow: what each step does to the columns."""

from __future__ import annotations

from prepline.recipe import parse_recipe
from prepline.recipe.flow import columns_written
from prepline.recipe.model import STEP_MODELS, step_kind

RECIPE = """\
version: 1
name: t
input: {format: csv, columns: {id: int64, x: float64, s: string, j: string}}
steps:
  - check: [{rule: not_null, column: id}]
  - extract_json: {column: j, fields: {a: $.a}}
  - fill: {x: median}
  - derive: {y: x * 2}
  - bin: {column: x, into: band, edges: [0, 1], labels: [low]}
  - cast: {y: {to: int64}}
  - rename: {s: t}
  - filter: "x > 0"
  - dedupe: {columns: [id]}
  - output: o
  - split: {by: id, parts: {a: 0.5, b: 0.5}}
  - aggregate: {name: g, by: [band], values: {n: {count: '*'}}}
  - drop: [y]
  - output: p
"""


def test_every_step_kind_says_which_columns_it_writes():
    steps = parse_recipe(RECIPE).steps
    written = {step_kind(s): columns_written(s) for s in steps}
    assert set(written) == set(STEP_MODELS)  # every kind appears above, so none is unknown
    assert written == {
        "check": [], "filter": [], "dedupe": [], "output": [], "split": [], "aggregate": [],
        "extract_json": ["j", "a"], "fill": ["x"], "derive": ["y"], "bin": ["band"], "cast": ["y"],
        "rename": ["s", "t"], "drop": ["y"],
    }
