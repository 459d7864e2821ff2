"""Follow the columns and their types through a recipe's steps, without data.

This is what lets ``prepline recipe validate`` say "step 5 (derive) reads
column 'adress', which does not exist there; did you mean 'address'?" before
any data is read, and what the engines use to know each step's schema.
"""

from __future__ import annotations

from prepline.errors import RecipeError, closest
from prepline.recipe import model as m
from prepline.recipe.expressions import (
    ExpressionError,
    check_types,
    columns_used,
    infer_type,
    parse_expression,
)
from prepline.recipe.types import NUMERIC

Schema = dict[str, str]

# Types whose text is the same on every engine, so a hash of it (split keys) or a folder named
# after it (partitions) or a stratum is too; float text differs in the last digits between engines.
TEXT_STABLE = frozenset({"string", "int64", "int32", "date", "bool"})
SPLIT_KEY_TYPES = frozenset({"string", "int64", "int32", "date"})


_EXPRESSION_HINT = (
    "convert a column with a cast step before this one; the README's recipe reference lists the operators and functions"
)


def input_schema(recipe: m.Recipe) -> Schema:
    return {name: spec.type for name, spec in recipe.input.column_specs().items()}


def trace_flow(recipe: m.Recipe) -> list[Schema]:
    """The schema before each step, then the final one (``len(steps) + 1`` entries)."""
    schema = input_schema(recipe)
    schemas = [dict(schema)]
    for index, step in enumerate(recipe.steps):
        schema = _apply(recipe, index, step, dict(schema))
        schemas.append(dict(schema))
    return schemas


def _fail(recipe: m.Recipe, index: int, message: str, hint: str | None = None, at: tuple[str, ...] = ()) -> RecipeError:
    return RecipeError(f"{recipe.describe_step(index, *at)}: {message}", hint=hint)


def _need(recipe: m.Recipe, index: int, schema: Schema, columns: list[str], role: str = "uses",
          at: tuple[str, ...] = ()) -> None:
    for name in columns:
        if name not in schema:
            guess = closest(name, list(schema))
            tip = f"did you mean {guess!r}? " if guess else ""
            raise _fail(
                recipe,
                index,
                f"{role} column {name!r}, which does not exist at this point of the recipe",
                hint=f"{tip}columns here: {', '.join(schema)}",
                at=at,
            )


def _apply(recipe: m.Recipe, index: int, step: object, schema: Schema) -> Schema:
    if isinstance(step, m.CheckStep):
        for rule in step.check:
            if rule.rule == "column_present":
                continue  # about the data, checked when it is read
            _need(recipe, index, schema, rule.key_columns(), role=f"checks ({rule.rule})")
            column = rule.column
            if rule.rule == "between" and column and schema[column] not in NUMERIC:
                raise _fail(recipe, index, f"rule between needs a number but {column!r} is {schema[column]}")
            if rule.rule in ("matches", "type") and column and schema[column] != "string":
                raise _fail(recipe, index, f"rule {rule.rule} applies to text but {column!r} is {schema[column]}")
        return schema
    if isinstance(step, m.FillStep):
        _need(recipe, index, schema, list(step.fill))
        for column, spec in step.fill.items():
            kind = schema[column]
            if spec in ("median", "mean") and kind not in NUMERIC:
                raise _fail(recipe, index, f"cannot fill {column!r} with its {spec}: it is {kind}, not a number",
                            hint="use mode or a constant {value: ...} for text columns")
            if isinstance(spec, m.FillConstant):
                _check_constant(recipe, index, column, kind, spec.value)
            if spec == "mean" and kind in ("int64", "int32"):
                schema[column] = "float64"
        return schema
    if isinstance(step, m.ExtractJsonStep):
        spec = step.extract_json
        _need(recipe, index, schema, [spec.column])
        if schema[spec.column] != "string":
            raise _fail(recipe, index, f"column {spec.column!r} is {schema[spec.column]}; JSON is read from text columns",
                        hint=f"declare {spec.column!r} as string in input.columns, or cast it to string first")
        if spec.drop_source:
            del schema[spec.column]
        for name, field in spec.field_specs().items():
            schema[name] = field.type
        return schema
    if isinstance(step, m.DeriveStep):
        new = dict(schema)
        for name, text in step.derive.items():
            expr = parse_expression(text)
            _need(recipe, index, schema, columns_used(expr), role=f"derives {name!r} from", at=(name,))
            try:
                check_types(expr, schema, text)
            except ExpressionError as exc:
                raise _fail(recipe, index, str(exc), hint=_EXPRESSION_HINT, at=(name,)) from None
            new[name] = infer_type(expr, schema)
        return new
    if isinstance(step, m.BinStep):
        spec = step.bin
        _need(recipe, index, schema, [spec.column])
        if schema[spec.column] not in NUMERIC:
            raise _fail(recipe, index, f"cannot bin {spec.column!r}: it is {schema[spec.column]}, not a number",
                        hint="add a cast step before the bin step")
        if spec.include_lowest and not spec.right:
            raise _fail(recipe, index, "include_lowest applies to right-closed bins only",
                        hint="remove include_lowest or set right: true")
        schema[spec.into or spec.column] = "string"
        return schema
    if isinstance(step, m.DropStep):
        _need(recipe, index, schema, step.drop, role="drops")
        return {k: v for k, v in schema.items() if k not in step.drop}
    if isinstance(step, m.RenameStep):
        _need(recipe, index, schema, list(step.rename), role="renames")
        renamed = {step.rename.get(k, k): v for k, v in schema.items()}
        if len(renamed) != len(schema):
            raise _fail(recipe, index, "renaming would give two columns the same name",
                        hint="drop or rename the existing column first")
        return renamed
    if isinstance(step, m.CastStep):
        _need(recipe, index, schema, list(step.cast), role="casts")
        for column, cast in step.specs().items():
            schema[column] = cast.to
        return schema
    if isinstance(step, m.FilterStep):
        text = step.spec().where
        expr = parse_expression(text)
        _need(recipe, index, schema, columns_used(expr), role="filters on")
        try:
            check_types(expr, schema, text)
        except ExpressionError as exc:
            raise _fail(recipe, index, str(exc), hint=_EXPRESSION_HINT) from None
        if infer_type(expr, schema) != "bool":
            raise _fail(recipe, index, f"the filter {text!r} is not a condition (true/false)",
                        hint="compare something, e.g. 'age >= 18'")
        return schema
    if isinstance(step, m.DedupeStep):
        if step.dedupe.columns:
            _need(recipe, index, schema, step.dedupe.columns, role="de-duplicates on")
        return schema
    if isinstance(step, m.OutputStep):
        spec = step.spec()
        if spec.columns:
            _need(recipe, index, schema, spec.columns, role="writes")
        _check_writes(recipe, index, spec, spec.columns or list(schema), schema)
        return schema
    if isinstance(step, m.SplitStep):
        _check_split(recipe, index, step.split, schema)
        return schema
    if isinstance(step, m.AggregateStep):
        spec = step.aggregate
        _need(recipe, index, schema, list(spec.keys().values()), role="groups by")
        for out_name, (func, column) in spec.aggregations().items():
            if column == "*":
                if func != "count":
                    raise _fail(recipe, index, f"{out_name!r}: only count accepts '*'",
                                hint=f"name a column, e.g. {{{func}: salary}}, or count rows with {{count: '*'}}")
                continue
            _need(recipe, index, schema, [column], role=f"aggregates {out_name!r} from")
            if func in ("mean", "sum", "median") and schema[column] not in NUMERIC:
                raise _fail(recipe, index, f"{out_name!r}: {func} needs a number but {column!r} is {schema[column]}",
                            hint="count, min and max work on any column; cast text to a number first for the others")
        written = aggregate_schema(spec, schema)
        _check_writes(recipe, index, spec, list(written), written)
        return schema
    raise TypeError(f"unknown step {step!r}")  # pragma: no cover


def _check_split(recipe: m.Recipe, index: int, spec: m.Split, schema: Schema) -> None:
    keys = spec.key_columns()
    _need(recipe, index, schema, keys, role="splits by", at=("by",))
    for column in keys:
        if schema[column] not in SPLIT_KEY_TYPES:
            raise _fail(recipe, index, f"the split key {column!r} is {schema[column]}; a key is hashed as its text, "
                        "which must be the same on every engine (text, integers or dates)",
                        hint=f"split by an identifier column, or cast {column!r} to string or int64 first", at=("by",))
    if spec.stratify is not None:
        _need(recipe, index, schema, [spec.stratify], role="stratifies by", at=("stratify",))
        if schema[spec.stratify] not in TEXT_STABLE:
            raise _fail(recipe, index, f"cannot stratify by {spec.stratify!r}: it is {schema[spec.stratify]}; "
                        "strata are the column's distinct values", hint="bin the column first (a bin step) and "
                        "stratify by the bins", at=("stratify",))
    if spec.columns:
        _need(recipe, index, schema, spec.columns, role="writes", at=("columns",))
    _check_writes(recipe, index, spec, spec.columns or list(schema), schema)


def _check_writes(recipe: m.Recipe, index: int, spec: m._Writes, columns: list[str], schema: Schema) -> None:
    """An output's file options that depend on its columns (partition_by)."""
    column = spec.parquet.partition_by if spec.parquet is not None else None
    if column is None:
        return
    if column not in columns:
        guess = closest(column, columns)
        raise _fail(recipe, index, f"partition_by names {column!r}, which is not a column of this output",
                    hint=(f"did you mean {guess!r}? " if guess else "") + f"columns written: {', '.join(columns)}",
                    at=("parquet", "partition_by"))
    if schema[column] not in TEXT_STABLE:
        raise _fail(recipe, index, f"cannot partition by {column!r}: it is {schema[column]}, and a folder per "
                    "distinct float value is rarely what you want", hint="bin the column first and partition by "
                    "the bins, or cast it to int64", at=("parquet", "partition_by"))
    if len(columns) == 1:
        raise _fail(recipe, index, f"partitioning by {column!r}, the output's only column, leaves the files empty",
                    hint="write more columns, or do not partition this output", at=("parquet", "partition_by"))


def columns_written(step: object) -> list[str] | None:
    """The columns whose values a step sets (added, replaced, renamed or dropped), or None for a
    step not known here. Steps that only remove rows or write outputs set none."""
    if isinstance(step, m.CheckStep | m.FilterStep | m.DedupeStep | m.OutputStep | m.AggregateStep | m.SplitStep):
        return []
    if isinstance(step, m.FillStep):
        return list(step.fill)
    if isinstance(step, m.ExtractJsonStep):
        return [step.extract_json.column, *step.extract_json.field_specs()]
    if isinstance(step, m.DeriveStep):
        return list(step.expressions())
    if isinstance(step, m.BinStep):
        return [step.bin.into or step.bin.column]
    if isinstance(step, m.RenameStep):
        return [*step.rename, *step.rename.values()]
    if isinstance(step, m.CastStep):
        return list(step.specs())
    if isinstance(step, m.DropStep):
        return list(step.drop)
    return None


def output_schemas(recipe: m.Recipe) -> dict[str, Schema]:
    """Each named output's columns and types, as the recipe defines them (the rejected rows excepted)."""
    schemas = trace_flow(recipe)
    found: dict[str, Schema] = {}
    for step, schema in zip(recipe.steps, schemas, strict=False):
        if isinstance(step, m.OutputStep):
            spec = step.spec()
            found[spec.name] = {c: schema[c] for c in spec.columns or schema}
        elif isinstance(step, m.SplitStep):
            columns = step.split.columns or list(schema)
            for name in step.split.parts:
                found[name] = {c: schema[c] for c in columns}
        elif isinstance(step, m.AggregateStep):
            found[step.aggregate.name] = aggregate_schema(step.aggregate, schema)
    return found


def aggregate_schema(spec: m.Aggregate, schema: Schema) -> Schema:
    out = {name: schema[col] for name, col in spec.keys().items()}
    for name, (func, column) in spec.aggregations().items():
        if func == "count":
            out[name] = "int64"
        elif func in ("mean", "median"):
            out[name] = "float64"
        else:
            out[name] = schema[column]
    return out


def _check_constant(recipe: m.Recipe, index: int, column: str, kind: str, value: object) -> None:
    ok = (
        (kind == "string" and isinstance(value, str))
        or (kind in ("int64", "int32") and isinstance(value, int) and not isinstance(value, bool))
        or (kind in ("float64", "float32") and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (kind == "bool" and isinstance(value, bool))
        or (kind in ("date", "datetime") and isinstance(value, str))
    )
    if not ok:
        raise _fail(recipe, index, f"cannot fill {kind} column {column!r} with {value!r}",
                    hint=f"give a {kind} constant, or cast the column first")
