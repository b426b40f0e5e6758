"""Timestamps, the one place for them: ISO-8601 UTC with a 'Z'.

The platform stores second precision (``fmt_ts``: '2026-11-29T03:00:00Z'); the ledger stores
milliseconds (``now_iso``: '2026-11-29T03:00:00.123Z'). Both parse with ``parse_ts``.
"""

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


def now_iso(now: datetime | None = None) -> str:
    """The ledger's timestamps: millisecond precision, 'Z' suffix (``now`` or the current time)."""
    dt = now or datetime.now(timezone.utc)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(text: str | None) -> datetime | None:
    """A ledger timestamp (or any ISO time; naive is UTC) → aware datetime; None for empty."""
    if not text:
        return None
    return parse_ts(text)


def age_on(birthdate: str, on: date) -> int:
    """Whole years between a 'YYYY-MM-DD' birthdate and ``on``."""
    b = date.fromisoformat(birthdate[:10])
    return on.year - b.year - ((on.month, on.day) < (b.month, b.day))
