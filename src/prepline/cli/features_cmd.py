"""`prepline features ...`: hand an output to SageMaker Feature Store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prepline.cli import console as out

if TYPE_CHECKING:
    from prepline.features.ingest import FeatureStoreIngestor

app = typer.Typer(help="Hand outputs to SageMaker Feature Store.", no_args_is_help=True)


@app.callback()
def _features() -> None:
    """Hand outputs to SageMaker Feature Store (feature groups, PutRecord)."""


def _ingestor(workers: int) -> FeatureStoreIngestor:
    """The ingestor the command uses (tests replace this with one on stubbed clients)."""
    from prepline.features.ingest import FeatureStoreIngestor

    return FeatureStoreIngestor(workers=workers)


@app.command("ingest")
def ingest(
    output: Annotated[str, typer.Argument(help="A data file (CSV, Parquet) or a prepline output folder or s3:// prefix.")],
    feature_group: Annotated[str, typer.Option("--feature-group", "-g", help="The feature group's name.")],
    record_id: Annotated[str, typer.Option("--record-id", help="The column that identifies a record.")],
    event_time: Annotated[str, typer.Option("--event-time", help="The column with each record's event time.")],
    output_name: Annotated[str, typer.Option("--output-name", help="Which output of a prepline output folder.")] = "transformed_data",
    add_event_time: Annotated[bool, typer.Option("--add-event-time", help="Add the --event-time column, set to now (UTC), when the data has none.")] = False,
    role: Annotated[str | None, typer.Option("--role", help="Role Feature Store assumes to write the offline store (needed with --offline-store).")] = None,
    offline_store: Annotated[str | None, typer.Option("--offline-store", help="s3:// URI of the offline store, for a new group.")] = None,
    online: Annotated[bool, typer.Option("--online/--no-online", help="Give a new group an online store.")] = True,
    create: Annotated[bool, typer.Option("--create/--no-create", help="Create the group when it does not exist.")] = True,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Rows read and sent per batch.")] = 500,
    max_attempts: Annotated[int, typer.Option("--max-attempts", min=1, help="Tries per record when throttled or on 5xx.")] = 5,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Concurrent PutRecord calls.")] = 8,
    failed_output: Annotated[Path | None, typer.Option("--failed-output", help="Where failed records go, with their error (default ./<group>-failed.jsonl).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Create or check feature group --feature-group from OUTPUT's schema, then put every row into it.

    Exit 0 when every record was written, 1 when some failed (kept in --failed-output), 2 when nothing could be done.
    """
    from prepline.features.definitions import add_event_time as stamp
    from prepline.features.definitions import derive_definitions
    from prepline.features.source import read_output

    frame, source = read_output(output, output_name)
    if add_event_time:
        frame = stamp(frame, event_time)
    schema = derive_definitions(frame.schema, record_id, event_time)
    if not as_json:
        out.info(f"{source}: {frame.height:,} rows, {len(schema.definitions)} features")
        for note in schema.conversions:
            out.info(f"  {note}")

    ingestor = _ingestor(workers)
    with out.stderr.status(f"checking feature group {feature_group} ...", spinner="dots"):
        group = ingestor.ensure_group(
            feature_group, schema.definitions, record_id, event_time,
            role_arn=role, offline_s3_uri=offline_store, online=online, create=create,
        )
    if not as_json:
        verb = "created" if group.created else "found"
        out.info(f"feature group {feature_group}: {verb} ({group.status})")
        if group.extra_features:
            out.warn(f"the group's features {', '.join(group.extra_features)} are not in the data: left unset")

    target = failed_output or Path(f"{feature_group}-failed.jsonl")
    with record_progress(f"ingesting into {feature_group}", frame.height, enabled=not as_json) as advance:
        result = ingestor.ingest(
            frame, feature_group, schema=schema, batch_size=batch_size,
            max_attempts=max_attempts, failed_output=target, on_progress=advance,
        )

    if as_json:
        out.print_json({
            **result.as_dict(),
            "source": source,
            "group": group.as_dict(),
            "conversions": list(schema.conversions),
        })
    else:
        _print_result(result.as_dict())
    if result.failed:
        raise SystemExit(1)


def _print_result(result: dict[str, Any]) -> None:
    line = f"{result['feature_group']}: {result['written']:,} of {result['records']:,} records written"
    if result["failed"]:
        out.stdout.print(f"{line}, [bold red]{result['failed']:,} failed[/] (see {result['failed_output']})", highlight=False)
    else:
        out.stdout.print(f"{line}, 0 failed ({result['seconds']:.1f} s)", highlight=False)


@contextmanager
def record_progress(label: str, total: int, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """A records bar on stderr, only when it is a terminal."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    if not enabled or not out.stderr.is_terminal or total <= 0:
        yield lambda n: None
        return
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=out.stderr, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)
