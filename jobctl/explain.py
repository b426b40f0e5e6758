"""`jobctl why`: why a job is not running, or did not run, in the ledger's own words.

:func:`explain` reads the ledger only. For a job name it explains the newest row of that name;
for an id, that row. The answer is a state word, one summary line and a few detail lines:

    waiting     queued, a dependency has not succeeded yet (the chain down to what it waits for)
    held        queued, another run of the same job is running (one at a time)
    ready       queued and runnable: it waits for a worker to claim it
    blocked     queued behind a dependency that failed or was cancelled: it will never run
    running     with progress, heartbeat age and worker
    stalled     running, but no heartbeat for --after seconds or its worker process is gone
    cancelled   by whom, or because which upstream job failed (the chain to the first cause)
    failed      with its error, and the retry that followed, if any
    success     when, how long, the result
    never-run   not in the ledger
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .ledger import Ledger
from .timeutil import parse_iso
from .textfmt import duration, eta, fmt_duration, fmt_progress

UPSTREAM_RE = re.compile(r"upstream job (?P<name>\S+) \(id (?P<id>\d+)\) (?P<what>.+)$")


@dataclass
class Explanation:
    target: str
    state: str
    summary: str
    job: dict | None = None
    details: list[str] = field(default_factory=list)
    chain: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        from .actions import public_job
        return {"target": self.target, "state": self.state, "summary": self.summary,
                "job": public_job(self.job) if self.job else None, "details": self.details,
                "chain": self.chain}


def explain(ledger: Ledger, target: str, *, stalled_after: float = 300, now: datetime | None = None) -> Explanation:
    """Explain job ``target`` (an id, or a job name: its newest row). Raises NotFound for an unknown id."""
    now = now or datetime.now(timezone.utc)
    if target.isdigit():
        job = ledger.get(int(target))
    else:
        rows = ledger.jobs(name=target, limit=1)
        if not rows:
            return Explanation(target, "never-run", f"{target} has never been queued in this ledger",
                               details=[f"run it with `jobctl run {target}`, or queue it with "
                                        f"`jobctl enqueue {target} --wait`"])
        job = rows[0]
    ex = _explain_job(ledger, job, stalled_after, now)
    ex.target = target
    if not target.isdigit() and job["status"] != "success":
        last = ledger.jobs(name=job["name"], status="success", limit=1)
        ex.details.append(f"last success: #{last[0]['id']} finished {_when(last[0]['finished_at'], now)}"
                          if last else "it has never succeeded in this ledger")
    return ex


def _explain_job(ledger: Ledger, job: dict, after: float, now: datetime) -> Explanation:
    label = f"{job['name']} #{job['id']}"
    status = job["status"]
    if status == "queued":
        return _queued(ledger, job, label, after, now)
    if status == "running":
        return _running(ledger, job, label, after, now)
    if status == "cancelled":
        return _cancelled(ledger, job, label, now)
    if status == "failed":
        ex = Explanation("", "failed", f"{label} failed {_when(job['finished_at'], now)}: {_line(job['error'])}", job)
        if job.get("traceback"):
            ex.details.append("where: " + _line(job["traceback"].strip().splitlines()[-1]))
        ex.details += _retries(ledger, job)
        return ex
    ex = Explanation("", "success", f"{label} succeeded {_when(job['finished_at'], now)} "
                                    f"after {fmt_duration(duration(job))}", job)
    if job.get("result"):
        ex.details.append("result: " + _line(json.dumps(job["result"], default=str), 200))
    return ex


def _queued(ledger: Ledger, job: dict, label: str, after: float, now: datetime) -> Explanation:
    since = f"queued {_ago(job['created_at'], now)}"
    pending = [d for d in ledger.deps(job["id"]) if d["status"] != "success"]
    dead = [d for d in pending if d["status"] in ("failed", "cancelled")]
    if dead:
        d = dead[0]
        return Explanation("", "blocked", f"{label} will not run: its dependency {d['name']} #{d['id']} "
                                          f"{d['status']}; {since}", job,
                           details=[f"{d['name']} #{d['id']}: {_line(d.get('error'))}",
                                    f"cancel it (`jobctl cancel {job['id']}`) and enqueue it again, or "
                                    f"retry {d['name']} (`jobctl retry {d['id']}`) and enqueue it after"],
                           chain=[_link(d)])
    if pending:
        chain, cur = [], pending[0]
        while cur is not None and len(chain) < 20:
            chain.append(_link(cur))
            nxt = [d for d in ledger.deps(cur["id"]) if d["status"] != "success"] if cur["status"] == "queued" else []
            cur = nxt[0] if nxt else None
        names = ", ".join(f"{d['name']} #{d['id']} ({d['status']})" for d in pending)
        details = [_describe_link(ledger, c, after, now) for c in chain]
        return Explanation("", "waiting", f"{label} is waiting for its dependencies: {names}; {since}", job,
                           details=details, chain=chain)
    running = ledger.jobs(name=job["name"], status="running", limit=1)
    if running:
        r = running[0]
        reason = ledger.stall_reason(r, after, now)
        details = [_describe_link(ledger, _link(r), after, now)]
        if reason:
            details.append(f"that run is stalled ({reason}): `jobctl stalled --cleanup` or `jobctl cancel {r['id']}` "
                           f"frees the way")
        return Explanation("", "held", f"{label} is held back by the running {r['name']} #{r['id']}: "
                                       f"one run of a job at a time; {since}", job,
                           details=details, chain=[_link(r)])
    details = ["it runs when a worker claims it: `jobctl worker` (or the `enqueue --wait` that queued it)"]
    if not ledger.jobs(status="running", limit=1):
        details.append("no job is running at the moment: is a worker (or the cron run) alive?")
    return Explanation("", "ready", f"{label} is ready to run and waits for a worker; {since}", job, details=details)


def _running(ledger: Ledger, job: dict, label: str, after: float, now: datetime) -> Explanation:
    reason = ledger.stall_reason(job, after, now)
    beat = job.get("heartbeat_at") or job.get("started_at")
    where = f"pid {job.get('worker_pid')} on {job.get('worker_host')}"
    if reason:
        return Explanation("", "stalled", f"{label} is stalled since {_stamp(beat, now)}: {reason}", job,
                           details=[f"started {_when(job['started_at'], now)} by {where}; "
                                    f"progress {fmt_progress(job)}",
                                    f"`jobctl cancel {job['id']}` cancels it at once; `jobctl stalled --cleanup` "
                                    f"marks it failed so that `jobctl retry {job['id']}` resumes it"])
    ex = Explanation("", "running", f"{label} is running: {fmt_progress(job)}, eta {eta(job, now)}", job,
                     details=[f"started {_when(job['started_at'], now)} by {where}; last heartbeat {_when(beat, now)}"])
    if job.get("cancel_requested"):
        ex.details.append("a cancel was requested: it stops at its next batch boundary")
    return ex


def _cancelled(ledger: Ledger, job: dict, label: str, now: datetime) -> Explanation:
    err = job.get("error") or "cancelled"
    m = UPSTREAM_RE.search(err)
    if not m:
        return Explanation("", "cancelled", f"{label} was cancelled {_when(job['finished_at'], now)}: {_line(err)}",
                           job, details=_retries(ledger, job))
    chain, cur = [], job
    while cur is not None and len(chain) < 50:
        m = UPSTREAM_RE.search(cur.get("error") or "")
        if not m or cur["status"] != "cancelled":
            break
        try:
            cur = ledger.get(int(m["id"]))
        except Exception:
            break
        chain.append(_link(cur))
    root = chain[-1] if chain else None
    summary = f"{label} was cancelled because upstream {_line(err.split('upstream', 1)[1].strip(), 200)}"
    details = [" ← ".join([f"{job['name']} #{job['id']}"] + [f"{c['name']} #{c['id']} ({c['status']})"
                                                          for c in chain])]
    if root is not None:
        details.append(f"first cause: {root['name']} #{root['id']} {root['status']}: {_line(root['error'])}")
        if root["status"] in ("failed", "cancelled"):
            details.append(f"fix it, then `jobctl retry {root['id']}` and enqueue {job['name']} again")
    return Explanation("", "cancelled", summary, job, details=details, chain=chain)


def _retries(ledger: Ledger, job: dict) -> list[str]:
    rows = ledger.conn.execute("SELECT id, status FROM jobs WHERE retry_of=? ORDER BY id", (job["id"],)).fetchall()
    if rows:
        return [f"retried as {', '.join(f'#{r[0]} ({r[1]})' for r in rows)}"]
    return [f"retry it with `jobctl retry {job['id']}`"]


def _link(job: dict) -> dict:
    return {"id": job["id"], "name": job["name"], "status": job["status"], "error": job.get("error"),
            "progress_done": job.get("progress_done"), "progress_total": job.get("progress_total"),
            "heartbeat_at": job.get("heartbeat_at"), "worker_pid": job.get("worker_pid")}


def _describe_link(ledger: Ledger, link: dict, after: float, now: datetime) -> str:
    job = ledger.get(link["id"])
    head = f"{job['name']} #{job['id']}: {job['status']}"
    if job["status"] == "running":
        reason = ledger.stall_reason(job, after, now)
        beat = job.get("heartbeat_at") or job.get("started_at")
        return (f"{head} {fmt_progress(job)}, pid {job.get('worker_pid')}, heartbeat {_when(beat, now)}"
                + (f" — STALLED: {reason}" if reason else ""))
    if job["status"] == "queued":
        return f"{head} since {_stamp(job['created_at'], now)}"
    return f"{head}: {_line(job.get('error'))}" if job.get("error") else head


def _ago(ts: str | None, now: datetime) -> str:
    """'2.6s ago' (or 'in 3.0s' for a time ahead of ``now``)."""
    at = parse_iso(ts)
    if at is None:
        return "at an unknown time"
    secs = (now - at).total_seconds()
    return f"{fmt_duration(secs)} ago" if secs >= 0 else f"in {fmt_duration(-secs)}"


def _stamp(ts: str | None, now: datetime) -> str:
    """'2026-11-29 16:50:35Z (2.6s ago)', to follow 'since' or 'at'."""
    at = parse_iso(ts)
    if at is None:
        return "an unknown time"
    return f"{at.strftime('%Y-%m-%d %H:%M:%S')}Z ({_ago(ts, now)})"


def _when(ts: str | None, now: datetime) -> str:
    """'at 2026-11-29 16:50:35Z (2.6s ago)'."""
    return "at an unknown time" if parse_iso(ts) is None else f"at {_stamp(ts, now)}"


def _line(text: str | None, n: int = 160) -> str:
    if not text:
        return "(no message)"
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= n else line[: n - 1] + "…"
