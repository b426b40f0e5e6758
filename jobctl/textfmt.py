"""Plain words for job facts (durations, progress, ETA, a shortened line), with no terminal in sight:
the CLI, `why` and the web panel say them the same way."""

from __future__ import annotations

from datetime import datetime, timezone

from .timeutil import parse_iso


def duration(job: dict, now: datetime | None = None) -> float | None:
    a = parse_iso(job.get("started_at"))
    if not a:
        return None
    b = parse_iso(job.get("finished_at")) or now or datetime.now(timezone.utc)
    return max(0.0, (b - a).total_seconds())  # clocks of two hosts may disagree a little


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def fmt_progress(job: dict) -> str:
    done, total = job.get("progress_done") or 0, job.get("progress_total")
    if total:
        return f"{done}/{total} ({100 * done / total:.0f}%)"
    return str(done) if done else "–"


def short(text: str | None, n: int = 60) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0]
    return line if len(line) <= n else line[: n - 1] + "…"


def eta(job: dict, now: datetime | None = None) -> str:
    done, total = job.get("progress_done") or 0, job.get("progress_total")
    d = duration(job, now)
    if not total or not done or not d:
        return "–"
    return fmt_duration(d * (total - done) / done)
