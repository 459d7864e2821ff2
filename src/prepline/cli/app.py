"""The root Typer app, the global options and the error boundary."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from prepline.cli import console as out

app = typer.Typer(
    name="prepline",
    help="Declarative preprocessing recipes, run locally or as SageMaker Processing jobs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show Python tracebacks for errors.", envvar="PREPLINE_DEBUG")
    ] = False,
) -> None:
    if debug:
        os.environ["PREPLINE_DEBUG"] = "1"


def _register() -> None:
    from prepline.cli import (
        cost_cmd,
        demo_cmd,
        diff_cmd,
        features_cmd,
        infra_cmd,
        job_cmd,
        quality_cmd,
        recipe_cmd,
        run_cmd,
        sample_cmd,
    )

    app.add_typer(recipe_cmd.app, name="recipe")
    app.add_typer(sample_cmd.app, name="sample")
    app.add_typer(job_cmd.app, name="job")
    app.add_typer(infra_cmd.app, name="infra")
    app.add_typer(features_cmd.app, name="features")
    app.command("run")(run_cmd.run)
    app.command("demo")(demo_cmd.demo)
    app.command("cost")(cost_cmd.cost)
    app.command("diff")(diff_cmd.diff)
    app.command("profile")(quality_cmd.profile)
    app.command("drift")(quality_cmd.drift)
    app.command("report")(quality_cmd.report)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; PreplineError becomes its message and exit code (a traceback only with --debug)."""
    from prepline.errors import PreplineError

    try:
        # in this mode click returns what a command's typer.Exit(code) would have exited with
        code = app(args=argv, standalone_mode=False)
        if isinstance(code, int):
            return code
    except PreplineError as err:
        if os.environ.get("PREPLINE_DEBUG") == "1":
            raise
        out.error(str(err))
        return err.exit_code
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        return int(code or 0)
    except (typer.Abort, KeyboardInterrupt):
        out.error("Aborted.")
        return 130
    except Exception as exc:  # click usage errors and the unexpected
        usage_errors = tuple(
            t for t in (getattr(typer, "TyperException", None), _click_exception()) if t is not None
        )
        if usage_errors and isinstance(exc, usage_errors) and hasattr(exc, "show"):
            exc.show()
            return int(getattr(exc, "exit_code", 2))
        if type(exc).__name__ == "Exit" and hasattr(exc, "exit_code"):
            return int(exc.exit_code)
        if os.environ.get("PREPLINE_DEBUG") == "1":
            raise
        out.error(
            f"Internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in prepline. Run again with --debug for the traceback and report it."
        )
        return 70
    return 0


def _click_exception() -> type[Exception] | None:
    try:
        import click

        return click.exceptions.ClickException
    except ImportError:  # typer may vendor click
        return None


def entrypoint() -> None:  # pragma: no cover - console script shim
    sys.exit(main())
