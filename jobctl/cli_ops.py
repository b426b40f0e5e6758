"""Operator commands beyond the core: schedule, why, inspect, and `status --watch` (registered on the main app).

`jobctl schedule check` exits 0 when the crontab matches the schedule and every slot of the last
--days ran and succeeded, 1 when it finds a problem (an entry missing or different in the crontab,
a missed slot, a failed, cancelled or stalled cron run, an overlap), 2 when it cannot check.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape

from . import schedule as sched
from .cli import Json, Settings, _complete_job, _settings, app, command
from .errors import UsageError
from .ledger import Ledger
from .render import STATUS_STYLE, Watch, emit_json, stderr, stdout
from .timeutil import fmt_ts, parse_ts

schedule_app = typer.Typer(no_args_is_help=True, help="The recommended schedule as crontab entries: show, install, "
                                                     "uninstall, check.")
inspect_app = typer.Typer(no_args_is_help=True, help="Look at derived data as an operator checks it after a run.")
app.add_typer(schedule_app, name="schedule", help="The recommended schedule as crontab entries: show, install, "
                                                  "uninstall, check.")
app.add_typer(inspect_app, name="inspect", help="Look at derived data as an operator checks it after a run.")


def _command(target: typer.Typer, name: str, **kwargs):
    return command(name, target=target, **kwargs)


CrontabFile = Annotated[Optional[Path], typer.Option(
    "--crontab-file", help="Work on this crontab file instead of the user's crontab (`crontab -l`).")]
Config = Annotated[Optional[Path], typer.Option(
    "--config", envvar="JOBCTL_SCHEDULE",
    help="The schedule (TOML); default ./jobctl-schedule.toml if present, else the built-in one.")]


def _load(config: Path | None) -> sched.Schedule:
    return sched.load_schedule(config)


def _paths(settings: Settings, schedule: sched.Schedule) -> sched.Paths:
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

@_command(schedule_app, "show")
def schedule_show(ctx: typer.Context, crontab_file: CrontabFile = None, config: Config = None, as_json: Json = False):
    """Print the crontab entries `schedule install` would write, and the entries left out."""
    settings = _settings(ctx)
    schedule = _load(config)
    sched.check_names(schedule, settings.catalogue())
    paths = _paths(settings, schedule)
    at = fmt_ts(datetime.now(timezone.utc))
    rows = [dict(e.to_dict(), line=sched.render_line(e, sched.entry_command(e, paths), at) if e.enabled else None)
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


@_command(schedule_app, "install")
def schedule_install(ctx: typer.Context, crontab_file: CrontabFile = None, config: Config = None,
                     as_json: Json = False):
    """Put the schedule's enabled entries in the crontab; other lines stay exactly as they were.

    Idempotent: entries already installed unchanged are left alone; jobctl entries no longer in the
    schedule are removed."""
    settings = _settings(ctx)
    schedule = _load(config)
    sched.check_names(schedule, settings.catalogue())
    paths = _paths(settings, schedule)
    if not paths.log.parent.is_dir():
        raise UsageError(f"log folder does not exist: {paths.log.parent} (set log in the schedule)")
    store = sched.crontab_store(crontab_file)
    old = store.read()
    wanted = [(e, sched.entry_command(e, paths)) for e in schedule.enabled()]
    new, change = sched.merge(old, wanted, fmt_ts(datetime.now(timezone.utc)))
    if new != old:
        store.write(new)
    if as_json:
        emit_json(dict(change.to_dict(), crontab=store.label, changed=new != old, log=str(paths.log)))
        return
    err = stderr()
    for what, label in ((paths.db, "platform database"), (paths.ledger.parent, "ledger folder")):
        if isinstance(what, Path) and not what.exists():
            err.print(f"[yellow]warning:[/] {label} {escape(str(what))} does not exist yet; cron runs fail until it does")
    parts = [f"{k} {', '.join(v)}" for k, v in change.to_dict().items() if v]
    con = stdout()
    con.print(f"{escape(store.label)}: " + ("; ".join(parts) if parts else "no jobctl entries")
              + ("" if new != old else " (nothing to change)"), highlight=False)
    con.print(f"cron runs append to {escape(str(paths.log))}; check them with `jobctl schedule check`",
              highlight=False)


@_command(schedule_app, "uninstall")
def schedule_uninstall(ctx: typer.Context, crontab_file: CrontabFile = None, as_json: Json = False):
    """Remove jobctl's entries (and only them) from the crontab."""
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


@_command(schedule_app, "check")
def schedule_check(ctx: typer.Context, crontab_file: CrontabFile = None, config: Config = None,
                   days: Annotated[float, typer.Option("--days", min=0.01, help="How far back to look.")] = 7,
                   now: Annotated[Optional[str], typer.Option("--now", help="Check as of this ISO time "
                                                                            "(default: now).")] = None,
                   after: Annotated[float, typer.Option("--after", help="Seconds without heartbeat that count "
                                                                        "as stalled.")] = 300,
                   as_json: Json = False):
    """Compare the crontab with the schedule and the ledger with both: missed slots, failed runs, overlaps.

    Exit 0 when all is well, 1 when a problem is found, 2 when the check cannot run."""
    settings = _settings(ctx)
    schedule = _load(config)
    at = datetime.now(timezone.utc)
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


# -- why ------------------------------------------------------------------------------------------------

@_command(app, "why")
def why_cmd(ctx: typer.Context,
            target: Annotated[str, typer.Argument(metavar="JOB|ID", help="A job name (its newest run) or a job id.",
                                                  autocompletion=_complete_job)],
            after: Annotated[float, typer.Option("--after", help="Seconds without heartbeat that count "
                                                                 "as stalled.")] = 300,
            as_json: Json = False):
    """Why a job is not running or did not run: its dependency, the run holding it back, the upstream
    failure that cancelled it, or since when it is stalled."""
    from .explain import explain
    settings = _settings(ctx)
    ledger = settings.ledger()
    try:
        if not target.isdigit() and not ledger.jobs(name=target, limit=1):
            settings.catalogue().get(target)  # an unknown name is refused; a known one has never run
        ex = explain(ledger, target, stalled_after=after)
    finally:
        ledger.close()
    if as_json:
        emit_json(ex.to_dict())
        return
    con = stdout()
    style = {"waiting": "cyan", "held": "cyan", "ready": "cyan", "blocked": "bold red", "stalled": "bold red",
             "never-run": "dim"}.get(ex.state, STATUS_STYLE.get(ex.state, ""))
    con.print(f"[{style}]{ex.state}[/]: {escape(ex.summary)}", highlight=False)
    for line in ex.details:
        con.print(f"  {escape(line)}", highlight=False)


# -- inspect -----------------------------------------------------------------------------------------------

@_command(inspect_app, "user")
def inspect_user_cmd(ctx: typer.Context,
                     user_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=2 ** 63 - 1, help="A user id.")],
                     top: Annotated[int, typer.Option("--top", min=1, max=1000, help="How many matches.")] = 10,
                     items: Annotated[int, typer.Option("--items", min=1, max=1000,
                                                        help="Items per feed section.")] = 10,
                     as_json: Json = False):
    """One user's searchable snapshot, traits, top matches with their explanations and presorted feed
    sections (never e-mail, birthdate or location)."""
    from .inspect_user import inspect_user
    from .schema import open_platform
    conn = open_platform(_settings(ctx).db, readonly=True)
    try:
        data = inspect_user(conn, user_id, top=top, items=items)
    finally:
        conn.close()
    if as_json:
        emit_json(data)
        return
    _print_user(data)


def _print_user(data: dict) -> None:
    from rich.table import Table
    con = stdout()
    p = functools.partial(con.print, highlight=False)
    u = data["user"]
    p(f"[bold]user {u['id']}[/] {escape(u['display_name'])} (@{escape(u['username'])}) — {u['state']}, "
      f"{escape(u['gender'])} seeking {escape(u['seeking'])} aged {u['age_min']}–{u['age_max']}, "
      f"{escape(u['city'] or '?')} {escape(u['country'] or '')}; last active {u['last_active_at'] or '–'}")
    for note in data["notes"]:
        p(f"[yellow]note:[/] {escape(note)}")
    for m in data["missing"]:
        p(f"[yellow]{m['table']} does not exist yet:[/] built by {m['job']} ({m['group']} group)")
    s = data["searchable"]
    if s is not None:
        p("[bold]searchable snapshot[/] " + escape(", ".join(f"{k}={v}" for k, v in s.items()
                                                         if k not in ("user_id", "bio", "traits"))))
        if s.get("bio"):
            p(f"  bio: {escape(s['bio'])}")
    t = data["traits"]
    if t is not None:
        from .inspect_user import TRAITS
        p("[bold]traits[/] " + ", ".join(f"{k} {'–' if t.get(k) is None else f'{t[k]:.0f}'}" for k in TRAITS)
          + f" ({t.get('answered_items')} items, computed {t.get('computed_at')})")
    elif "user_traits" not in {m["table"] for m in data["missing"]}:
        p("[bold]traits[/] none (no personality answers)")
    if data["matches"] is not None:
        table = Table(title=f"top {len(data['matches'])} matches")
        for col in ("rank", "candidate", "score", "why"):
            table.add_column(col, no_wrap=col != "why")
        for m in data["matches"]:
            why = "\n".join(f"{a['area']} {a['score']:.0f}: {a['explanation']}" for a in m["areas"][:4])
            table.add_row(str(m["rank"]), escape(f"{m['display_name']} #{m['candidate_id']}"), f"{m['score']:.1f}",
                          escape(why or "–"))
        p(table if data["matches"] else "[bold]matches[/] none")
    if data["feed"] is not None:
        if not data["feed"]:
            p("[bold]feed[/] no presorted items")
        for section, rows in data["feed"].items():
            table = Table(title=f"feed: {section}")
            for col in ("#", "item", "title", "score"):
                table.add_column(col, no_wrap=col != "title")
            for r in rows:
                table.add_row(str(r["position"]), f"{r['item_type']} {r['item_id']}", escape(r["title"]),
                              "–" if r["score"] is None else f"{r['score']:.2f}")
            p(table)


# -- status --watch ------------------------------------------------------------------------------------------

class StatusWatch(Watch):
    """Every active job, including those queued after the watch began, until Ctrl-C (or ``iterations``)."""

    overall_label = "[bold]active"

    def __init__(self, ledger_path: Path, *, live: bool | None, every: float, iterations: int, after: float):
        super().__init__(ledger_path, [], live=live, every=every, plain_every=max(5.0, every))
        self.iterations, self.after, self._count = iterations, after, 0
        self._warned: set[int] = set()

    def _poll(self, ledger: Ledger) -> list[dict]:
        for j in ledger.active():
            if j["id"] not in self.ids:
                self.ids.append(j["id"])
        for j, reason in ledger.stalled(self.after):
            if j["id"] not in self._warned:
                self._warned.add(j["id"])
                msg = f"job {j['id']} {j['name']} is stalled: {reason} (jobctl why {j['id']})"
                self._line(msg) if not self.live else self.console.print(f"[bold red]⚠[/] {escape(msg)}")
        self._count += 1
        if self.iterations and self._count >= self.iterations:
            self.halt.set()
        return ledger.jobs(ids=self.ids, newest_first=False)


def watch_status(settings: Settings, *, interval: float, iterations: int, after: float, as_json: bool,
                 live: bool | None = None) -> None:
    """`status --watch`: live bars on a terminal, plain lines otherwise, until Ctrl-C."""
    if as_json:
        raise UsageError("--watch shows a live view; leave out --json (or poll `status --json`)")
    w = StatusWatch(settings.ledger_path, live=live, every=interval, iterations=iterations, after=after)
    if not w.live:
        w._line(f"watching {settings.ledger_path} every {interval:g}s" + ("" if iterations else "; Ctrl-C stops"))
    try:
        w.run()  # in this thread: Ctrl-C ends it
    except KeyboardInterrupt:
        pass
