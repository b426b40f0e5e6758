"""`schedule show|install|uninstall|check`: the recommended schedule as crontab entries.

`jobctl schedule check` exits 0 when the crontab matches the schedule and every slot of the last
--days ran and succeeded, 1 when it finds a problem (an entry missing or different in the crontab,
a missed slot, a failed, cancelled or stalled cron run, an overlap), 2 when it cannot check.
"""

from __future__ import annotations

import functools
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from ..actions import Settings
from ..errors import UsageError
from ..timeutil import fmt_ts, parse_ts, utcnow
from .core import Json, app, command, settings_of
from .render import STATUS_STYLE, emit_json, escape, stderr, stdout

if TYPE_CHECKING:  # imported where used: the schedule modules are not needed to start jobctl
    from .. import schedule as sched

schedule_app = typer.Typer(no_args_is_help=True, help="The recommended schedule as crontab entries: show, install, "
                                                     "uninstall, check.")
app.add_typer(schedule_app, name="schedule", help="The recommended schedule as crontab entries: show, install, "
                                                  "uninstall, check.")

CrontabFile = Annotated[Optional[Path], typer.Option(
    "--crontab-file", help="Work on this crontab file instead of the user's crontab (`crontab -l`).")]
Config = Annotated[Optional[Path], typer.Option(
    "--config", envvar="JOBCTL_SCHEDULE",
    help="The schedule (TOML); default ./jobctl-schedule.toml if present, else the built-in one.")]


def _load(config: Path | None) -> sched.Schedule:
    from .. import schedule as sched
    return sched.load_schedule(config)


def _paths(settings: Settings, schedule: sched.Schedule) -> sched.Paths:
    from .. import schedule as sched
    return sched.Paths.from_settings(settings, schedule)


def _isoz(obj):
    """Datetimes → ISO 'Z' strings, recursively (for --json)."""
    if isinstance(obj, datetime):
        return fmt_ts(obj)
    if isinstance(obj, dict):
        return {k: _isoz(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_isoz(v) for v in obj]
    return obj


# -- schedule ------------------------------------------------------------------------------------------

@command(target=schedule_app, name="show")
def schedule_show(ctx: typer.Context, crontab_file: CrontabFile = None, config: Config = None, as_json: Json = False):
    """Print the crontab entries `schedule install` would write, and the entries left out."""
    from .. import schedule as sched
    settings = settings_of(ctx)
    schedule = _load(config)
    sched.check_names(schedule, settings.catalogue())
    paths = _paths(settings, schedule)
    rows = [dict(e.to_dict(), line=sched.render_line(e, sched.entry_command(e, paths), None) if e.enabled else None)
            for e in schedule.entries]
    if as_json:
        emit_json({"source": schedule.source, "log": str(paths.log), "timezone": schedule.timezone,
                   "crontab": str(crontab_file) if crontab_file else "user", "entries": rows})
        return
    typer.echo(f"# jobctl schedule from {schedule.source}")
    typer.echo(f"# cron runs append to {paths.log}; times are in "
               f"{schedule.timezone or 'the local time of the machine cron runs on'}")
    for r in rows:
        if r["line"]:
            typer.echo(f"\n# {r['name']}: {r['description'] or r['cron']}")
            typer.echo(r["line"])
    off = [r for r in rows if not r["line"]]
    if off:
        typer.echo("\n# not installed (enabled = false); run them when needed:")
        for r in off:
            what = " ".join([*(f"--group {g}" for g in r["groups"]), *r["jobs"]])
            typer.echo(f"#   {r['name']}: {r['description'] or r['cron']}\n#     jobctl enqueue {what} --wait")
    target = crontab_file or "the user's crontab"
    typer.echo(f"\n# install with: jobctl schedule install{f' --crontab-file {crontab_file}' if crontab_file else ''}"
               f"  (into {target})")


@command(target=schedule_app, name="install")
def schedule_install(ctx: typer.Context, crontab_file: CrontabFile = None, config: Config = None,
                     as_json: Json = False):
    """Put the schedule's enabled entries in the crontab; other lines stay exactly as they were.

    Idempotent: entries already installed unchanged are left alone; jobctl entries no longer in the
    schedule are removed."""
    from .. import schedule as sched
    settings = settings_of(ctx)
    schedule = _load(config)
    sched.check_names(schedule, settings.catalogue())
    paths = _paths(settings, schedule)
    if not paths.log.parent.is_dir():
        raise UsageError(f"log folder does not exist: {paths.log.parent} (set log in the schedule)")
    store = sched.crontab_store(crontab_file)
    old = store.read()
    wanted = [(e, sched.entry_command(e, paths)) for e in schedule.enabled()]
    new, change = sched.merge(old, wanted, fmt_ts(utcnow()))
    if new != old:
        store.write(new)
    if as_json:
        emit_json(dict(change.to_dict(), crontab=store.label, changed=new != old, log=str(paths.log)))
        return
    err = stderr()
    for what, label in ((paths.db, "platform database"), (paths.ledger.parent, "ledger folder")):
        if not what.exists():
            err.print(f"[yellow]warning:[/] {label} {escape(str(what))} does not exist yet; cron runs fail until it does")
    parts = [f"{k} {', '.join(v)}" for k, v in change.to_dict().items() if v]
    con = stdout()
    con.print(f"{escape(store.label)}: " + ("; ".join(parts) if parts else "no jobctl entries")
              + ("" if new != old else " (nothing to change)"), highlight=False)
    con.print(f"cron runs append to {escape(str(paths.log))}; check them with `jobctl schedule check`",
              highlight=False)


@command(target=schedule_app, name="uninstall")
def schedule_uninstall(ctx: typer.Context, crontab_file: CrontabFile = None, as_json: Json = False):
    """Remove jobctl's entries (and only them) from the crontab."""
    from .. import schedule as sched
    store = sched.crontab_store(crontab_file)
    old = store.read()
    new, removed = sched.remove_all(old)
    if new != old:
        store.write(new)
    if as_json:
        emit_json({"crontab": store.label, "removed": removed})
        return
    stdout().print(f"{escape(store.label)}: " + (f"removed {', '.join(removed)}" if removed
                                                 else "no jobctl entries to remove"), highlight=False)


@command(target=schedule_app, name="check")
def schedule_check(ctx: typer.Context, crontab_file: CrontabFile = None, config: Config = None,
                   days: Annotated[float, typer.Option("--days", min=0.01, help="How far back to look.")] = 7,
                   now: Annotated[Optional[str], typer.Option("--now", help="Check as of this ISO time "
                                                                            "(default: now).")] = None,
                   after: Annotated[float, typer.Option("--after", help="Seconds without heartbeat that count "
                                                                        "as stalled.")] = 300,
                   as_json: Json = False):
    """Compare the crontab with the schedule and the ledger with both: missed slots, failed runs, overlaps.

    Exit 0 when all is well, 1 when a problem is found, 2 when the check cannot run."""
    from .. import schedule as sched
    settings = settings_of(ctx)
    schedule = _load(config)
    at = utcnow()
    if now:
        try:
            at = parse_ts(now)
        except ValueError:
            raise UsageError(f"--now expects an ISO-8601 time, got {now!r}") from None
    paths = _paths(settings, schedule)
    store = sched.crontab_store(crontab_file)
    installed = sched.parse_installed(store.read())
    commands = {e.name: sched.entry_command(e, paths) for e in schedule.entries}
    crontab_rows = sched.compare_installed(schedule, installed, commands)
    present = {r["entry"] for r in crontab_rows if not r["state"].startswith(("missing", "not enabled", "stale"))}
    since = sched.installed_since(installed)
    checked = sched.Schedule(entries=[e for e in schedule.entries if e.name in present], source=schedule.source,
                             timezone=schedule.timezone, tolerance_minutes=schedule.tolerance_minutes)
    ledger = settings.ledger()
    try:
        runs = sched.check_runs(checked, ledger, now=at, days=days, since=since, stalled_after=after)
    finally:
        ledger.close()
    problems = [{"kind": "crontab", "entry": r["entry"], "message": f"{r['entry']}: {r['state']}"}
                for r in crontab_rows if r["problem"]] + runs["problems"]
    report = {"ok": not problems, "source": schedule.source, "crontab": store.label, "now": at, "days": days,
              "installed": crontab_rows, "entries": runs["entries"], "problems": problems,
              "unscheduled_batches": runs["unscheduled_batches"]}
    if as_json:
        emit_json(_isoz(report))
    else:
        _print_check(report, schedule)
    raise typer.Exit(0 if not problems else 1)


def _print_check(report: dict, schedule: sched.Schedule) -> None:
    from .. import schedule as sched
    con = stdout()
    p = functools.partial(con.print, highlight=False)
    tz = schedule.timezone or "local time"
    p(f"[bold]schedule check[/] as of {sched.local_time(report['now'], schedule)} ({escape(tz)}), "
      f"last {report['days']:g} day(s); schedule: {escape(report['source'])}")
    p(f"[bold]crontab[/] {escape(report['crontab'])}")
    for r in report["installed"]:
        mark = "[red]✗[/]" if r["problem"] else "[green]✓[/]"
        since = f" {'at' if r['state'] == 'installed' else '(installed'} {r['installed_at']}" \
                f"{'' if r['state'] == 'installed' else ')'}" if r.get("installed_at") else ""
        p(f"  {mark} {escape(r['entry'])}: {escape(r['state'])}{since}")
    for e in report["entries"]:
        p(f"[bold]runs of {escape(e['name'])}[/] ({escape(e['cron'])}) since "
          f"{sched.local_time(e['checked_from'], schedule)}")
        if not e["slots"]:
            p("  no slot in this period")
        for s in e["slots"]:
            state = s["state"]
            style = {"missed": "bold red", "pending": "cyan", "reused": "dim"}.get(state, STATUS_STYLE.get(state, ""))
            batch = f"batch {s['batch_id']}" if s.get("batch_id") else "no batch"
            extra = f", {s['succeeded']}/{s['jobs']} jobs succeeded" if s.get("jobs") else ""
            p(f"  {sched.local_time(s['slot'], schedule)}  {batch:<10} [{style}]{state}[/]{extra}"
              + (" [red](overlap)[/]" if s.get("overlap") else ""))
    if report["unscheduled_batches"]:
        ids = ", ".join(str(b["batch_id"]) for b in report["unscheduled_batches"])
        p(f"[dim]cron batches that match no slot of the schedule: {ids}[/]")
    if report["problems"]:
        p(f"[bold red]{len(report['problems'])} problem(s)[/]")
        for prob in report["problems"]:
            p(f"  [red]✗[/] {escape(prob['message'])}")
    else:
        p("[green]all is well[/]")
