"""Read-only views of the ledger and the catalogue, shaped for the pages (no HTML here)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .. import graph as graphmod
from ..actions import JOB_KEYS, STATUSES, public_job  # noqa: F401  (the job object of CLI.md)
from ..ledger import FINAL, JOB_COLUMNS, Ledger, Status, job_dict
from ..textfmt import duration  # noqa: F401  (the pages show it)
from ..timeutil import now_iso
from ..registry import Registry

RECENT_S = 30  # finished jobs stay in the Active Jobs list this long, so a finish is seen happen
PAGE = 50


def detailed_job(ledger: Ledger, job: dict) -> dict:
    """``show --json``: the job with its traceback, dependencies and log."""
    out = public_job(job)
    out.update(traceback=job.get("traceback"),
               depends_on=[{"id": d["id"], "name": d["name"], "status": d["status"]} for d in ledger.deps(job["id"])],
               log=ledger.events(job["id"]))
    return out


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 0.1:
        return "< 0.1 s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def percent(job: dict) -> int | None:
    total = job.get("progress_total")
    if job.get("status") == Status.SUCCESS:
        return 100
    if not total:
        return None
    return max(0, min(100, int(100 * (job.get("progress_done") or 0) / total)))


def eta(job: dict) -> str:
    done, total = job.get("progress_done") or 0, job.get("progress_total")
    d = duration(job)
    if job.get("status") != Status.RUNNING or not total or not done or not d:
        return "–"
    return fmt_duration(d * (total - done) / done)


def when(ts: str | None) -> str:
    return (ts or "")[:19].replace("T", " ")


def history(ledger: Ledger, *, status: str | None = None, name: str | None = None, group: str | None = None,
            before_id: int | None = None, limit: int = PAGE) -> list[dict]:
    """Newest first, keyset-paged by id (the ledger's (status|name|grp, id) indexes keep a page as
    cheap at row 100,000 as at row 1); an empty filter is no filter."""
    return ledger.jobs(status=status or None, name=name or None, group=group or None, before_id=before_id,
                       limit=limit)


def active(ledger: Ledger, now: datetime | None = None) -> list[dict]:
    """Queued and running jobs, then those that finished in the last few seconds."""
    now = now or datetime.now(timezone.utc)
    rows = ledger.active()
    since = now_iso(now - timedelta(seconds=RECENT_S))
    # Only the newest ids are looked at (finished_at has no index; a 100,000-row scan per refresh is not free).
    recent = [job_dict(r) for r in ledger.conn.execute(
        f"SELECT {JOB_COLUMNS} FROM (SELECT {JOB_COLUMNS} FROM jobs ORDER BY id DESC LIMIT 200) "
        "WHERE status IN ('success','failed','cancelled') AND finished_at >= ? ORDER BY id DESC LIMIT 20", (since,))]
    return rows + sorted(recent, key=lambda j: j["id"])


def last_success(ledger: Ledger) -> dict[str, str]:
    """Each job name → finished_at of its last success."""
    return {r[0]: r[1] for r in ledger.conn.execute(
        "SELECT name, MAX(finished_at) FROM jobs WHERE status='success' GROUP BY name")}


def is_final(job: dict) -> bool:
    return job["status"] in FINAL


def graph_layout(registry: Registry) -> dict:
    """Boxes and arrows for the catalogue's dependency graph: one column per depth, in run order."""
    g = graphmod.build(registry)
    specs = graphmod.order(registry, [s.name for s in registry.all()], g)
    depth: dict[str, int] = {}
    for s in specs:
        depth[s.name] = max([depth[d] + 1 for d in s.depends_on], default=0)
    rows: dict[int, int] = {}
    pos = {}
    box_w, box_h, gap_x, gap_y = 170, 30, 60, 14
    for s in specs:
        col = depth[s.name]
        row = rows.get(col, 0)
        rows[col] = row + 1
        pos[s.name] = (10 + col * (box_w + gap_x), 10 + row * (box_h + gap_y))
    nodes = [{"name": s.name, "group": s.group, "summary": s.summary, "x": pos[s.name][0], "y": pos[s.name][1]}
             for s in specs]
    edges = []
    for s in specs:
        for d in s.depends_on:
            (x1, y1), (x2, y2) = pos[d], pos[s.name]
            edges.append({"x1": x1 + box_w, "y1": y1 + box_h / 2, "x2": x2, "y2": y2 + box_h / 2})
    width = 20 + (max(depth.values(), default=0) + 1) * (box_w + gap_x)
    height = 20 + max(rows.values(), default=1) * (box_h + gap_y)
    return {"nodes": nodes, "edges": edges, "width": width, "height": height, "box_w": box_w, "box_h": box_h}
