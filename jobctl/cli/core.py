"""The jobctl app: global options, settings, shared option types, and the one place where errors
become one line on stderr and an exit code. It imports no command module; ``jobctl.cli`` does.

Global options (before the command) or their environment variables say where things are:
--db / JOBCTL_DB, --ledger / JOBCTL_LEDGER, --media-root / JOBCTL_MEDIA_ROOT.
Refused input prints one line on stderr and exits 2; a job that failed or was cancelled exits 1.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..actions import MAX_ID, Settings
from ..errors import JobctlError

__all__ = ["MAX_ID", "After", "JobId", "Json", "Params", "UserId", "Settings", "app", "command", "main", "settings_of"]

app = typer.Typer(
    name="jobctl", no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False, rich_markup_mode=None,
    help="Run and watch the jobs that keep a dating platform's derived data fresh.",
)


def _catalogue():
    from ..registry import load_catalogue
    return load_catalogue()


def complete_job(incomplete: str) -> list[str]:
    return [s.name for s in _catalogue().all() if s.name.startswith(incomplete)]


def complete_group(incomplete: str) -> list[str]:
    return [g for g in _catalogue().groups() if g.startswith(incomplete)]


def complete_param(incomplete: str) -> list[str]:
    names = sorted({p.name for s in _catalogue().all() for p in s.params})
    return [f"{n}=" for n in names if n.startswith(incomplete)]


@app.callback()
def _main(
    ctx: typer.Context,
    db: Annotated[Path, typer.Option("--db", envvar="JOBCTL_DB", help="The platform database.")] = Path("platform.db"),
    ledger: Annotated[Path, typer.Option("--ledger", envvar="JOBCTL_LEDGER", help="The job ledger (SQLite).")] = Path("jobctl-ledger.db"),
    media_root: Annotated[Path, typer.Option("--media-root", envvar="JOBCTL_MEDIA_ROOT", help="Where media paths point.")] = Path("media"),
    trigger: Annotated[str, typer.Option("--trigger", envvar="JOBCTL_TRIGGER", hidden=True,
                                         help="Who started this: manual or cron (crontab entries set cron).")] = "manual",
):
    """Run and watch the jobs that keep a dating platform's derived data fresh."""
    ctx.obj = Settings(db=db, ledger_path=ledger, media_root=media_root,
                       trigger=trigger if trigger in ("manual", "cron") else "manual")


def settings_of(ctx: typer.Context) -> Settings:
    return ctx.obj


Params = Annotated[Optional[list[str]], typer.Option("-p", "--param", metavar="KEY=VALUE",
                                                    help="A job parameter, parsed by its declared type (repeatable).",
                                                    autocompletion=complete_param)]
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _an_id(value: int) -> int:
    # A range check of our own: typer would print "[1<=x<=9223372036854775807]" in every help.
    if value is not None and not 1 <= value <= MAX_ID:
        raise typer.BadParameter(f"{value} is not an id (ids are whole numbers from 1)")
    return value


JobId = Annotated[int, typer.Argument(metavar="ID", help="A job id, as `jobctl history` lists them.",
                                      callback=_an_id, show_default=False)]
UserId = Annotated[int, typer.Argument(metavar="USER_ID", help="A user id.", callback=_an_id, show_default=False)]
After = Annotated[float, typer.Option("--after", metavar="SECONDS", help="Seconds without heartbeat that count as stalled.")]


# -- errors: the one conversion ------------------------------------------------------------------------

def refuse(exc: JobctlError) -> typer.Exit:
    """A JobctlError as the operator sees it: one line on stderr; returns the Exit to raise."""
    typer.echo(f"jobctl: {exc}", err=True)
    return typer.Exit(exc.exit_code)


def command(name: str | None = None, *, target: typer.Typer | None = None, **kwargs):
    """``@app.command`` (or ``target.command``) whose JobctlError becomes :func:`refuse`'s line."""

    def deco(func):
        @functools.wraps(func)
        def wrapper(*a, **kw):
            try:
                return func(*a, **kw)
            except JobctlError as exc:
                raise refuse(exc) from None

        return (target or app).command(name, **kwargs)(wrapper)

    return deco


def main() -> None:
    """Console entry point (commands registered by importing ``jobctl.cli``): a refused command line
    is one line on stderr and exit 2, Ctrl-C exits 130."""
    from typer.main import get_command
    try:
        rv = get_command(app).main(args=sys.argv[1:], prog_name="jobctl", standalone_mode=False)
    except KeyboardInterrupt:
        typer.echo("jobctl: interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("jobctl: aborted", err=True)
        sys.exit(1)
    except JobctlError as exc:  # raised outside a command (completion, the callback)
        sys.exit(refuse(exc).exit_code)
    except typer.TyperException as exc:  # the command line itself: unknown option, bad value, …
        msg = " ".join(exc.format_message().split())
        ctx = getattr(exc, "ctx", None)
        hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
        typer.echo(f"jobctl: {msg}{hint}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(rv if isinstance(rv, int) else 0)
