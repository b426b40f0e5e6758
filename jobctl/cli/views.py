"""What the ledger says: `status` (and `--watch`), `history`, `show`, `why`."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .. import actions
from ..actions import public_job
from .core import After, JobId, Json, command, complete_group, complete_job, settings_of
from ..timeutil import parse_iso, utcnow
from .render import (STATUS_STYLE, escape, Col, duration, emit_json, emit_table, eta, fmt_duration, fmt_progress, jobs_table,
                     stalled_banner, status_cell, status_text, stdout, summary_line)


@command("status")
def status_cmd(ctx: typer.Context, as_json: Json = False,
               after: After = 300,
               watch: Annotated[bool, typer.Option("--watch", "-w", help="Keep showing live progress until Ctrl-C.")] = False,
               interval: Annotated[float, typer.Option("--interval", min=0.05, help="Seconds between refreshes of --watch.")] = 1.0,
               iterations: Annotated[int, typer.Option("--iterations", min=0, hidden=True, help="Stop --watch after N refreshes.")] = 0):
    """Active jobs (queued and running) with progress, and a warning when a running job is stalled."""
    if watch:
        from .live import watch_status
        return watch_status(settings_of(ctx), interval=interval, iterations=iterations, after=after, as_json=as_json)
    ledger = settings_of(ctx).ledger()
    active = ledger.active()
    stalled = ledger.stalled(after)
    if as_json:
        emit_json({"active": [public_job(j) for j in active],
                   "stalled": [{"job": public_job(j), "reason": r} for j, r in stalled]})
        return
    con = stdout()
    if stalled:
        con.print(stalled_banner(stalled), highlight=False)
    if not active:
        con.print("no active jobs")
    else:
        cols = [Col("id", justify="right"), Col("job", shrink=True, min=12), Col("status"),
                Col("progress", justify="right", drop=5), Col("eta", drop=3, justify="right"),
                Col("heartbeat", drop=2), Col("batch", drop=1, justify="right"), Col("group", drop=4)]
        now = utcnow()
        emit_table(cols, [[str(j["id"]), j["name"], status_cell(j), fmt_progress(j), eta(j),
                           _ago(j.get("heartbeat_at"), now), str(j.get("batch_id") or ""), j["group"]]
                          for j in active], title="active jobs")
    last = ledger.jobs(limit=1)
    if last and last[0]["batch_id"]:
        batch = ledger.jobs(batch_id=last[0]["batch_id"], newest_first=False)
        if batch and all(j["status"] in ("success", "failed", "cancelled") for j in batch):
            con.print("last " + summary_line(batch, last[0]["batch_id"]), highlight=False)


def _ago(ts: str | None, now) -> str:
    at = parse_iso(ts)
    return f"{fmt_duration(max((now - at).total_seconds(), 0))} ago" if at else "–"


@command("history")
def history_cmd(ctx: typer.Context,
                job: Annotated[Optional[str], typer.Option("--job", metavar="JOB", help="Only this job.", autocompletion=complete_job)] = None,
                status: Annotated[Optional[str], typer.Option("--status", metavar="STATUS", help="queued, running, success, failed or cancelled; warning: successes with warnings.")] = None,
                group: Annotated[Optional[str], typer.Option("--group", "-g", metavar="GROUP", help="Only jobs of this group.", autocompletion=complete_group)] = None,
                since: Annotated[Optional[str], typer.Option("--since", metavar="WHEN", help="Only jobs queued since: e.g. 7d, 12h or an ISO time.")] = None,
                limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many jobs.")] = 50,
                as_json: Json = False):
    """Past and present jobs, newest first."""
    settings = settings_of(ctx)
    actions.check_status(status)
    ledger = settings.ledger()
    # A name the ledger knows needs no catalogue (whose job modules import numpy); others are checked.
    if job is not None and not ledger.jobs(name=job, limit=1):
        settings.catalogue().get(job)
    if group is not None and not ledger.jobs(group=group, limit=1):
        settings.catalogue().in_group(group)
    rows = ledger.jobs(name=job, status=status, group=group, since=actions.parse_since(since), limit=limit)
    if as_json:
        emit_json([public_job(j) for j in rows])
        return
    if not rows:
        stdout().print("no jobs match")
        return
    jobs_table(rows, title="job history (newest first)")


@command("show")
def show_cmd(ctx: typer.Context, job_id: JobId,
             as_json: Json = False):
    """One job: parameters, timings, progress, result, error with traceback, dependencies and its log."""
    ledger = settings_of(ctx).ledger()
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
    warned = job.get("warnings") or []
    con.print(f"[bold]job {job['id']}[/] {escape(job['name'])} ([cyan]{escape(job['group'])}[/]) — "
              f"{status_text(job['status'])}" + (f" [yellow]with {len(warned)} warning(s)[/]" if warned else ""))
    for label, key in (("batch", "batch_id"), ("trigger", "trigger"), ("attempt", "attempt"), ("retry of", "retry_of"),
                       ("created", "created_at"), ("started", "started_at"), ("finished", "finished_at"),
                       ("heartbeat", "heartbeat_at"), ("worker", "worker_pid")):
        if job.get(key) is not None:
            val = job[key]
            if key == "worker_pid":
                val = f"pid {job['worker_pid']} on {job.get('worker_host')}"
            con.print(f"  {label:<10} {val}", markup=False)
    con.print(f"  {'duration':<10} {fmt_duration(duration(job))}")
    con.print(f"  {'progress':<10} {fmt_progress(job)}")
    con.print(f"  {'params':<10} {_json.dumps(job['params'])}", markup=False)
    for w in warned:
        con.print(f"  [yellow]warning[/]    {escape(w)}")
    if deps:
        con.print("  depends on " + ", ".join(f"{d['name']} #{d['id']} ({d['status']})" for d in deps), markup=False)
    if job.get("result") is not None:
        con.print("[bold]result[/]")
        con.print(_json.dumps(job["result"], indent=2), markup=False, highlight=False)
    if job.get("error"):
        con.print(f"[bold red]error[/] {escape(job['error'])}", highlight=False)
    if job.get("traceback"):
        con.print("[bold]traceback[/]")
        con.print(job["traceback"], markup=False, highlight=False)
    if events:
        con.print("[bold]log[/]")
        for e in events:
            con.print(f"  {e['at']} {e['level']:<7} {e['message']}", markup=False, highlight=False)


@command("why")
def why_cmd(ctx: typer.Context,
            target: Annotated[str, typer.Argument(metavar="JOB|ID", help="A job name (its newest run) or a job id.",
                                                  autocompletion=complete_job)],
            after: After = 300,
            as_json: Json = False):
    """Why a job is not running or did not run: its dependency, the run holding it back, the upstream
    failure that cancelled it, or since when it is stalled."""
    from ..explain import explain
    settings = settings_of(ctx)
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
