"""Jobs and runs: `run`, `enqueue`, `worker`, `cancel`, `retry`, `stalled`."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from .. import actions
from ..actions import public_job
from ..actions import Settings, parse_kv
from .core import After, JobId, Json, Params, command, complete_group, complete_job, settings_of
from .live import Watch
from .render import emit_json, fmt_duration, duration, jobs_table, short, status_text, stderr, stdout

SUCCESS = "success"


def _wait_and_report(settings: Settings, ledger, ids: list[int], *, live: bool | None = None) -> list[dict]:
    from ..runner import Interrupt, install_signal_handlers
    interrupt = Interrupt()
    restore = install_signal_handlers(interrupt)
    watch = Watch(ledger.path, ids, live=live)
    watch.start()
    try:
        final = actions.execute(settings, ids, interrupt=interrupt)
    finally:
        watch.stop()
        restore()
    return final


def _summarise(final: list[dict], as_json: bool, batch_id: int | None = None) -> None:
    ok = all(j["status"] == SUCCESS for j in final)
    if as_json:
        return
    err = stderr()
    for j in final:
        if j["status"] != SUCCESS:
            err.print(f"job {j['id']} {j['name']}: {status_text(j['status'])}: {short(j.get('error'), 200)}")
    n_ok = sum(j["status"] == SUCCESS for j in final)
    err.print(f"{'[green]done[/]' if ok else '[red]not all jobs succeeded[/]'}: {n_ok}/{len(final)} succeeded"
              + (f" (batch {batch_id})" if batch_id else "") + "; details: jobctl show ID")


@command("run")
def run_cmd(ctx: typer.Context,
            job: Annotated[str, typer.Argument(metavar="JOB", help="The job to run.", autocompletion=complete_job)],
            param: Params = None, as_json: Json = False):
    """Run one job now, in this process, and record it in the ledger ("Run New Job")."""
    settings = settings_of(ctx)
    queued = actions.queue_run(settings, job, parse_kv(param))
    final = _wait_and_report(settings, settings.ledger(), [queued["jobs"][0]["id"]])
    if as_json:
        emit_json(public_job(final[0]))
    else:
        j = final[0]
        stdout().print(f"job {j['id']} {j['name']}: {status_text(j['status'])} in {fmt_duration(duration(j))}")
        if j.get("result") is not None:
            emit_json(j["result"])
        _summarise(final, as_json)
    raise typer.Exit(0 if final[0]["status"] == SUCCESS else 1)


@command("enqueue")
def enqueue_cmd(ctx: typer.Context,
                jobs: Annotated[Optional[list[str]], typer.Argument(metavar="JOB", help="Job names, with what they depend on.", autocompletion=complete_job, show_default=False)] = None,
                group: Annotated[Optional[list[str]], typer.Option("--group", "-g", metavar="GROUP", help="A job group (repeatable).",
                                                                   autocompletion=complete_group)] = None,
                all_jobs: Annotated[bool, typer.Option("--all", help="Every job of every group.")] = False,
                param: Params = None,
                wait: Annotated[bool, typer.Option("--wait", help="Run the batch now (or wait for workers) and show progress.")] = False,
                plan: Annotated[bool, typer.Option("--plan", help="Only print what would be queued, in order.")] = False,
                as_json: Json = False):
    """Bulk enqueue: the named jobs and groups plus everything they depend on, in dependency order."""
    settings = settings_of(ctx)
    given = parse_kv(param)
    if plan:
        rows = actions.plan_batch(settings, jobs or [], group or [], all_jobs, given)
        if as_json:
            emit_json(rows)
            return
        from rich.table import Table
        t = Table(title="enqueue plan (nothing queued)")
        for col in ("#", "job", "group", "why", "typical duration"):
            t.add_column(col)
        for i, r in enumerate(rows, 1):
            t.add_row(str(i), r["name"], r["group"],
                      r["reason"] if not r["reason"].startswith("needed by")
                      else f"[yellow]{r['reason']}[/]", fmt_duration(r["typical_seconds"]))
        stdout().print(t)
        return
    out = actions.enqueue(settings, jobs or [], group or [], all_jobs, given)
    batch_id, queued = out["batch_id"], out["jobs"]
    ledger = settings.ledger()
    ids = [j["id"] for j in queued]
    if not wait:
        if as_json:
            emit_json(out)
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
    raise typer.Exit(0 if all(j["status"] == SUCCESS for j in final) else 1)


@command("worker")
def worker_cmd(ctx: typer.Context,
               once: Annotated[bool, typer.Option("--once", help="Exit when nothing runnable is left.")] = False):
    """Take queued jobs whose dependencies have succeeded and run them, one at a time."""
    settings = settings_of(ctx)
    ledger = settings.ledger()
    settings.catalogue()
    from ..runner import Interrupt, Runner, install_signal_handlers, work
    interrupt = Interrupt()
    restore = install_signal_handlers(interrupt)
    runner = Runner(ledger=ledger, registry=settings.catalogue(), db_path=settings.db,
                    media_root=settings.media_root, interrupt=interrupt)
    err = stderr()
    err.print(f"worker pid {os.getpid()} on ledger {ledger.path}" + (" (--once)" if once else ""))
    try:
        n = work(runner, once=once)
    finally:
        runner.close()
        restore()
    err.print(f"worker done: ran {n} job(s)")


@command("cancel")
def cancel_cmd(ctx: typer.Context, job_id: JobId,
               after: After = 300):
    """Cancel a job: queued at once; running at its next batch boundary; stalled at once."""
    what = actions.cancel(settings_of(ctx), job_id, after=after)["outcome"]
    if what == "cancelled":
        stdout().print(f"job {job_id} cancelled")
    else:
        stdout().print(f"job {job_id}: cancel requested; it stops at its next batch boundary")


@command("retry")
def retry_cmd(ctx: typer.Context, job_id: JobId, param: Params = None,
              wait: Annotated[bool, typer.Option("--wait", help="Run it now in this process.")] = False,
              as_json: Json = False):
    """Queue a failed or cancelled job again with the same parameters (-p overrides)."""
    settings = settings_of(ctx)
    job = actions.retry(settings, job_id, parse_kv(param))
    ledger = settings.ledger()
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
    raise typer.Exit(0 if final[0]["status"] == SUCCESS else 1)


@command("stalled")
def stalled_cmd(ctx: typer.Context,
                after: After = 300,
                cleanup: Annotated[bool, typer.Option("--cleanup", help="Mark them failed so they can be re-run.")] = False,
                as_json: Json = False):
    """Running jobs with no heartbeat for --after seconds, or whose process is gone."""
    rows = actions.stalled(settings_of(ctx), after=after, cleanup=cleanup)
    if as_json:
        emit_json(rows)
        return
    con = stdout()
    if not rows:
        con.print("no stalled jobs")
        return
    for row in rows:
        j, r = row["job"], row["reason"]
        con.print(f"job {j['id']} {j['name']}: {r}" + (" → marked failed; `jobctl retry ID` re-runs it" if cleanup else ""))
