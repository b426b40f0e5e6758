"""ISO-8601 UTC timestamps as the platform stores them ('2026-11-29T03:00:00Z')."""

from __future__ import annotations

from datetime import datetime, timezone, date


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def parse_ts(text: str) -> datetime:
    """Parse an ISO-8601 timestamp; naive values are taken as UTC. Raises ValueError."""
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def fmt_ts(dt: datetime) -> str:
    """Format as the platform does: second precision, 'Z' suffix."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_ts_precise(dt: datetime) -> str:
    """Microsecond precision, for the ledger's own timings."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def age_on(birthdate: str, on: date) -> int:
    """Whole years between a 'YYYY-MM-DD' birthdate and ``on``."""
    b = date.fromisoformat(birthdate[:10])
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))
