"""The recipe file's structure: one pydantic model per step kind.

A step is a one-key mapping, the key naming its kind::

    steps:
      - fill: {age: median, department: {value: Unknown}}
      - extract_json: {column: profile, fields: {address: $.address}, drop_source: true}
      - output: cleaned_data

The models check the shape and the values of each step; whether the columns a
step names exist at that point of the flow is checked by :mod:`prepline.recipe.flow`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from prepline.recipe.expressions import Expr, ExpressionError, parse_expression
from prepline.recipe.jsonpath import parse_json_path
from prepline.recipe.split import FRACTION_TOLERANCE
from prepline.recipe.types import DType

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
RESERVED_OUTPUTS = frozenset({"rejected"})


def _yaml_null_is_policy(value: Any) -> Any:
    return "null" if value is None else value  # YAML reads an unquoted `null` as None


Policy = Annotated[
    Literal["fail", "null", "reject"],
    BeforeValidator(_yaml_null_is_policy),
    WithJsonSchema({"enum": ["fail", "null", "reject", None]}),
]


class StepProblem(ValueError):
    """A recipe-level check that concerns one step: the loader reports it at that step's line."""

    def __init__(self, index: int, message: str):
        self.index = index
        super().__init__(message)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- input -----------------------------------------------------------------------------------


class ColumnSpec(_Strict):
    type: DType = Field(description="The column's type once read.")
    required: bool = Field(True, description="Fail when the column is absent (else it is added, all null).")


class CsvOptions(_Strict):
    delimiter: str = Field(",", min_length=1, max_length=1)
    quote: str = Field('"', min_length=1, max_length=1)
    has_header: bool = True
    null_values: list[str] = Field(default_factory=lambda: [""], description="Cell texts read as missing.")
    encoding: Literal["utf8", "utf8-lossy"] = Field(
        "utf8", description="utf8 refuses invalid bytes; utf8-lossy replaces them with U+FFFD."
    )


class InputSpec(_Strict):
    format: Literal["auto", "csv", "parquet", "jsonl"] = Field(
        "auto", description="auto: from the input's extension (.csv, .parquet, .jsonl/.ndjson)."
    )
    columns: dict[str, DType | ColumnSpec] = Field(description="The input schema, in file order.")
    extra_columns: Literal["keep", "drop", "error"] = Field(
        "keep", description="Columns in the data but not in `columns`: keep them as text, drop them, or fail."
    )
    on_bad_value: Policy = Field(
        "fail", description="A value that does not parse as its column's type: fail, read it as null, or reject the row."
    )
    csv: CsvOptions = Field(default_factory=CsvOptions)

    @field_validator("columns")
    @classmethod
    def _not_empty(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not value:
            raise ValueError("declare at least one column, e.g. {id: int64}")
        return value

    def column_specs(self) -> dict[str, ColumnSpec]:
        return {
            name: spec if isinstance(spec, ColumnSpec) else ColumnSpec(type=spec)
            for name, spec in self.columns.items()
        }


# --- steps -----------------------------------------------------------------------------------


class FillConstant(_Strict):
    value: str | int | float | bool = Field(description="The constant that replaces missing values.")


FillSpec = Literal["median", "mean", "mode"] | FillConstant


class FillStep(_Strict):
    """Replace missing values, per column: a statistic of the column at this point, or a constant."""

    fill: dict[str, FillSpec] = Field(min_length=1)


class JsonField(_Strict):
    path: str
    type: DType = "string"


class ExtractJson(_Strict):
    column: str
    fields: dict[str, str | JsonField] = Field(min_length=1, description="New column -> JSON path.")
    drop_source: bool = False
    on_invalid: Policy = Field(
        "fail",
        description="A value that is not a JSON object (or a field of the wrong shape): fail, null its fields, or reject the row.",
    )

    @field_validator("fields")
    @classmethod
    def _paths(cls, value: dict[str, str | JsonField]) -> dict[str, str | JsonField]:
        for name, spec in value.items():
            path = spec if isinstance(spec, str) else spec.path
            try:
                parse_json_path(path)
            except ValueError as exc:
                raise ValueError(f"field {name!r}: {exc}") from None
        return value

    def field_specs(self) -> dict[str, JsonField]:
        return {n: s if isinstance(s, JsonField) else JsonField(path=s) for n, s in self.fields.items()}


class ExtractJsonStep(_Strict):
    """Extract fields of a JSON-object text column into new columns (each value parsed once)."""

    extract_json: ExtractJson


def _check_expression(text: str) -> str:
    try:
        parse_expression(text)
    except ExpressionError as exc:
        raise ValueError(str(exc)) from None
    return text


ExpressionText = Annotated[str, AfterValidator(_check_expression)]


class DeriveStep(_Strict):
    """New or replaced columns computed by expressions, e.g. ``address_length: coalesce(len(address), 0)``."""

    derive: dict[str, ExpressionText] = Field(min_length=1)

    def expressions(self) -> dict[str, Expr]:
        return {name: parse_expression(text) for name, text in self.derive.items()}


class Bin(_Strict):
    column: str
    into: str | None = Field(None, description="The new column (default: replace `column`).")
    edges: list[float] = Field(min_length=2, description="Increasing bin edges; .inf and -.inf allowed.")
    labels: list[str] | None = Field(None, description="One per bin (default: interval text like '(0, 50000]').")
    right: bool = Field(True, description="Intervals closed on the right: (a, b]. False gives [a, b).")
    include_lowest: bool = Field(False, description="Close the first interval on the left too (right=True only).")

    @model_validator(mode="after")
    def _consistent(self) -> Bin:
        if any(math.isnan(e) for e in self.edges):
            raise ValueError("edges must be numbers, not NaN")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError(f"edges must increase strictly, got {self.edges}")
        if self.labels is not None and len(self.labels) != len(self.edges) - 1:
            raise ValueError(
                f"{len(self.edges)} edges make {len(self.edges) - 1} bins but {len(self.labels)} labels are given"
            )
        if self.labels is not None and len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must be distinct")
        return self

    def bin_labels(self) -> list[str]:
        if self.labels is not None:
            return list(self.labels)
        out = []
        for i, (lo, hi) in enumerate(zip(self.edges, self.edges[1:], strict=False)):
            left = "[" if (not self.right or (self.include_lowest and i == 0)) else "("
            right = "]" if self.right else ")"
            out.append(f"{left}{_num(lo)}, {_num(hi)}{right}")
        return out


def _num(x: float) -> str:
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return str(int(x)) if x == int(x) else repr(x)


class BinStep(_Strict):
    """Put a numeric column's values into labelled intervals; values outside every bin become null."""

    bin: Bin


class DropStep(_Strict):
    drop: list[str] = Field(min_length=1)


class RenameStep(_Strict):
    rename: dict[str, str] = Field(min_length=1)


class CastSpec(_Strict):
    to: DType
    on_error: Policy = "fail"


class CastStep(_Strict):
    """Convert columns to other types; values that do not convert follow `on_error`."""

    cast: dict[str, DType | CastSpec] = Field(min_length=1)

    def specs(self) -> dict[str, CastSpec]:
        return {c: s if isinstance(s, CastSpec) else CastSpec(to=s) for c, s in self.cast.items()}


class Filter(_Strict):
    where: str = Field(description="Keep the rows where this expression is true (null counts as false).")
    reject: bool = Field(False, description="Send the other rows to the rejected output instead of dropping them.")

    @field_validator("where")
    @classmethod
    def _expr(cls, value: str) -> str:
        return _check_expression(value)


class FilterStep(_Strict):
    filter: str | Filter

    def spec(self) -> Filter:
        return self.filter if isinstance(self.filter, Filter) else Filter(where=self.filter)


class Dedupe(_Strict):
    columns: list[str] | None = Field(None, description="Key columns (default: all columns).")
    keep: Literal["first", "last"] = "first"


class DedupeStep(_Strict):
    dedupe: Dedupe


# --- how outputs are written ------------------------------------------------------------------

OutputFormat = Literal["csv", "parquet"]
ParquetCodec = Literal["zstd", "snappy", "gzip", "lz4", "brotli", "uncompressed"]
CODEC_LEVELS: dict[str, tuple[int, int]] = {"zstd": (1, 22), "gzip": (0, 9), "brotli": (0, 11)}


class CsvWrite(_Strict):
    """How CSV outputs are written."""

    neutralize_formulas: bool = Field(
        True,
        description="Prefix ' to text cells that start with =, +, -, @, a tab or a carriage return, so a "
        "spreadsheet shows them as text instead of running them as formulas (OWASP: CSV injection). Text that "
        "is a plain number (-5, +3.2) and typed columns are left as they are.",
    )


class ParquetWrite(_Strict):
    """How Parquet outputs are written."""

    compression: ParquetCodec = "zstd"
    compression_level: int | None = Field(
        None, description="zstd 1-22, gzip 0-9, brotli 0-11 (default: the codec's own)."
    )
    row_group_size: int | None = Field(None, ge=1, description="Rows per row group (default: the engine's).")
    partition_by: str | None = Field(
        None,
        description="Write a folder <output>/ with one subfolder <column>=<value>/ per value (hive-style); "
        "the column is in the folder names, not in the files. Per output only.",
    )

    @model_validator(mode="after")
    def _level_fits_codec(self) -> ParquetWrite:
        if self.compression_level is None:
            return self
        if self.compression not in CODEC_LEVELS:
            raise ValueError(f"{self.compression} has no compression levels; remove compression_level "
                             f"or use one of: {', '.join(CODEC_LEVELS)}")
        low, high = CODEC_LEVELS[self.compression]
        if not low <= self.compression_level <= high:
            raise ValueError(f"{self.compression} levels go from {low} to {high}, got {self.compression_level}")
        return self


class OutputDefaults(_Strict):
    """Options of every output, unless an output step sets its own (key by key)."""

    csv: CsvWrite = Field(default_factory=CsvWrite)
    parquet: ParquetWrite = Field(default_factory=ParquetWrite)

    @field_validator("parquet")
    @classmethod
    def _no_default_partitioning(cls, value: ParquetWrite) -> ParquetWrite:
        if value.partition_by is not None:
            raise ValueError("partition_by is set per output (in its parquet options), not for every output")
        return value


class _Writes(_Strict):
    """The options an output step may set about its files."""

    format: OutputFormat | None = Field(None, description="csv or parquet (default: the run's --format).")
    csv: CsvWrite | None = Field(None, description="CSV options, over the recipe's `outputs.csv`.")
    parquet: ParquetWrite | None = Field(None, description="Parquet options, over the recipe's `outputs.parquet`.")

    @model_validator(mode="after")
    def _options_match_format(self) -> _Writes:
        if self.format == "csv" and self.parquet is not None:
            raise ValueError("parquet options on a csv output have no effect; remove them or set format: parquet")
        if self.format == "parquet" and self.csv is not None:
            raise ValueError("csv options on a parquet output have no effect; remove them or set format: csv")
        if self.parquet is not None and self.parquet.partition_by is not None and self.format != "parquet":
            raise ValueError("partition_by writes a folder of Parquet files: set format: parquet on this output "
                             "(the run's --format may be csv)")
        return self


@dataclass(frozen=True)
class WriteSpec:
    """How one output is written, once the run's format and the recipe's defaults are applied."""

    format: OutputFormat
    csv: CsvWrite
    parquet: ParquetWrite

    @property
    def partition_by(self) -> str | None:
        return self.parquet.partition_by if self.format == "parquet" else None

    @property
    def neutralize(self) -> bool:
        return self.format == "csv" and self.csv.neutralize_formulas


def _over(default: _Strict, own: _Strict | None) -> Any:
    """``default`` with the keys ``own`` sets explicitly."""
    if own is None:
        return default
    return default.model_copy(update={key: getattr(own, key) for key in own.model_fields_set})


class Output(_Writes):
    name: str = Field(pattern=NAME_PATTERN)
    columns: list[str] | None = Field(None, description="Columns to write, in order (default: all).")


class OutputStep(_Strict):
    """Write the data as it is at this point of the flow under a name (file `<name>.csv` or `.parquet`)."""

    output: Annotated[str, Field(pattern=NAME_PATTERN)] | Output

    def spec(self) -> Output:
        return self.output if isinstance(self.output, Output) else Output(name=self.output)


AggFunction = Literal["mean", "sum", "count", "min", "max", "median"]


class Aggregate(_Writes):
    name: str = Field(pattern=NAME_PATTERN)
    by: list[str] | dict[str, str] = Field(
        min_length=1, description="Group keys; a mapping renames them (output name -> column)."
    )
    values: dict[str, dict[AggFunction, str]] = Field(
        min_length=1, description="Output column -> {function: column}; count takes '*' for rows."
    )

    @field_validator("values")
    @classmethod
    def _one_function(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for out_name, spec in value.items():
            if len(spec) != 1:
                raise ValueError(f"{out_name!r}: give exactly one function, e.g. {{mean: salary}}")
        return value

    def keys(self) -> dict[str, str]:
        return dict(self.by) if isinstance(self.by, dict) else {k: k for k in self.by}

    def aggregations(self) -> dict[str, tuple[str, str]]:
        return {name: next(iter(spec.items())) for name, spec in self.values.items()}


class AggregateStep(_Strict):
    """A grouped summary written as its own output, sorted by the keys; the flow continues unchanged."""

    aggregate: Aggregate


class Split(_Writes):
    by: str | list[str] = Field(
        description="The key column(s): a hash of the key's text picks each row's part, so a row keeps its "
        "part on every run, on every engine and when rows are appended."
    )
    parts: dict[str, float] = Field(
        description="Part name -> fraction of the rows, e.g. {train: 0.8, validation: 0.1, test: 0.1}; "
        "each part is an output; the fractions add up to 1."
    )
    stratify: str | None = Field(
        None,
        description="A column whose values' fractions are recorded per part in the manifest (and flagged "
        "when a value's rows are too few to split as asked); rows are still assigned by their key alone.",
    )
    columns: list[str] | None = Field(None, description="Columns to write, in order (default: all).")

    @field_validator("by")
    @classmethod
    def _some_key(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list) and (not value or len(set(value)) != len(value)):
            raise ValueError("give one key column, or a list of distinct columns")
        return value

    @field_validator("parts")
    @classmethod
    def _fractions(cls, value: dict[str, float]) -> dict[str, float]:
        if len(value) < 2:
            raise ValueError("a split needs at least two parts, e.g. {train: 0.8, test: 0.2}")
        for name, fraction in value.items():
            if not is_valid_name(name):
                raise ValueError(f"part name {name!r} is not a valid output name (letters, digits, _ . -)")
            if not (isinstance(fraction, (int, float)) and 0 < fraction <= 1):
                raise ValueError(f"part {name!r}: a fraction is a number in (0, 1], got {fraction!r}")
        total = math.fsum(value.values())
        if abs(total - 1) > FRACTION_TOLERANCE:
            raise ValueError(f"the fractions add up to {total:g}; they must add up to 1 "
                             f"(within {FRACTION_TOLERANCE:g})")
        return value

    def key_columns(self) -> list[str]:
        return [self.by] if isinstance(self.by, str) else list(self.by)


class SplitStep(_Strict):
    """Cut the rows into named parts (train/validation/test ...) by a stable hash of a key; each part is an output.

    The flow continues with every row.
    """

    split: Split


RuleKind = Literal[
    "not_null", "unique", "between", "in_set", "matches", "type", "row_count", "column_present", "max_missing"
]
ROW_RULES = frozenset({"not_null", "unique", "between", "in_set", "matches", "type"})


class Rule(_Strict):
    """A data-quality rule checked where the `check` step stands in the flow.

    ``error`` fails the run (nothing is published), ``warn`` is reported, ``reject`` sends the
    offending rows to the rejected output with the rule as the reason. Row rules pass when at
    least ``mostly`` of the checked (non-null) values pass, as in Great Expectations.
    """

    rule: RuleKind
    column: str | None = None
    columns: list[str] | None = Field(None, description="unique: a compound key.")
    min: float | None = None
    max: float | None = None
    values: list[str | int | float | bool] | None = Field(None, description="in_set: the allowed values.")
    regex: str | None = Field(None, description="matches: a regular expression the text must match.")
    type: DType | None = Field(None, description="type: the type every text value must parse as.")
    fraction: float | None = Field(None, ge=0, le=1, description="max_missing: the largest allowed missing share.")
    mostly: float = Field(1.0, gt=0, le=1, description="Row rules: the share of values that must pass.")
    severity: Literal["error", "warn", "reject"] = "error"

    @model_validator(mode="after")
    def _fields_for_kind(self) -> Rule:
        need = {
            "not_null": ["column"], "between": ["column"], "in_set": ["column", "values"],
            "matches": ["column", "regex"], "type": ["column", "type"], "column_present": ["column"],
            "max_missing": ["column", "fraction"], "row_count": [], "unique": [],
        }[self.rule]
        missing = [f for f in need if getattr(self, f) is None]
        if missing:
            raise ValueError(f"rule {self.rule} needs {', '.join(missing)}")
        if self.rule == "unique" and not (self.column or self.columns):
            raise ValueError("rule unique needs column or columns")
        if self.rule in ("between", "row_count") and self.min is None and self.max is None:
            raise ValueError(f"rule {self.rule} needs min, max or both")
        if self.severity == "reject" and self.rule not in ROW_RULES:
            raise ValueError(f"rule {self.rule} is about the whole data set; it can be error or warn, not reject")
        if self.regex is not None:
            try:
                re.compile(self.regex)
            except re.error as exc:
                raise ValueError(f"regex {self.regex!r} is invalid: {exc}") from None
        return self

    def key_columns(self) -> list[str]:
        return list(self.columns) if self.columns else ([self.column] if self.column else [])

    def describe(self) -> str:
        target = ", ".join(self.key_columns())
        detail = {
            "between": f" in [{_num(self.min) if self.min is not None else '-inf'}, {_num(self.max) if self.max is not None else 'inf'}]",
            "in_set": f" in {self.values}",
            "matches": f" ~ /{self.regex}/",
            "type": f" is {self.type}",
            "row_count": f" in [{_num(self.min) if self.min is not None else 0}, {_num(self.max) if self.max is not None else 'inf'}]",
            "max_missing": f" missing <= {self.fraction}",
        }.get(self.rule, "")
        return f"{self.rule}({target}){detail}"


class CheckStep(_Strict):
    """Data-quality rules on the data as it is at this point (first step: the input)."""

    check: list[Rule] = Field(min_length=1)


STEP_MODELS: dict[str, type[BaseModel]] = {
    "check": CheckStep,
    "fill": FillStep,
    "extract_json": ExtractJsonStep,
    "derive": DeriveStep,
    "bin": BinStep,
    "drop": DropStep,
    "rename": RenameStep,
    "cast": CastStep,
    "filter": FilterStep,
    "dedupe": DedupeStep,
    "output": OutputStep,
    "aggregate": AggregateStep,
    "split": SplitStep,
}


def step_kind(value: Any) -> str | None:
    if isinstance(value, BaseModel):
        return next(iter(type(value).model_fields))
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return key if key in STEP_MODELS else None
    return None


Step = Annotated[
    Annotated[CheckStep, Tag("check")]
    | Annotated[FillStep, Tag("fill")]
    | Annotated[ExtractJsonStep, Tag("extract_json")]
    | Annotated[DeriveStep, Tag("derive")]
    | Annotated[BinStep, Tag("bin")]
    | Annotated[DropStep, Tag("drop")]
    | Annotated[RenameStep, Tag("rename")]
    | Annotated[CastStep, Tag("cast")]
    | Annotated[FilterStep, Tag("filter")]
    | Annotated[DedupeStep, Tag("dedupe")]
    | Annotated[OutputStep, Tag("output")]
    | Annotated[AggregateStep, Tag("aggregate")]
    | Annotated[SplitStep, Tag("split")],
    Discriminator(step_kind),
]


class ReportSpec(_Strict):
    """Profiles, drift and the HTML report every run writes next to its outputs."""

    enabled: bool = Field(True, description="Write profile.json and report.html with the outputs.")
    profile_rows: int | None = Field(
        100_000, ge=1, description="Profile the first N rows of each file (null: every row; slower on big data)."
    )
    baseline: str | None = Field(None, description="A profile, run folder or data file the input is compared with.")
    on_drift: Literal["warn", "fail"] = "warn"
    drift_share: float = Field(0.5, gt=0, le=1, description="The data set drifts when this share of columns drift.")


class Recipe(_Strict):
    """A preprocessing recipe: how to read the input, then the steps, in order."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"$comment": "prepline recipe; see the README's recipe reference"},
    )

    version: Literal[1] = Field(1, description="The recipe format version.")
    name: str = Field(pattern=NAME_PATTERN)
    description: str = ""
    input: InputSpec
    steps: list[Step] = Field(min_length=1)
    outputs: OutputDefaults = Field(default_factory=OutputDefaults)
    report: ReportSpec = Field(default_factory=ReportSpec)

    _source: str = PrivateAttr(default="<recipe>")
    _lines: dict[tuple[Any, ...], int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _unique_outputs(self) -> Recipe:
        seen: set[str] = set()
        for index, step in enumerate(self.steps):
            for name in _output_names(step):
                if name in RESERVED_OUTPUTS:
                    raise StepProblem(index, f"output name {name!r} is reserved for rows the recipe rejects; choose another")
                if name in seen:
                    raise StepProblem(index, f"two outputs are named {name!r}; output names must be unique, rename this one")
                seen.add(name)
        if not seen:
            raise ValueError("the recipe writes nothing: add an `output`, `aggregate` or `split` step")
        return self

    # where things are in the file, for error messages
    @property
    def source(self) -> str:
        return self._source

    def line_of(self, *path: Any) -> int | None:
        """The 1-based line of a location in the YAML (the nearest enclosing one that is known)."""
        key = tuple(path)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key[:-1]
        return None

    def describe_step(self, index: int, *inner: Any) -> str:
        """``file:line: step N (kind)``; ``inner`` (keys inside the step) narrows the line."""
        kind = step_kind(self.steps[index])
        line = self.line_of("steps", index, kind, *inner) if inner else self.line_of("steps", index)
        where = f"{self._source}:{line}" if line else self._source
        return f"{where}: step {index + 1} ({kind})"

    def output_names(self) -> list[str]:
        return [name for step in self.steps for name in _output_names(step)]

    @staticmethod
    def output_names_of(step: Any) -> list[str]:
        return _output_names(step)

    def write_spec(self, name: str, run_format: OutputFormat) -> WriteSpec:
        """How output ``name`` is written (the rejected rows: by the recipe's defaults)."""
        own: _Writes | None = None
        for step in self.steps:
            if name in _output_names(step):
                own = _writes(step)
        fmt = (own.format if own is not None else None) or run_format
        return WriteSpec(
            format=fmt,
            csv=_over(self.outputs.csv, own.csv if own is not None else None),
            parquet=_over(self.outputs.parquet, own.parquet if own is not None else None),
        )

    def rejects_rows(self) -> bool:
        if self.input.on_bad_value == "reject":
            return True
        if any(isinstance(s, CheckStep) and any(r.severity == "reject" for r in s.check) for s in self.steps):
            return True
        for step in self.steps:
            if isinstance(step, ExtractJsonStep) and step.extract_json.on_invalid == "reject":
                return True
            if isinstance(step, CastStep) and any(s.on_error == "reject" for s in step.specs().values()):
                return True
            if isinstance(step, FilterStep) and step.spec().reject:
                return True
        return False


def _output_names(step: Any) -> list[str]:
    if isinstance(step, OutputStep):
        return [step.spec().name]
    if isinstance(step, AggregateStep):
        return [step.aggregate.name]
    if isinstance(step, SplitStep):
        return list(step.split.parts)
    return []


def _writes(step: Any) -> _Writes | None:
    if isinstance(step, OutputStep):
        return step.spec()
    if isinstance(step, AggregateStep):
        return step.aggregate
    if isinstance(step, SplitStep):
        return step.split
    return None


def is_valid_name(name: str) -> bool:
    return re.match(NAME_PATTERN, name) is not None
