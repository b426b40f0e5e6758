"""What the commands do, without the terminal: the library the CLI and the web panel both call.

Every function takes a :class:`Settings` (where the platform database, the ledger and the media
root are, and the catalogue), raises a :class:`~jobctl.errors.JobctlError` subclass for anything
the operator must fix, and returns plain dicts (the job objects of ``public_job``). Nothing here
prints, and heavy libraries (networkx, numpy, sqlite-utils) are imported only by the functions
that need them, so that importing this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .errors import ParamError, UsageError
from .timeutil import now_iso, parse_ts, utcnow

if TYPE_CHECKING:  # imported for annotations only: the ledger pulls sqlite-utils
    from .ledger import Ledger
    from .registry import JobSpec, Registry
    from .runner import Interrupt

MAX_ID = 2 ** 63 - 1  # SQLite's largest integer: the largest job id there can be
STATUSES = ("queued", "running", "success", "failed", "cancelled")
SINCE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
JOB_KEYS = ("id", "name", "group", "status", "params", "batch_id", "created_at", "started_at", "finished_at",
            "progress_done", "progress_total", "result", "error", "warnings", "trigger", "attempt", "retry_of",
            "heartbeat_at", "worker_pid", "worker_host", "cancel_requested", "cursor")


@dataclass
class Settings:
    """Where things are. ``registry`` may be given (tests, plugins); by default the catalogue loads
    on first use."""

    db: Path
    ledger_path: Path
    media_root: Path
    trigger: str = "manual"
    registry: "Registry | None" = field(default=None, repr=False)

    def ledger(self) -> "Ledger":
        from .ledger import Ledger
        return Ledger(self.ledger_path)

    def catalogue(self) -> "Registry":
        if self.registry is None:
            from .registry import load_catalogue
            self.registry = load_catalogue()
        return self.registry

    def platform(self, *, readonly: bool = False):
        from .schema import open_platform
        return open_platform(self.db, readonly=readonly)


def public_job(job: dict) -> dict:
    """The job object of the contract (plus the ledger's extra fields)."""
    out = {k: job.get(k) for k in JOB_KEYS}
    out["warnings"] = list(job.get("warnings") or [])
    return out


# -- parameters and validation --------------------------------------------------------------------

def parse_kv(items: Iterable[str] | None) -> dict[str, str]:
    """``["k=v", ...]`` → ``{"k": "v"}``; refuses an item without ``=`` or with an empty key."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParamError(f"-p expects KEY=VALUE, got {item!r}")
        out[key.strip()] = value
    return out


def params_for(spec: "JobSpec", given: dict[str, Any], *, strict: bool) -> dict:
    """Resolve ``given`` against ``spec`` (strict: every key must be one of its parameters)."""
    mine = given if strict else {k: v for k, v in given.items() if spec.param(k) is not None}
    return spec.resolve_params(mine)


def check_media_root(settings: Settings, specs: Iterable["JobSpec"]) -> None:
    if any(getattr(s, "uses_media", False) for s in specs) and not Path(settings.media_root).is_dir():
        raise UsageError(f"media root not found: {settings.media_root} (pass --media-root or set JOBCTL_MEDIA_ROOT)")


def validate(settings: Settings, plan: list[tuple["JobSpec", dict]]) -> None:
    """Everything that can be refused before queueing: the platform, the media root, job hooks."""
    conn = settings.platform()
    try:
        check_media_root(settings, [s for s, _ in plan])
        for spec, params in plan:
            if spec.validate is not None:
                spec.validate(conn, params)
    finally:
        conn.close()


def parse_since(text: str | None) -> str | None:
    """``7d``, ``12h``, ``30m``, ``45s``, ``2w`` or an ISO time → the ledger's timestamp, or None."""
    if not text:
        return None
    t = text.strip()
    if t and t[-1] in SINCE_UNITS and t[:-1].isdigit():
        return now_iso(utcnow() - timedelta(seconds=int(t[:-1]) * SINCE_UNITS[t[-1]]))
    try:
        return now_iso(parse_ts(t))
    except ValueError:
        raise UsageError(f"--since expects e.g. 7d, 12h, 30m or an ISO time, got {text!r}") from None


def check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES + ("warning",):
        raise UsageError(f"unknown status {status!r}: choose queued, running, success, failed, cancelled "
                         "or warning")


# -- a batch: plan and enqueue ----------------------------------------------------------------------

def resolve_batch(settings: Settings, jobs: Iterable[str] = (), groups: Iterable[str] = (),
                  all_jobs: bool = False, params: dict[str, str] | None = None) -> list[tuple["JobSpec", dict]]:
    """The batch's jobs in run order (named jobs, bulk jobs of the groups or of all groups, and what
    they depend on) with each job's resolved parameters. A ``params`` key that no job of the batch
    takes is refused."""
    from . import graph
    specs = graph.resolve(settings.catalogue(), list(jobs), list(groups), all_jobs)
    given = dict(params or {})
    for key in given:
        if not any(s.param(key) for s in specs):
            raise ParamError(f"no job of this batch takes parameter {key!r}")
    return [(s, params_for(s, given, strict=False)) for s in specs]


def _reason(spec: "JobSpec", batch: list["JobSpec"], named: set[str], groups: set[str], all_jobs: bool) -> tuple[str, list[str]]:
    """Why ``spec`` is in the batch, and the jobs of the batch that depend on it directly."""
    needed_by = [s for s in batch if spec.name in s.depends_on]
    if spec.name in named:
        return "named", [s.name for s in needed_by]
    if spec.bulk and (all_jobs or spec.group in groups):
        return f"group {spec.group}", [s.name for s in needed_by]
    return ("needed by " + ", ".join(f"{s.name} (group {s.group})" for s in needed_by)
            if needed_by else "needed by the batch"), [s.name for s in needed_by]


def plan_batch(settings: Settings, jobs: Iterable[str] = (), groups: Iterable[str] = (), all_jobs: bool = False,
               params: dict[str, str] | None = None) -> list[dict]:
    """What ``enqueue`` would queue, in order, queueing nothing: one row per job with ``name``,
    ``group``, ``reason`` (named / group G / needed by JOB (group G)), ``needed_by``,
    ``params`` and ``typical_seconds`` (median of its last successful runs, or None)."""
    jobs, groups = list(jobs), list(groups)
    resolved = resolve_batch(settings, jobs, groups, all_jobs, params)
    batch = [s for s, _ in resolved]
    ledger = settings.ledger()
    try:
        rows = []
        for s, p in resolved:
            reason, needed_by = _reason(s, batch, set(jobs), set(groups), all_jobs)
            typical = sorted(ledger.durations(s.name))
            rows.append({"name": s.name, "group": s.group, "reason": reason, "needed_by": needed_by, "params": p,
                         "typical_seconds": typical[len(typical) // 2] if typical else None})
        return rows
    finally:
        ledger.close()


def enqueue(settings: Settings, jobs: Iterable[str] = (), groups: Iterable[str] = (), all_jobs: bool = False,
            params: dict[str, str] | None = None) -> dict:
    """Validate, then queue the batch. Returns ``{"batch_id", "jobs": [job objects in run order]}``."""
    jobs, groups = list(jobs), list(groups)
    resolved = resolve_batch(settings, jobs, groups, all_jobs, params)
    validate(settings, resolved)
    request = {"jobs": jobs, "groups": sorted(set(groups)), "all": all_jobs, "params": dict(params or {})}
    ledger = settings.ledger()
    try:
        batch_id, queued = ledger.enqueue([(s.name, s.group, p, list(s.depends_on)) for s, p in resolved],
                                          trigger=settings.trigger, request=request)
    finally:
        ledger.close()
    return {"batch_id": batch_id, "jobs": [public_job(j) for j in queued]}


def queue_run(settings: Settings, job: str, params: dict[str, str] | None = None) -> dict:
    """Queue one job on its own ("Run New Job"): strict parameters, validated. Returns
    ``{"batch_id", "jobs": [its job object]}``; :func:`execute` runs it."""
    spec = settings.catalogue().get(job)
    resolved = params_for(spec, dict(params or {}), strict=True)
    validate(settings, [(spec, resolved)])
    ledger = settings.ledger()
    try:
        batch_id, queued = ledger.enqueue([(spec.name, spec.group, resolved, [])], trigger=settings.trigger,
                                          request={"run": spec.name})
    finally:
        ledger.close()
    return {"batch_id": batch_id, "jobs": [public_job(j) for j in queued]}


def execute(settings: Settings, ids: list[int], *, interrupt: "Interrupt | None" = None,
            on_wait: "Callable | None" = None) -> list[dict]:
    """Run the jobs ``ids`` in this process (or wait for workers that took them) until each is final.
    Setting ``interrupt`` stops the job in hand at its batch boundary and cancels the rest;
    ``on_wait`` goes to the runner's wait loop (called while other processes run the jobs).
    Returns the final job objects in the order of ``ids``."""
    from .runner import Interrupt, Runner, run_until_done
    ledger = settings.ledger()
    runner = Runner(ledger=ledger, registry=settings.catalogue(), db_path=settings.db,
                    media_root=settings.media_root, interrupt=interrupt if interrupt is not None else Interrupt())
    try:
        return [public_job(j) for j in run_until_done(runner, list(ids), on_wait=on_wait)]
    finally:
        runner.close()


def run_now(settings: Settings, job: str, params: dict[str, str] | None = None, *,
            interrupt: "Interrupt | None" = None) -> dict:
    """Queue one job and run it here; returns its final job object."""
    queued = queue_run(settings, job, params)
    return execute(settings, [queued["jobs"][0]["id"]], interrupt=interrupt)[0]


# -- one job -----------------------------------------------------------------------------------------

def cancel(settings: Settings, job_id: int, *, after: float = 300) -> dict:
    """Cancel a job: ``{"id", "outcome"}`` with outcome ``cancelled`` (queued, or running but
    stalled) or ``requested`` (running: it stops at its next batch boundary)."""
    ledger = settings.ledger()
    try:
        return {"id": job_id, "outcome": ledger.cancel(job_id, stalled_after=after)}
    finally:
        ledger.close()


def retry(settings: Settings, job_id: int, params: dict[str, str] | None = None) -> dict:
    """Queue a failed or cancelled job again with its parameters, ``params`` overriding them.
    Returns the new job object (``retry_of`` = ``job_id``)."""
    ledger = settings.ledger()
    try:
        old = ledger.get(job_id)
        spec = settings.catalogue().get(old["name"])
        resolved = spec.resolve_params({**old["params"], **dict(params or {})})
        validate(settings, [(spec, resolved)])
        return public_job(ledger.retry(job_id, resolved, trigger="retry"))
    finally:
        ledger.close()


def stalled(settings: Settings, *, after: float = 300, cleanup: bool = False) -> list[dict]:
    """Running jobs without a heartbeat for ``after`` seconds or whose worker is gone:
    ``[{"job", "reason", "cleaned_up"}]``. ``cleanup`` marks them failed so they can be retried."""
    if after < 0:
        raise UsageError("--after must not be negative")
    ledger = settings.ledger()
    try:
        rows = ledger.cleanup_stalled(after) if cleanup else ledger.stalled(after)
    finally:
        ledger.close()
    return [{"job": public_job(j), "reason": r, "cleaned_up": cleanup} for j, r in rows]
