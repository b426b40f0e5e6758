"""The jobctl command line: parse, call the library, render.

Global options (before the command) or their environment variables say where things are:
--db / JOBCTL_DB, --ledger / JOBCTL_LEDGER, --media-root / JOBCTL_MEDIA_ROOT.
Refused input prints one line on stderr and exits 2; a job that failed or was cancelled exits 1.
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Optional

import typer

from . import graph as graphmod
from .errors import JobctlError, ParamError, UsageError
from .ledger import Ledger, Status, now_iso
from .registry import JobSpec, Registry, load_catalogue
from .render import (Watch, emit_json, eta, fmt_duration, fmt_progress, jobs_table, public_job, short,
                     stalled_banner, status_text, stderr, stdout)
from .runner import Interrupt, Runner, install_signal_handlers, run_until_done, work
from .backend import as_target, redact
from .schema import open_platform

app = typer.Typer(
    name="jobctl", no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False,
    help="Run and watch the jobs that keep a dating platform's derived data fresh.",
)


@dataclass
class Settings:
    db: Path | str          # an SQLite file, or a postgresql:// URL (print it with redact())
    ledger_path: Path
    media_root: Path
    trigger: str = "manual"

    def ledger(self) -> Ledger:
        return Ledger(self.ledger_path)

    def catalogue(self) -> Registry:
        return load_catalogue()

    def platform(self):
        return open_platform(self.db)


def _complete_job(incomplete: str) -> list[str]:
    return [s.name for s in load_catalogue().all() if s.name.startswith(incomplete)]


def _complete_group(incomplete: str) -> list[str]:
    return [g for g in load_catalogue().groups() if g.startswith(incomplete)]


def _complete_param(incomplete: str) -> list[str]:
    names = sorted({p.name for s in load_catalogue().all() for p in s.params})
    return [f"{n}=" for n in names if n.startswith(incomplete)]


@app.callback()
def _main(
    ctx: typer.Context,
    db: Annotated[str, typer.Option("--db", envvar="JOBCTL_DB", help="The platform database: an SQLite file or a postgresql:// URL.")] = "platform.db",
    ledger: Annotated[Path, typer.Option("--ledger", envvar="JOBCTL_LEDGER", help="The job ledger (SQLite).")] = Path("jobctl-ledger.db"),
    media_root: Annotated[Path, typer.Option("--media-root", envvar="JOBCTL_MEDIA_ROOT", help="Where media paths point.")] = Path("media"),
    trigger: Annotated[str, typer.Option("--trigger", envvar="JOBCTL_TRIGGER", hidden=True,
                                         help="Who started this: manual or cron (crontab entries set cron).")] = "manual",
):
    """Run and watch the jobs that keep a dating platform's derived data fresh."""
    ctx.obj = Settings(db=as_target(db), ledger_path=ledger, media_root=media_root,
                       trigger=trigger if trigger in ("manual", "cron") else "manual")


def command(*args, target: typer.Typer | None = None, **kwargs):
    """``@app.command`` (or ``target.command``) that turns a JobctlError into one line on stderr
    and its exit code."""

    def deco(func):
        @functools.wraps(func)
        def wrapper(*a, **kw):
            try:
                return func(*a, **kw)
            except JobctlError as exc:
                typer.echo(f"jobctl: {exc}", err=True)
                raise typer.Exit(exc.exit_code)

        return (target or app).command(*args, **kwargs)(wrapper)

    return deco


def _settings(ctx: typer.Context) -> Settings:
    return ctx.obj


def parse_kv(items: list[str] | None) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParamError(f"-p expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def params_for(spec: JobSpec, given: dict[str, str], *, strict: bool) -> dict:
    """Resolve ``given`` against ``spec`` (strict: every key must be one of its parameters)."""
    mine = given if strict else {k: v for k, v in given.items() if spec.param(k) is not None}
    return spec.resolve_params(mine)


def check_media_root(settings: Settings, specs: list[JobSpec]) -> None:
    if any(getattr(s, "uses_media", False) for s in specs) and not settings.media_root.is_dir():
        raise UsageError(f"media root not found: {settings.media_root} (pass --media-root or set JOBCTL_MEDIA_ROOT)")


def validate(settings: Settings, plan: list[tuple[JobSpec, dict]]) -> None:
    """Everything that can be refused before queueing: the platform, the media root, job hooks."""
    conn = settings.platform()
    try:
        check_media_root(settings, [s for s, _ in plan])
        for spec, params in plan:
            if spec.validate is not None:
                spec.validate(conn, params)
    finally:
        conn.close()


Params = Annotated[Optional[list[str]], typer.Option("-p", "--param", help="KEY=VALUE, parsed by the parameter's type.",
                                                    autocompletion=_complete_param)]
MAX_ID = 2 ** 63 - 1  # SQLite's largest integer
Json = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


# -- catalogue ----------------------------------------------------------------------------------

@command("jobs")
def jobs_cmd(ctx: typer.Context,
             group: Annotated[Optional[str], typer.Option("--group", "-g", help="Only this group.",
                                                          autocompletion=_complete_group)] = None,
             as_json: Json = False):
    """The catalogue: every job with its group, description, dependencies and parameters."""
    reg = _settings(ctx).catalogue()
    specs = reg.in_group(group) if group else reg.all()
    if as_json:
        emit_json([{"name": s.name, "group": s.group, "description": s.description, "summary": s.summary,
                    "depends_on": list(s.depends_on), "params": [p.to_dict() for p in s.params]} for s in specs])
        return
    from rich.table import Table
    t = Table(title="jobctl catalogue")
    for col in ("job", "group", "what it does", "depends on", "parameters"):
        t.add_column(col)
    for s in specs:
        own = [p.name for p in s.params if p.name not in ("batch_size", "pause_ms", "now")]
        t.add_row(s.name, s.group, s.summary, ", ".join(s.depends_on) or "–", ", ".join(own) or "–")
    stdout().print(t)


@command("describe")
def describe_cmd(ctx: typer.Context,
                 job: Annotated[str, typer.Argument(help="A job name.", autocompletion=_complete_job)],
                 as_json: Json = False):
    """One job in plain language: what it does, when to run it, its impact and its parameters."""
    spec = _settings(ctx).catalogue().get(job)
    if as_json:
        emit_json(spec.to_dict())
        return
    from rich.table import Table
    con = stdout()
    con.print(f"[bold]{spec.name}[/]  ([cyan]{spec.group}[/])  — {spec.summary}\n")
    con.print(f"[bold]What it does:[/] {spec.description}")
    con.print(f"[bold]When to run:[/] {spec.when}")
    con.print(f"[bold]Impact:[/] {spec.impact}")
    con.print(f"[bold]Depends on:[/] {', '.join(spec.depends_on) or 'nothing'}"
              + ("" if spec.bulk else "   [dim](run on its own; never part of a group or --all enqueue)[/]"))
    t = Table(title="parameters")
    for col in ("name", "type", "default", "meaning"):
        t.add_column(col)
    for p in spec.params:
        default = "required" if p.required else ("current time" if p.name == "now" else
                                                 ("unset" if p.default is None else str(p.default)))
        rng = ""
        if p.min is not None or p.max is not None:
            rng = f" [{'' if p.min is None else f'{p.min:g}'}..{'' if p.max is None else f'{p.max:g}'}]"
        t.add_row(p.name, p.type + rng, default, p.help)
    con.print(t)


@command("graph")
def graph_cmd(ctx: typer.Context,
              group: Annotated[Optional[list[str]], typer.Option("--group", "-g", help="Only what this group needs.",
                                                                 autocompletion=_complete_group)] = None,
              fmt: Annotated[str, typer.Option("--format", "-f", help="text, dot or mermaid.")] = "text"):
    """The dependency graph, in run order (text), or as Graphviz DOT or Mermaid."""
    reg = _settings(ctx).catalogue()
    if fmt not in graphmod.RENDERERS:
        raise UsageError(f"unknown format {fmt!r}: choose text, dot or mermaid")
    graphmod.build(reg)
    specs = graphmod.resolve(reg, groups=group) if group else graphmod.order(reg, [s.name for s in reg.all()])
    typer.echo(graphmod.RENDERERS[fmt](reg, specs))


# -- running ----------------------------------------------------------------------------------

def _runner(settings: Settings, ledger: Ledger, interrupt: Interrupt) -> Runner:
    return Runner(ledger=ledger, registry=settings.catalogue(), db_path=settings.db,
                  media_root=settings.media_root, interrupt=interrupt)


def _wait_and_report(settings: Settings, ledger: Ledger, ids: list[int], *, live: bool | None = None) -> list[dict]:
    interrupt = Interrupt()
    restore = install_signal_handlers(interrupt)
    runner = _runner(settings, ledger, interrupt)
    watch = Watch(ledger.path, ids, live=live)
    watch.start()
    try:
        final = run_until_done(runner, ids)
    finally:
        runner.close()
        watch.stop()
        restore()
    return final


def _summarise(final: list[dict], as_json: bool, batch_id: int | None = None) -> None:
    ok = all(j["status"] == Status.SUCCESS for j in final)
    if as_json:
        return
    err = stderr()
    for j in final:
        if j["status"] != Status.SUCCESS:
            err.print(f"job {j['id']} {j['name']}: {status_text(j['status'])}: {short(j.get('error'), 200)}")
    n_ok = sum(j["status"] == Status.SUCCESS for j in final)
    err.print(f"{'[green]done[/]' if ok else '[red]not all jobs succeeded[/]'}: {n_ok}/{len(final)} succeeded"
              + (f" (batch {batch_id})" if batch_id else "") + "; details: jobctl show ID")


@command("run")
def run_cmd(ctx: typer.Context,
            job: Annotated[str, typer.Argument(help="The job to run.", autocompletion=_complete_job)],
            param: Params = None, as_json: Json = False):
    """Run one job now, in this process, and record it in the ledger ("Run New Job")."""
    settings = _settings(ctx)
    spec = settings.catalogue().get(job)
    params = params_for(spec, parse_kv(param), strict=True)
    validate(settings, [(spec, params)])
    ledger = settings.ledger()
    batch_id, jobs = ledger.enqueue([(spec.name, spec.group, params, [])], trigger=settings.trigger,
                                    request={"run": spec.name})
    final = _wait_and_report(settings, ledger, [jobs[0]["id"]])
    if as_json:
        emit_json(public_job(final[0]))
    else:
        j = final[0]
        stdout().print(f"job {j['id']} {j['name']}: {status_text(j['status'])} in {fmt_duration(_dur(j))}")
        if j.get("result") is not None:
            emit_json(j["result"])
        _summarise(final, as_json)
    raise typer.Exit(0 if final[0]["status"] == Status.SUCCESS else 1)


def _dur(job: dict) -> float | None:
    from .render import duration
    return duration(job)


@command("enqueue")
def enqueue_cmd(ctx: typer.Context,
                jobs: Annotated[Optional[list[str]], typer.Argument(help="Job names.", autocompletion=_complete_job)] = None,
                group: Annotated[Optional[list[str]], typer.Option("--group", "-g", help="A job group (repeatable).",
                                                                   autocompletion=_complete_group)] = None,
                all_jobs: Annotated[bool, typer.Option("--all", help="Every job of every group.")] = False,
                param: Params = None,
                wait: Annotated[bool, typer.Option("--wait", help="Run the batch now (or wait for workers) and show progress.")] = False,
                plan: Annotated[bool, typer.Option("--plan", help="Only print what would be queued, in order.")] = False,
                as_json: Json = False):
    """Bulk enqueue: the named jobs and groups plus everything they depend on, in dependency order."""
    settings = _settings(ctx)
    reg = settings.catalogue()
    specs = graphmod.resolve(reg, jobs or [], group or [], all_jobs)
    given = parse_kv(param)
    for key in given:
        if not any(s.param(key) for s in specs):
            raise ParamError(f"no job of this batch takes parameter {key!r}")
    resolved = [(s, params_for(s, given, strict=False)) for s in specs]
    requested_groups = set(group or [])
    named = set(jobs or [])
    if plan:
        ledger = settings.ledger()
        rows = []
        for s, p in resolved:
            why = ("named" if s.name in named else "group " + s.group if s.group in requested_groups or all_jobs
                   else f"needed by the batch (from group {s.group})")
            typical = ledger.durations(s.name)
            rows.append({"name": s.name, "group": s.group, "reason": why, "params": p,
                         "typical_seconds": sorted(typical)[len(typical) // 2] if typical else None})
        if as_json:
            emit_json(rows)
            return
        from rich.table import Table
        t = Table(title="enqueue plan (nothing queued)")
        for col in ("#", "job", "group", "why", "typical duration"):
            t.add_column(col)
        for i, r in enumerate(rows, 1):
            t.add_row(str(i), r["name"], r["group"],
                      r["reason"] if r["reason"] in ("named",) or r["reason"].startswith("group")
                      else f"[yellow]{r['reason']}[/]", fmt_duration(r["typical_seconds"]))
        stdout().print(t)
        return
    validate(settings, resolved)
    ledger = settings.ledger()
    request = {"jobs": list(named), "groups": sorted(requested_groups), "all": all_jobs, "params": given}
    batch_id, queued = ledger.enqueue([(s.name, s.group, p, list(s.depends_on)) for s, p in resolved],
                                      trigger=settings.trigger, request=request)
    ids = [j["id"] for j in queued]
    if not wait:
        if as_json:
            emit_json({"batch_id": batch_id, "jobs": [public_job(j) for j in queued]})
        else:
            stdout().print(jobs_table(queued, title=f"batch {batch_id}: {len(queued)} job(s) queued"))
            stderr().print("run them with `jobctl worker --once`, or enqueue with --wait")
        return
    final = _wait_and_report(settings, ledger, ids)
    if as_json:
        emit_json({"batch_id": batch_id, "jobs": [public_job(j) for j in final]})
    else:
        stdout().print(jobs_table(final, title=f"batch {batch_id}"))
        _summarise(final, as_json, batch_id)
    raise typer.Exit(0 if all(j["status"] == Status.SUCCESS for j in final) else 1)


@command("worker")
def worker_cmd(ctx: typer.Context,
               once: Annotated[bool, typer.Option("--once", help="Exit when nothing runnable is left.")] = False):
    """Take queued jobs whose dependencies have succeeded and run them, one at a time."""
    settings = _settings(ctx)
    ledger = settings.ledger()
    settings.catalogue()
    interrupt = Interrupt()
    restore = install_signal_handlers(interrupt)
    runner = _runner(settings, ledger, interrupt)
    err = stderr()
    err.print(f"worker pid {os.getpid()} on ledger {ledger.path}" + (" (--once)" if once else ""))
    try:
        n = work(runner, once=once)
    finally:
        runner.close()
        restore()
    err.print(f"worker done: ran {n} job(s)")


# -- the operator's view ---------------------------------------------------------------------

@command("status")
def status_cmd(ctx: typer.Context, as_json: Json = False,
               after: Annotated[float, typer.Option("--after", help="Seconds without heartbeat that count as stalled.")] = 300,
               watch: Annotated[bool, typer.Option("--watch", "-w", help="Keep showing live progress until Ctrl-C.")] = False,
               interval: Annotated[float, typer.Option("--interval", min=0.05, help="Seconds between refreshes of --watch.")] = 1.0,
               iterations: Annotated[int, typer.Option("--iterations", min=0, hidden=True, help="Stop --watch after N refreshes.")] = 0):
    """Active jobs (queued and running) with progress, and a warning when a running job is stalled."""
    if watch:
        from .cli_ops import watch_status
        return watch_status(_settings(ctx), interval=interval, iterations=iterations, after=after, as_json=as_json)
    ledger = _settings(ctx).ledger()
    active = ledger.active()
    stalled = ledger.stalled(after)
    if as_json:
        emit_json({"active": [public_job(j) for j in active],
                   "stalled": [{"job": public_job(j), "reason": r} for j, r in stalled]})
        return
    con = stdout()
    if stalled:
        con.print(stalled_banner(stalled))
    if not active:
        con.print("no active jobs")
        return
    from rich.table import Table
    t = Table(title="active jobs")
    for col in ("id", "job", "group", "status", "progress", "eta", "heartbeat", "batch"):
        t.add_column(col)
    for j in active:
        t.add_row(str(j["id"]), j["name"], j["group"], status_text(j["status"]), fmt_progress(j), eta(j),
                  (j.get("heartbeat_at") or "")[11:19], str(j.get("batch_id") or ""))
    con.print(t)


def parse_since(text: str | None) -> str | None:
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    t = text.strip()
    if t and t[-1] in units and t[:-1].isdigit():
        return now_iso(datetime.now(timezone.utc) - timedelta(seconds=int(t[:-1]) * units[t[-1]]))
    from .timeutil import parse_ts
    try:
        return now_iso(parse_ts(t))
    except ValueError:
        raise UsageError(f"--since expects e.g. 7d, 12h, 30m or an ISO time, got {text!r}") from None


@command("history")
def history_cmd(ctx: typer.Context,
                job: Annotated[Optional[str], typer.Option("--job", help="Only this job.", autocompletion=_complete_job)] = None,
                status: Annotated[Optional[str], typer.Option("--status", help="queued, running, success, failed or cancelled.")] = None,
                group: Annotated[Optional[str], typer.Option("--group", "-g", autocompletion=_complete_group)] = None,
                since: Annotated[Optional[str], typer.Option("--since", help="e.g. 7d, 12h or an ISO time.")] = None,
                limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many jobs.")] = 50,
                as_json: Json = False):
    """Past and present jobs, newest first."""
    settings = _settings(ctx)
    if status is not None and status not in [s.value for s in Status]:
        raise UsageError(f"unknown status {status!r}: choose queued, running, success, failed or cancelled")
    if job is not None:
        settings.catalogue().get(job)
    if group is not None:
        settings.catalogue().in_group(group)
    rows = settings.ledger().jobs(name=job, status=status, group=group, since=parse_since(since), limit=limit)
    if as_json:
        emit_json([public_job(j) for j in rows])
        return
    if not rows:
        stdout().print("no jobs match")
        return
    stdout().print(jobs_table(rows, title="job history (newest first)"))


@command("show")
def show_cmd(ctx: typer.Context, job_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=MAX_ID, help="A job id.")],
             as_json: Json = False):
    """One job: parameters, timings, progress, result, error with traceback, dependencies and its log."""
    ledger = _settings(ctx).ledger()
    job = ledger.get(job_id)
    deps = ledger.deps(job_id)
    events = ledger.events(job_id)
    if as_json:
        out = public_job(job)
        out.update(traceback=job.get("traceback"), depends_on=[{"id": d["id"], "name": d["name"],
                                                               "status": d["status"]} for d in deps], log=events)
        emit_json(out)
        return
    import json as _json
    con = stdout()
    con.print(f"[bold]job {job['id']}[/] {job['name']} ([cyan]{job['group']}[/]) — {status_text(job['status'])}")
    for label, key in (("batch", "batch_id"), ("trigger", "trigger"), ("attempt", "attempt"), ("retry of", "retry_of"),
                       ("created", "created_at"), ("started", "started_at"), ("finished", "finished_at"),
                       ("heartbeat", "heartbeat_at"), ("worker", "worker_pid")):
        if job.get(key) is not None:
            val = job[key]
            if key == "worker_pid":
                val = f"pid {job['worker_pid']} on {job.get('worker_host')}"
            con.print(f"  {label:<10} {val}")
    from .render import duration
    con.print(f"  {'duration':<10} {fmt_duration(duration(job))}")
    con.print(f"  {'progress':<10} {fmt_progress(job)}")
    con.print(f"  {'params':<10} {_json.dumps(job['params'])}")
    if deps:
        con.print("  depends on " + ", ".join(f"{d['name']} #{d['id']} ({d['status']})" for d in deps))
    if job.get("result") is not None:
        con.print("[bold]result[/]")
        con.print(_json.dumps(job["result"], indent=2), markup=False, highlight=False)
    if job.get("error"):
        con.print(f"[bold red]error[/] {job['error']}", markup=True, highlight=False)
    if job.get("traceback"):
        con.print("[bold]traceback[/]")
        con.print(job["traceback"], markup=False, highlight=False)
    if events:
        con.print("[bold]log[/]")
        for e in events:
            con.print(f"  {e['at']} {e['level']:<7} {e['message']}", markup=False, highlight=False)


@command("cancel")
def cancel_cmd(ctx: typer.Context, job_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=MAX_ID)],
               after: Annotated[float, typer.Option("--after", help="Seconds without heartbeat that count as stalled.")] = 300):
    """Cancel a job: queued at once; running at its next batch boundary; stalled at once."""
    what = _settings(ctx).ledger().cancel(job_id, stalled_after=after)
    if what == "cancelled":
        stdout().print(f"job {job_id} cancelled")
    else:
        stdout().print(f"job {job_id}: cancel requested; it stops at its next batch boundary")


@command("retry")
def retry_cmd(ctx: typer.Context, job_id: Annotated[int, typer.Argument(metavar="ID", min=1, max=MAX_ID)], param: Params = None,
              wait: Annotated[bool, typer.Option("--wait", help="Run it now in this process.")] = False,
              as_json: Json = False):
    """Queue a failed or cancelled job again with the same parameters (-p overrides)."""
    settings = _settings(ctx)
    ledger = settings.ledger()
    old = ledger.get(job_id)
    spec = settings.catalogue().get(old["name"])
    params = spec.resolve_params({**old["params"], **parse_kv(param)})
    validate(settings, [(spec, params)])
    job = ledger.retry(job_id, params, trigger="retry")
    if not wait:
        if as_json:
            emit_json(public_job(job))
        else:
            stdout().print(f"job {job_id} queued again as job {job['id']} (attempt {job['attempt']})")
        return
    final = _wait_and_report(settings, ledger, [job["id"]])
    if as_json:
        emit_json(public_job(final[0]))
    else:
        _summarise(final, False)
    raise typer.Exit(0 if final[0]["status"] == Status.SUCCESS else 1)


@command("stalled")
def stalled_cmd(ctx: typer.Context,
                after: Annotated[float, typer.Option("--after", help="Seconds without heartbeat that count as stalled.")] = 300,
                cleanup: Annotated[bool, typer.Option("--cleanup", help="Mark them failed so they can be re-run.")] = False,
                as_json: Json = False):
    """Running jobs with no heartbeat for --after seconds, or whose process is gone."""
    if after < 0:
        raise UsageError("--after must not be negative")
    ledger = _settings(ctx).ledger()
    rows = ledger.cleanup_stalled(after) if cleanup else ledger.stalled(after)
    if as_json:
        emit_json([{"job": public_job(j), "reason": r, "cleaned_up": cleanup} for j, r in rows])
        return
    con = stdout()
    if not rows:
        con.print("no stalled jobs")
        return
    for j, r in rows:
        con.print(f"job {j['id']} {j['name']}: {r}" + (" → marked failed; `jobctl retry ID` re-runs it" if cleanup else ""))


# -- platform ------------------------------------------------------------------------------------

@command("demo")
def demo_cmd(ctx: typer.Context,
             users: Annotated[int, typer.Option("--users", min=1, help="How many users to create.")] = 1000,
             seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same platform.")] = 42,
             now: Annotated[Optional[str], typer.Option("--now", help="The platform's present (ISO-8601); default now.")] = None,
             force: Annotated[bool, typer.Option("--force", help="Replace an existing platform database.")] = False):
    """Create (or with --force refill) a realistic synthetic platform: database and media files."""
    from .demo import build_demo
    from .timeutil import parse_ts
    settings = _settings(ctx)
    at = None
    if now:
        try:
            at = parse_ts(now)
        except ValueError:
            raise UsageError(f"--now expects an ISO-8601 time, got {now!r}") from None
    err = stderr()
    counts = build_demo(settings.db, settings.media_root, users, seed=seed, now=at, force=force,
                        progress=lambda msg: err.print(f"[dim]{msg}[/]"))
    from rich.table import Table
    t = Table(title=f"demo platform: {redact(settings.db)} (media in {settings.media_root})")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for k, v in counts.items():
        t.add_row(k, f"{v:,}")
    stdout().print(t)
    stderr().print("next: jobctl enqueue --all --wait")


@command("search")
def search_cmd(ctx: typer.Context,
               text: Annotated[Optional[str], typer.Argument(help="Plain words to look for.")] = None,
               limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many results.")] = 20,
               interest: Annotated[Optional[str], typer.Option("--interest", help="List the members of this interest.")] = None,
               as_json: Json = False):
    """Search the profile index (plain words, bm25 order), or list who likes an interest."""
    from .jobs.search.query import interest_members, search_profiles
    settings = _settings(ctx)
    if not text and not interest:
        raise UsageError("give TEXT to search for, or --interest NAME")
    conn = open_platform(settings.db, readonly=True)
    try:
        rows = interest_members(conn, interest, limit) if interest else search_profiles(conn, text, limit)
    finally:
        conn.close()
    if as_json:
        emit_json([{k: r.get(k) for k in ("user_id", "display_name", "age", "city", "score")} for r in rows])
        return
    from rich.table import Table
    t = Table(title=f"people who like {interest}" if interest else f"search: {text}")
    for col in ("user", "name", "age", "city", "score"):
        t.add_column(col)
    for r in rows:
        t.add_row(str(r["user_id"]), r["display_name"], str(r.get("age") or ""), r.get("city") or "",
                  "" if r.get("score") is None else f"{r['score']:.3g}")
    stdout().print(t if rows else "no matches")


def main() -> None:
    """Console entry point: usage errors become one line on stderr, exit 2."""
    from typer.main import get_command
    from . import cli as registered  # under `python -m jobctl.cli` this file is __main__, and cli_ops
    cmd = get_command(registered.app)  # registers its commands on the app of the module jobctl.cli
    try:
        rv = cmd.main(args=sys.argv[1:], prog_name="jobctl", standalone_mode=False)
    except KeyboardInterrupt:
        typer.echo("jobctl: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # click's UsageError/Abort/Exit live in typer's vendored click
        code = getattr(exc, "exit_code", None)
        name = type(exc).__name__
        if name == "Exit":
            sys.exit(code or 0)
        if name == "Abort":
            typer.echo("jobctl: aborted", err=True)
            sys.exit(1)
        if hasattr(exc, "format_message") and code is not None:
            msg = " ".join(exc.format_message().split())
            hint = ""
            c = getattr(exc, "ctx", None)
            if c is not None:
                hint = f" (see `{c.command_path} --help`)"
            typer.echo(f"jobctl: {msg}{hint}", err=True)
            sys.exit(code)
        raise
    sys.exit(rv if isinstance(rv, int) else 0)


if __name__ == "__main__":
    main()


# Commands for scheduling and explaining live in their own module; importing it registers them.
from . import cli_ops  # noqa: E402,F401
