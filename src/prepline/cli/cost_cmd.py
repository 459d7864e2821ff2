"""`prepline cost`: what a SageMaker Processing job would cost, line by line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prepline.cli import console as out


def cost(
    request: Annotated[Path, typer.Argument(help="A CreateProcessingJob request (JSON).")],
    minutes: Annotated[
        float | None,
        typer.Option("--minutes", help="How long the job runs. Default: its StoppingCondition.MaxRuntimeInSeconds (the worst case)."),
    ] = None,
    input_gb: Annotated[
        float | None, typer.Option("--input-gb", help="GB of input data kept in S3 (priced for one month).")
    ] = None,
    output_gb: Annotated[
        float | None, typer.Option("--output-gb", help="GB of output data kept in S3 (priced for one month).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimate as JSON.")] = False,
) -> None:
    """Estimate a processing job's cost: instances x duration, its ML storage volume, S3 storage.

    Prices are approximate us-east-1 on-demand list prices (see prices.json for source and date).
    """
    from prepline.errors import JobRequestError
    from prepline.processing.cost import BYTES_PER_GB, estimate
    from prepline.processing.request import load_request

    sizes: dict[str, int | None] = {}
    for flag, value in (("--input-gb", input_gb), ("--output-gb", output_gb)):
        if value is not None and not value >= 0:  # also refuses NaN
            raise JobRequestError(f"{flag} must be 0 or more, got {value}")
        sizes[flag] = None if value is None else round(value * BYTES_PER_GB)
    body = load_request(request)
    bill = estimate(body, minutes, input_bytes=sizes["--input-gb"], output_bytes=sizes["--output-gb"])
    if as_json:
        out.print_json({"request": str(request), **bill.to_dict()})
        return

    from rich.markup import escape
    from rich.table import Table

    name = body.get("ProcessingJobName", request.name)
    table = Table(title=f"{escape(str(name))}: estimated cost ({bill.currency})", title_justify="left")
    table.add_column("item", style="bold")
    table.add_column("calculation")
    table.add_column(bill.currency, justify="right")
    for item in bill.items:
        table.add_row(item.label, escape(item.detail), f"${item.usd:,.4f}")
    table.add_section()
    table.add_row("Total", "", f"[bold]${bill.total_usd:,.4f}[/]")
    out.stdout.print(table)
    for note in bill.assumptions:
        out.stdout.print(f"- {escape(note)}", highlight=False)
