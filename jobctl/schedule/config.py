"""The schedule file (TOML) and its cron expressions.

The schedule is ``$JOBCTL_SCHEDULE``, else ``./jobctl-schedule.toml``, else the shipped
``jobctl/data/schedule.toml``. Cron expressions are read by croniter and checked a second time by
python-crontab when the schedule is loaded, so that nothing cron itself would refuse gets installed.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from ..errors import JobctlError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ScheduleError(JobctlError):
    """The schedule file or the crontab cannot be read, parsed or written."""


# -- cron expressions ----------------------------------------------------------------------------

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}


@dataclass(frozen=True)
class CronExpr:
    """A five-field cron expression (lists, ranges, steps, month and day names, @macros) read by
    croniter; as in Vixie cron, when both day fields are restricted a day matches either of them."""

    text: str
    spec: str

    @classmethod
    def parse(cls, text: str) -> "CronExpr":
        from croniter import CroniterError, croniter

        spec = MACROS.get(text.strip().lower(), text)
        if spec.strip().startswith("@"):
            raise ScheduleError(f"cron expression {text!r}: only @yearly, @monthly, @weekly, @daily and "
                                "@hourly have a time that can be checked")
        if len(spec.split()) != 5:
            raise ScheduleError(f"cron expression {text!r} needs five fields (minute hour day month weekday)")
        try:
            croniter(spec)
        except (CroniterError, ValueError) as exc:
            reason = str(exc).replace(f"[{spec}] ", "")
            raise ScheduleError(f"cron expression {text!r} {reason}") from None
        return cls(text=text, spec=" ".join(spec.split()))

    def slots(self, start: datetime, end: datetime, tz=None) -> list[datetime]:
        """The times in (start, end] at which cron fires, as aware UTC datetimes. ``tz`` is the
        zone cron reads the fields in (a tzinfo), None for this machine's local time."""
        from croniter import croniter

        # For the machine's zone, naive local times: .astimezone() then applies each slot's DST.
        base = start.astimezone(tz) if tz else start.astimezone().replace(tzinfo=None)
        it = croniter(self.spec, base)
        out = []
        while True:
            at = it.get_next(datetime)
            at = (at if tz else at.astimezone()).astimezone(timezone.utc)
            if at > end:
                return out
            if at > start and (not out or at != out[-1]):
                out.append(at)


# -- the schedule file -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    name: str
    cron: str
    groups: tuple[str, ...] = ()
    jobs: tuple[str, ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    enabled: bool = True
    description: str = ""

    @property
    def expr(self) -> CronExpr:
        return CronExpr.parse(self.cron)

    def to_dict(self) -> dict:
        return {"name": self.name, "cron": self.cron, "groups": list(self.groups), "jobs": list(self.jobs),
                "params": dict(self.params), "enabled": self.enabled, "description": self.description}


@dataclass
class Schedule:
    entries: list[Entry]
    source: str
    log: Path | None = None
    jobctl: str | None = None
    timezone: str | None = None
    tolerance_minutes: float = 15

    def enabled(self) -> list[Entry]:
        return [e for e in self.entries if e.enabled]

    def tzinfo(self):
        if not self.timezone:
            return None
        if self.timezone.upper() == "UTC":
            return timezone.utc
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"{self.source}: unknown timezone {self.timezone!r}") from None


_TOP_KEYS = {"entry", "log", "jobctl", "timezone", "tolerance_minutes"}
_ENTRY_KEYS = {"name", "cron", "groups", "jobs", "params", "enabled", "description"}


def schedule_path(cwd: Path | None = None) -> Path | None:
    """The schedule file in use: $JOBCTL_SCHEDULE, ./jobctl-schedule.toml, or None (the default)."""
    env = os.environ.get("JOBCTL_SCHEDULE")
    if env:
        return Path(env)
    local = (cwd or Path.cwd()) / "jobctl-schedule.toml"
    return local if local.is_file() else None


def load_schedule(path: Path | None = None) -> Schedule:
    """Read and check the schedule (see :func:`schedule_path`). Raises ScheduleError."""
    path = path or schedule_path()
    if path is None:
        text, source, base = resources.files("jobctl").joinpath("data/schedule.toml").read_text(), \
            "the built-in schedule", Path.cwd()
    else:
        try:
            text, source, base = Path(path).read_text(), str(path), Path(path).absolute().parent
        except OSError as exc:
            raise ScheduleError(f"cannot read schedule {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScheduleError(f"{source} is not valid TOML: {exc}") from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise ScheduleError(f"{source}: unknown setting {sorted(unknown)[0]!r} (known: {', '.join(sorted(_TOP_KEYS))})")
    entries = [_entry(raw, source, i) for i, raw in enumerate(data.get("entry", []), 1)]
    names = [e.name for e in entries]
    dup = next((n for n in names if names.count(n) > 1), None)
    if dup:
        raise ScheduleError(f"{source}: entry name {dup!r} is used twice")
    log = data.get("log")
    tol = data.get("tolerance_minutes", 15)
    if not isinstance(tol, (int, float)) or isinstance(tol, bool) or tol <= 0:
        raise ScheduleError(f"{source}: tolerance_minutes must be a positive number")
    sched = Schedule(entries=entries, source=source, log=(base / log) if log else None,
                     jobctl=data.get("jobctl"), timezone=data.get("timezone"), tolerance_minutes=tol)
    sched.tzinfo()
    return sched


def _entry(raw, source: str, i: int) -> Entry:
    where = f"{source}: entry {i}"
    if not isinstance(raw, dict):
        raise ScheduleError(f"{where} must be a table ([[entry]])")
    unknown = set(raw) - _ENTRY_KEYS
    if unknown:
        raise ScheduleError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_ENTRY_KEYS))})")
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ScheduleError(f"{where}: name must be letters, digits, '-', '_' or '.', got {name!r}")
    where = f"{source}: entry {name!r}"
    cron = raw.get("cron")
    if not isinstance(cron, str):
        raise ScheduleError(f"{where}: cron must be a string such as \"0 3 * * *\"")
    try:
        CronExpr.parse(cron)
    except ScheduleError as exc:
        raise ScheduleError(f"{where}: {exc}") from None
    from crontab import CronSlices  # python-crontab: a second opinion on what cron will accept
    if not CronSlices.is_valid(cron):  # e.g. a backwards range, which croniter wraps around
        raise ScheduleError(f"{where}: cron expression {cron!r} is not valid for cron")
    lists = {}
    for key in ("groups", "jobs"):
        val = raw.get(key, [])
        if not isinstance(val, list) or not all(isinstance(v, str) and v for v in val):
            raise ScheduleError(f"{where}: {key} must be a list of names")
        lists[key] = tuple(val)
    if not lists["groups"] and not lists["jobs"]:
        raise ScheduleError(f"{where}: give groups or jobs to run")
    params = raw.get("params", {})
    if not isinstance(params, dict):
        raise ScheduleError(f"{where}: params must be a table such as {{ batch_size = 500 }}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ScheduleError(f"{where}: enabled must be true or false")
    return Entry(name=name, cron=cron, groups=lists["groups"], jobs=lists["jobs"],
                 params=tuple(sorted((k, _param_text(v)) for k, v in params.items())), enabled=enabled,
                 description=str(raw.get("description", "")))


def _param_text(v) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def check_names(schedule: Schedule, registry) -> None:
    """Every group and job of every entry is in the catalogue (raises UnknownJob otherwise)."""
    for e in schedule.entries:
        for g in e.groups:
            registry.in_group(g)
        for j in e.jobs:
            registry.get(j)


