"""The root `datagov` command and the one place errors become exit codes."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from datagov.cli import (
    approvals_cmd,
    audit_cmd,
    catalog_cmd,
    datasets_cmd,
    demo_cmd,
    erase_cmd,
    expectations_cmd,
    gc_cmd,
    ingest_cmd,
    init_cmd,
    lineage_cmd,
    models_cmd,
    near_cmd,
    pretrain_cmd,
    retire_cmd,
    runs_cmd,
    select_cmd,
    serve_cmd,
    shift_cmd,
    split_cmd,
    transfer_cmd,
    validate_cmd,
)
from datagov.cli.state import state


class DatagovGroup(TyperGroup):
    """Turns library errors into `Error: ...` plus the DESIGN.md exit code."""

    def invoke(self, ctx):
        from datagov.errors import DatagovError

        try:
            return super().invoke(ctx)
        except DatagovError as exc:
            if state.debug:
                raise
            typer.secho(f"Error: {exc.message}", err=True, fg="red")
            if exc.hint:
                typer.echo(f"  hint: {exc.hint}", err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            if state.debug:
                raise
            typer.echo("Error: interrupted", err=True)
            raise typer.Exit(130) from None
        finally:
            _release_read_leases()


def _release_read_leases() -> None:
    """A command's reads end with it (a process that runs many, as the tests do, holds none between them)."""
    import sys

    leases = sys.modules.get("datagov.store.leases")
    if leases is not None:
        leases.release_read_leases()


app = typer.Typer(
    cls=DatagovGroup,
    name="datagov",
    help="Governed pretraining data: catalog, check, gate and trace what models are trained on.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain text: `datagov[spark]` must print as written
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from datagov import __version__

        typer.echo(f"datagov {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    workspace: str = typer.Option(
        None,
        "--workspace",
        "-w",
        envvar="DATAGOV_HOME",
        metavar="DIR",
        help="Workspace folder (default: the nearest folder with datagov.toml, from here upward).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    state.workspace = workspace
    state.debug = debug


init_cmd.register(app)
ingest_cmd.register(app)
split_cmd.register(app)
select_cmd.register(app)
lineage_cmd.register(app)
validate_cmd.register(app)
pretrain_cmd.register(app)
transfer_cmd.register(app)
runs_cmd.register(app)
shift_cmd.register(app)
near_cmd.register(app)
demo_cmd.register(app)
audit_cmd.register(app)
models_cmd.register(app)
gc_cmd.register(app)
erase_cmd.register(app)
serve_cmd.register(app)
retire_cmd.register(datasets_cmd.app, validate_cmd.validations, expectations_cmd.app, models_cmd.app)
app.add_typer(datasets_cmd.app, name="datasets")
app.add_typer(expectations_cmd.app, name="expectations")
app.add_typer(approvals_cmd.app, name="approvals")
app.add_typer(catalog_cmd.app, name="catalog")


def main() -> None:
    from datagov.noise import quiet_known_warnings

    quiet_known_warnings()
    app()
