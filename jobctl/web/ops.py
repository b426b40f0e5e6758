"""What the panel and the API do to the ledger: validate, plan, queue, cancel, retry, clean up.

A thin layer over the library with the CLI's exact one-line messages (ParamError, UnknownJob, ...),
so that a form, the API and the command line refuse the same input the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import graph as graphmod
from ..errors import ParamError, UsageError
from ..ledger import Ledger
from ..registry import JobSpec, Registry, load_catalogue
from ..schema import open_platform


@dataclass
class Settings:
    """Where things are; the same attributes as the CLI's settings object."""

    db: Path
    ledger_path: Path
    media_root: Path
    trigger: str = "manual"

    def ledger(self) -> Ledger:
        return Ledger(self.ledger_path)

    def catalogue(self) -> Registry:
        return load_catalogue()

    def platform(self):
        return open_platform(self.db)


def params_for(spec: JobSpec, given: dict, *, strict: bool) -> dict:
    mine = given if strict else {k: v for k, v in given.items() if spec.param(k) is not None}
    return spec.resolve_params(mine)


def check_media_root(settings: Settings, specs: list[JobSpec]) -> None:
    if any(getattr(s, "uses_media", False) for s in specs) and not Path(settings.media_root).is_dir():
        raise UsageError(f"media root not found: {settings.media_root} (pass --media-root or set JOBCTL_MEDIA_ROOT)")


def validate(settings: Settings, plan: list[tuple[JobSpec, dict]]) -> None:
    """Everything refused before queueing: the platform, the media root, job hooks."""
    conn = settings.platform()
    try:
        check_media_root(settings, [s for s, _ in plan])
        for spec, params in plan:
            if spec.validate is not None:
                spec.validate(conn, params)
    finally:
        conn.close()


def plan(settings: Settings, ledger: Ledger | None, jobs=(), groups=(), all_jobs: bool = False,
         given: dict | None = None) -> list[dict]:
    """What a Bulk Enqueue would queue, in run order, with why each job is there and its typical duration."""
    reg = settings.catalogue()
    specs = graphmod.resolve(reg, list(jobs), list(groups), all_jobs)
    given = given or {}
    for key in given:
        if not any(s.param(key) for s in specs):
            raise ParamError(f"no job of this batch takes parameter {key!r}")
    rows = []
    for s in specs:
        why = ("named" if s.name in set(jobs) else f"group {s.group}" if s.group in set(groups) or all_jobs
               else f"needed by the batch (from group {s.group})")
        typical = ledger.durations(s.name) if ledger is not None else []
        rows.append({"spec": s, "name": s.name, "group": s.group, "reason": why,
                     "cross_group": why.startswith("needed"), "params": params_for(s, given, strict=False),
                     "depends_on": [d for d in s.depends_on if d in {x.name for x in specs}],
                     "typical_seconds": sorted(typical)[len(typical) // 2] if typical else None})
    return rows


def enqueue(settings: Settings, ledger: Ledger, jobs=(), groups=(), all_jobs: bool = False,
            given: dict | None = None) -> tuple[int, list[dict]]:
    """Bulk Enqueue: validate everything, then queue the batch in run order."""
    rows = plan(settings, None, jobs, groups, all_jobs, given)
    resolved = [(r["spec"], r["params"]) for r in rows]
    validate(settings, resolved)
    request = {"jobs": list(jobs), "groups": sorted(set(groups)), "all": all_jobs, "params": given or {}}
    return ledger.enqueue([(s.name, s.group, p, list(s.depends_on)) for s, p in resolved],
                          trigger=settings.trigger, request=request)


def queue_one(settings: Settings, ledger: Ledger, name: str, given: dict) -> dict:
    """Run New Job: one job, queued for the worker, its parameters checked as the CLI checks them."""
    spec = settings.catalogue().get(name)
    params = params_for(spec, given, strict=True)
    validate(settings, [(spec, params)])
    _, jobs = ledger.enqueue([(spec.name, spec.group, params, [])], trigger=settings.trigger,
                             request={"run": spec.name})
    return jobs[0]


def cancel(ledger: Ledger, job_id: int, stalled_after: float = 300) -> str:
    return ledger.cancel(job_id, stalled_after=stalled_after)


def retry(settings: Settings, ledger: Ledger, job_id: int, overrides: dict | None = None) -> dict:
    old = ledger.get(job_id)
    spec = settings.catalogue().get(old["name"])
    params = spec.resolve_params({**old["params"], **(overrides or {})})
    validate(settings, [(spec, params)])
    return ledger.retry(job_id, params, trigger="retry")


def cleanup_stalled(ledger: Ledger, after: float = 300) -> list[tuple[dict, str]]:
    return ledger.cleanup_stalled(after)
