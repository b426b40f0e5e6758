"""Jobs and runs: `run`, `enqueue`, `worker`, `cancel`, `retry`, `stalled`."""

from __future__ import annotations

import os
from typing import Annotated, Optional

import typer

from .. import actions
from ..actions import Settings, parse_kv
from .core import After, JobId, Json, Params, command, complete_group, complete_job, settings_of
from .render import Col, emit_json, emit_table, fmt_duration, jobs_table, stderr, stdout, summary_line

SUCCESS = "success"


def _wait(settings: Settings, ids: list[int], *, live: bool | None = None,
          results: bool = True) -> tuple[list[dict], bool]:
    """Run ``ids`` here (or wait for workers) under the live view. Returns the final jobs and
    whether the live frame (rather than log lines) showed them."""
    from ..runner import Interrupt, install_signal_handlers
    from .live import Watch
    interrupt = Interrupt()
    restore = install_signal_handlers(interrupt)
    watch = Watch(settings.ledger_path, ids, live=live, results=results)
    watch.start()
    try:
        final = actions.execute(settings, ids, interrupt=interrupt, on_wait=watch.line)
    finally:
        watch.stop()
        restore()
    return final, watch.live


@command("run")
def run_cmd(ctx: typer.Context,
            job: Annotated[str, typer.Argument(metavar="JOB", help="The job to run.", autocompletion=complete_job)],
            param: Params = None, as_json: Json = False):
    """Run one job now, in this process, and record it in the ledger ("Run New Job").

    Its progress and outcome go to stderr, once; its result, as JSON, to stdout."""
    settings = settings_of(ctx)
    queued = actions.queue_run(settings, job, parse_kv(param))
    final, _ = _wait(settings, [queued["jobs"][0]["id"]], results=False)  # stdout has it
    j = final[0]
    if as_json:
        emit_json(j)
    elif j.get("result") is not None:
        emit_json(j["result"])
    raise typer.Exit(0 if j["status"] == SUCCESS else 1)


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
        cols = [Col("#", justify="right"), Col("job", shrink=True, min=12), Col("group", drop=2),
                Col("why", shrink=True, min=12, drop=3), Col("typical", drop=1, justify="right")]
        emit_table(cols, [[str(i), r["name"], r["group"],
                           (r["reason"], "yellow" if r["reason"].startswith("needed by") else ""),
                           fmt_duration(r["typical_seconds"])] for i, r in enumerate(rows, 1)],
                   title="enqueue plan (nothing queued)")
        return
    out = actions.enqueue(settings, jobs or [], group or [], all_jobs, given)
    batch_id, queued = out["batch_id"], out["jobs"]
    if not wait:
        if as_json:
            emit_json(out)
        else:
            jobs_table(queued, title=f"batch {batch_id}: {len(queued)} job(s) queued")
            stderr().print("run them with `jobctl worker --once`, or enqueue with --wait; "
                           "watch with `jobctl status --watch`")
        return
    final, _ = _wait(settings, [j["id"] for j in queued])
    if as_json:
        emit_json({"batch_id": batch_id, "jobs": final})
    else:  # the live frame or the log lines already showed every job: one line more, no table
        stderr().print(summary_line(final, batch_id))
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
    """Cancel a job: queued at once; running at its next batch boundary; stalled or suspect at once."""
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
    if not wait:
        if as_json:
            emit_json(job)
        else:
            stdout().print(f"job {job_id} queued again as job {job['id']} (attempt {job['attempt']}); "
                           f"run it with `jobctl worker --once`")
        return
    final, _ = _wait(settings, [job["id"]])
    if as_json:
        emit_json(final[0])
    raise typer.Exit(0 if final[0]["status"] == SUCCESS else 1)


@command("stalled")
def stalled_cmd(ctx: typer.Context,
                after: After = 300,
                cleanup: Annotated[bool, typer.Option("--cleanup", help="Mark them failed so they can be re-run.")] = False,
                as_json: Json = False):
    """Running jobs with no heartbeat for --after seconds, whose process is gone, or whose heartbeat is
    from the future beyond the clock tolerance (suspect)."""
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
        con.print(f"job {j['id']} {j['name']}: {r}"
                  + (f" → marked failed; `jobctl retry {j['id']}` re-runs it" if cleanup
                     else f" (`jobctl cancel {j['id']}` or `jobctl stalled --cleanup`)"), markup=False)
