"""`prepline infra ...`: what the CDK app in infra/ deployed, read back from CloudFormation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prepline.cli import console as out

app = typer.Typer(
    help="The AWS resources deployed by the CDK app in infra/ (see docs/infra.md).",
    no_args_is_help=True,
)


@app.callback()
def _infra() -> None:
    """Keeps `outputs` a subcommand (`prepline infra outputs`) while it is the only one."""


@app.command("outputs")
def outputs(
    stack: Annotated[
        str,
        typer.Option(
            "--stack",
            envvar="PREPLINE_STACK",
            help="CloudFormation stack name: <prefix>-<env> as deployed from infra/.",
        ),
    ] = "prepline-prod",
    region: Annotated[
        str | None,
        typer.Option(
            "--region", help="Region of the stack (default: AWS_REGION, or the profile's region)."
        ),
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile (default: AWS_PROFILE).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (snake_case keys) for scripts.")
    ] = False,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write",
            dir_okay=False,
            help="Also save the outputs to this JSON file, for later commands and CI steps.",
        ),
    ] = None,
) -> None:
    """Bucket names, role ARNs, topic ARN and image URI of a deployed prepline stack."""
    from prepline.cloud.stack_outputs import read_stack_outputs  # pulls in boto3

    result = read_stack_outputs(stack, region=region, profile=profile)
    if write is not None:
        result.write(write)
        out.info(f"Wrote the outputs of {stack} to {write}")
    if as_json:
        out.print_json(result.to_dict())
        return

    from rich.table import Table

    table = Table(
        title=f"Stack {stack}" + (f" ({result.region})" if result.region else ""),
        title_justify="left",
    )
    table.add_column("output")
    table.add_column("value", overflow="fold")
    for key, value in result.to_dict().items():
        if key != "stack_name" and value is not None:
            table.add_row(key, value)
    out.stdout.print(table)
