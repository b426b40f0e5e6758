"""The recommended schedule as crontab entries, and the check that notices a silent cron.

The schedule is TOML (``$JOBCTL_SCHEDULE``, else ``./jobctl-schedule.toml``, else the shipped
``jobctl/data/schedule.toml``). Each enabled entry becomes one crontab line that runs
``jobctl enqueue --group … --wait`` with absolute paths and ``JOBCTL_TRIGGER=cron``, appends to a
log file and ends with the marker comment ``# jobctl:<name> installed <time>``.

The crontab is edited as text, line by line: lines without the marker are written back byte for
byte. (python-crontab's ``write()`` re-renders every line it parsed, collapsing whitespace and even
turning ``100%`` into ``100 %``; it is used here to validate expressions only.)
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Iterable

from .backend import is_url
from .errors import JobctlError
from .ledger import FINAL, Ledger, now_iso, parse_iso

MARK = "jobctl:"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
LINE_RE = re.compile(
    r"^(?P<off>#\s*)?(?P<when>@\w+|(?:\S+[ \t]+){4}\S+)[ \t]+(?P<cmd>.*?)[ \t]+#[ \t]*jobctl:"
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(?:[ \t]+installed[ \t]+(?P<at>\S+))?[ \t]*$")
#: Environment variables that shape the catalogue, carried into the crontab line when set.
CATALOGUE_ENV = ("JOBCTL_PLUGINS", "JOBCTL_BUILTIN_JOBS")


class ScheduleError(JobctlError):
    """The schedule file or the crontab cannot be read, parsed or written."""


# -- cron expressions ----------------------------------------------------------------------------

MACROS = {"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
          "@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *"}
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)}
_DAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
           ("month", 1, 12, _MONTHS), ("day of week", 0, 7, _DAYS))


@dataclass(frozen=True)
class CronExpr:
    """A five-field cron expression (lists, ranges, steps, month and day names, @macros).

    As in Vixie cron, when both day fields are restricted a day matches either of them."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    doms: frozenset[int]
    months: frozenset[int]
    dows: frozenset[int]
    dom_star: bool
    dow_star: bool

    @classmethod
    def parse(cls, text: str) -> "CronExpr":
        spec = MACROS.get(text.strip().lower(), text)
        if spec.strip().startswith("@"):
            raise ScheduleError(f"cron expression {text!r}: only @yearly, @monthly, @weekly, @daily and "
                                "@hourly have a time that can be checked")
        parts = spec.split()
        if len(parts) != 5:
            raise ScheduleError(f"cron expression {text!r} needs five fields (minute hour day month weekday)")
        sets = [_parse_field(p, name, lo, hi, names, text) for p, (name, lo, hi, names) in zip(parts, _FIELDS)]
        dows = frozenset(0 if d == 7 else d for d in sets[4])
        return cls(text=text, minutes=tuple(sorted(sets[0])), hours=tuple(sorted(sets[1])),
                   doms=frozenset(sets[2]), months=frozenset(sets[3]), dows=dows,
                   dom_star=parts[2].startswith("*"), dow_star=parts[4].startswith("*"))

    def day_matches(self, d: date) -> bool:
        if d.month not in self.months:
            return False
        dom, dow = d.day in self.doms, (d.weekday() + 1) % 7 in self.dows
        return (dom and dow) if (self.dom_star or self.dow_star) else (dom or dow)

    def slots(self, start: datetime, end: datetime, tz=None) -> list[datetime]:
        """The times in (start, end] at which cron fires, as aware UTC datetimes. ``tz`` is the
        zone cron reads the fields in (a tzinfo), None for this machine's local time."""
        def local(dt: datetime) -> datetime:
            return dt.astimezone(tz).replace(tzinfo=None) if tz else dt.astimezone().replace(tzinfo=None)

        out = []
        day, last = local(start).date() - timedelta(days=1), local(end).date() + timedelta(days=1)
        while day <= last:
            if self.day_matches(day):
                for h in self.hours:
                    for m in self.minutes:
                        naive = datetime.combine(day, time(h, m))
                        at = (naive.replace(tzinfo=tz) if tz else naive.astimezone()).astimezone(timezone.utc)
                        if start < at <= end:
                            out.append(at)
            day += timedelta(days=1)
        return sorted(set(out))


def _parse_field(text: str, name: str, lo: int, hi: int, names: dict, whole: str) -> set[int]:
    def number(tok: str) -> int:
        tok = tok.lower()
        if tok in names:
            return names[tok]
        if not tok.isdigit() or not lo <= int(tok) <= hi:
            raise ScheduleError(f"cron expression {whole!r}: {name} {tok!r} is not in {lo}..{hi}")
        return int(tok)

    out: set[int] = set()
    for item in text.split(","):
        rng, slash, step_s = item.partition("/")
        if slash and (not step_s.isdigit() or int(step_s) == 0):
            raise ScheduleError(f"cron expression {whole!r}: bad step in {item!r}")
        step = int(step_s) if step_s else 1
        if rng == "*":
            a, b = lo, hi
        elif "-" in rng:
            a, b = (number(t) for t in rng.split("-", 1))
        else:
            a = number(rng)
            b = hi if step_s else a
        if a > b:
            raise ScheduleError(f"cron expression {whole!r}: range {rng!r} runs backwards")
        out.update(range(a, b + 1, step))
    return out


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
    CronExpr.parse(cron)
    from crontab import CronSlices  # python-crontab: a second opinion on what cron will accept
    if not CronSlices.is_valid(cron):
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


# -- crontab lines ---------------------------------------------------------------------------------

@dataclass
class Paths:
    """What a crontab line points at, all absolute."""

    db: Path
    ledger: Path
    media_root: Path
    log: Path
    jobctl: list[str]

    @classmethod
    def from_settings(cls, settings, schedule: Schedule) -> "Paths":
        ledger = Path(os.path.abspath(settings.ledger_path))
        log = Path(os.path.abspath(schedule.log)) if schedule.log else ledger.parent / "jobctl-cron.log"
        exe = [os.path.abspath(schedule.jobctl)] if schedule.jobctl else jobctl_executable()
        db = settings.db if is_url(str(settings.db)) else Path(os.path.abspath(settings.db))
        return cls(db=db, ledger=ledger,
                   media_root=Path(os.path.abspath(settings.media_root)), log=log, jobctl=exe)


def jobctl_executable() -> list[str]:
    """The command that runs this jobctl, by absolute path (cron's PATH is minimal)."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "jobctl" and argv0.is_file():
        return [os.path.abspath(argv0)]
    beside = Path(os.path.abspath(sys.executable)).parent / "jobctl"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("jobctl")
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "jobctl.cli"]


def entry_command(entry: Entry, paths: Paths, environ: dict | None = None) -> str:
    """The shell command of ``entry``'s crontab line (``%`` escaped as cron requires)."""
    environ = os.environ if environ is None else environ
    env = [("JOBCTL_DB", str(paths.db)), ("JOBCTL_LEDGER", str(paths.ledger)),
           ("JOBCTL_MEDIA_ROOT", str(paths.media_root)), ("JOBCTL_TRIGGER", "cron")]
    carried = [(k, environ[k]) for k in CATALOGUE_ENV if environ.get(k)]
    if carried and environ.get("PYTHONPATH"):  # plugin modules must stay importable under cron
        carried.append(("PYTHONPATH", environ["PYTHONPATH"]))
    args = [*paths.jobctl, "enqueue"]
    for g in entry.groups:
        args += ["--group", g]
    args += list(entry.jobs)
    for k, v in entry.params:
        args += ["-p", f"{k}={v}"]
    args.append("--wait")
    cmd = " ".join([*(f"{k}={shlex.quote(v)}" for k, v in env + carried), *(shlex.quote(a) for a in args),
                    ">>", shlex.quote(str(paths.log)), "2>&1"])
    return cmd.replace("%", r"\%")


def cron_to_shell(command: str) -> str:
    """What cron hands to /bin/sh for a crontab command: ``\\%`` → ``%`` (an unescaped ``%`` would
    start the command's stdin; jobctl's lines have none)."""
    return command.replace(r"\%", "%")


@dataclass
class Installed:
    name: str
    when: str
    command: str
    enabled: bool
    installed_at: str | None
    line: str


def parse_installed(text: str) -> list[Installed]:
    """jobctl's marked lines in a crontab text, in order (commented-out ones with enabled=False)."""
    out = []
    for line in text.splitlines():
        m = LINE_RE.match(line)
        if m:
            out.append(Installed(name=m["name"], when=" ".join(m["when"].split()), command=m["cmd"],
                                 enabled=not m["off"], installed_at=m["at"], line=line))
    return out


def render_line(entry: Entry, command: str, at: str) -> str:
    return f"{entry.cron} {command} # {MARK}{entry.name} installed {at}"


@dataclass
class Change:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"added": self.added, "updated": self.updated, "unchanged": self.unchanged, "removed": self.removed}


def merge(text: str, wanted: list[tuple[Entry, str]], at: str) -> tuple[str, Change]:
    """``text`` with jobctl's lines replaced by ``wanted`` [(entry, command)]; other lines untouched.

    An installed line identical in schedule and command is kept as it is (with its install time).
    The block goes where the first jobctl line was, or at the end."""
    lines = text.splitlines(keepends=True)
    ours = {i: LINE_RE.match(line.rstrip("\r\n")) for i, line in enumerate(lines)}
    ours = {i: m for i, m in ours.items() if m}
    change = Change()
    block = []
    for entry, command in wanted:
        keep = next((lines[i] for i, m in ours.items() if m["name"] == entry.name and not m["off"]
                     and " ".join(m["when"].split()) == " ".join(entry.cron.split()) and m["cmd"] == command), None)
        if keep is not None:
            change.unchanged.append(entry.name)
            block.append(keep if keep.endswith("\n") else keep + "\n")
        else:
            (change.updated if any(m["name"] == entry.name for m in ours.values()) else change.added).append(entry.name)
            block.append(render_line(entry, command, at) + "\n")
    names = {e.name for e, _ in wanted}
    change.removed = sorted({m["name"] for m in ours.values()} - names)
    out, placed = [], False
    for i, line in enumerate(lines):
        if i in ours:
            if not placed:
                out.extend(block)
                placed = True
            continue
        out.append(line)
    if not placed:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.extend(block)
    return "".join(out), change


def remove_all(text: str) -> tuple[str, list[str]]:
    """``text`` without jobctl's lines; returns the names removed."""
    kept, removed = [], []
    for line in text.splitlines(keepends=True):
        m = LINE_RE.match(line.rstrip("\r\n"))
        if m:
            removed.append(m["name"])
        else:
            kept.append(line)
    return "".join(kept), removed


# -- where the crontab lives -------------------------------------------------------------------------

class CrontabFile:
    """A crontab kept in a file (``--crontab-file``), read and replaced atomically."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.label = str(self.path)

    def read(self) -> str:
        try:
            return self.path.read_bytes().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return ""
        except OSError as exc:
            raise ScheduleError(f"cannot read crontab file {self.path}: {exc.strerror}") from None

    def write(self, text: str) -> None:
        parent = self.path.absolute().parent
        if not parent.is_dir():
            raise ScheduleError(f"crontab file folder does not exist: {parent}")
        mode = self.path.stat().st_mode & 0o7777 if self.path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=".jobctl-crontab-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8", "surrogateescape"))
            os.chmod(tmp, mode)
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise ScheduleError(f"cannot write crontab file {self.path}: {exc.strerror}") from None


class UserCrontab:
    """The current user's crontab, through the ``crontab`` command."""

    label = "the user's crontab"

    def _run(self, args: list[str], **kw) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(["crontab", *args], capture_output=True, timeout=30, **kw)
        except FileNotFoundError:
            raise ScheduleError("the crontab command is not installed here; pass --crontab-file F "
                                "to write a file instead") from None

    def read(self) -> str:
        res = self._run(["-l"])
        if res.returncode != 0:
            if b"no crontab" in res.stderr.lower():
                return ""
            raise ScheduleError(f"crontab -l failed: {res.stderr.decode(errors='replace').strip()}")
        return res.stdout.decode("utf-8", "surrogateescape")

    def write(self, text: str) -> None:
        with tempfile.NamedTemporaryFile("wb", prefix="jobctl-crontab-", suffix=".txt") as fh:
            fh.write(text.encode("utf-8", "surrogateescape"))
            fh.flush()
            res = self._run([fh.name])
        if res.returncode != 0:
            raise ScheduleError(f"crontab refused the new table: {res.stderr.decode(errors='replace').strip()}")


def crontab_store(path: Path | None):
    return CrontabFile(path) if path else UserCrontab()


# -- check --------------------------------------------------------------------------------------------

def compare_installed(schedule: Schedule, installed: list[Installed], commands: dict[str, str]) -> list[dict]:
    """Each entry's crontab state: installed, missing, differs, commented-out, stale or not-enabled."""
    rows = []
    by_name = {}
    for inst in installed:
        by_name.setdefault(inst.name, []).append(inst)
    for e in schedule.entries:
        found = by_name.pop(e.name, [])
        first = found[0] if found else None
        row = {"entry": e.name, "installed_at": first.installed_at if first else None, "problem": False}
        if not e.enabled:
            row.update(state="installed though disabled" if found else "not enabled", problem=bool(found))
        elif not found:
            row.update(state="missing", problem=True)
        elif len(found) > 1:
            row.update(state="installed twice", problem=True)
        elif not first.enabled:
            row.update(state="commented out", problem=True)
        elif first.when != " ".join(e.cron.split()):
            row.update(state=f"differs: runs at {first.when!r}, the schedule says {e.cron!r}", problem=True)
        elif first.command != commands[e.name]:
            row.update(state="differs: another command (paths or groups changed)", problem=True,
                       installed_command=first.command, expected_command=commands[e.name])
        else:
            row.update(state="installed")
        rows.append(row)
    for name, found in by_name.items():
        rows.append({"entry": name, "installed_at": found[0].installed_at, "problem": True,
                     "state": "stale: installed but not in the schedule"})
    return rows


def _batch_matches(request: dict, entry: Entry) -> bool:
    return (set(request.get("groups") or []) == set(entry.groups)
            and set(request.get("jobs") or []) == set(entry.jobs) and not request.get("all"))


def check_runs(schedule: Schedule, ledger: Ledger, *, now: datetime, days: float,
               since: dict[str, datetime | None] | None = None, stalled_after: float = 300) -> dict:
    """Slots of each enabled entry in the last ``days`` matched with cron batches of the ledger.

    A slot is missed when no cron batch for the entry started from one minute before it to
    ``tolerance_minutes`` after it; ``since[name]`` (the install time) hides earlier slots.
    Returns {"entries": [...], "problems": [...], "unscheduled_batches": [...]}."""
    tz = schedule.tzinfo()
    start = now - timedelta(days=days)
    tol = timedelta(minutes=schedule.tolerance_minutes)
    since = since or {}
    batches = [{"id": r[0], "created_at": parse_iso(r[1]), "request": json.loads(r[2] or "{}")}
               for r in ledger.conn.execute(
                   "SELECT id, created_at, request FROM batches WHERE trigger='cron' AND created_at >= ? "
                   "AND created_at <= ? ORDER BY created_at, id",
                   (now_iso(start - timedelta(minutes=1)), now_iso(now)))]
    used: set[int] = set()
    entries, problems, all_slots = [], [], []
    for e in schedule.enabled():
        first = max(start, since.get(e.name) or start)
        slots = e.expr.slots(first, now, tz)
        all_slots += [(s, e.name) for s in slots]
        rows = []
        for slot in slots:
            b = next((b for b in batches if b["id"] not in used and _batch_matches(b["request"], e)
                      and slot - timedelta(minutes=1) <= b["created_at"] <= slot + tol), None)
            if b is None:
                state = "pending" if now < slot + tol else "missed"
                rows.append({"slot": slot, "state": state, "batch_id": None})
                if state == "missed":
                    problems.append({"kind": "missed", "entry": e.name, "slot": slot,
                                     "message": f"{e.name}: no cron run started for the slot {_local(slot, tz)}"})
                continue
            used.add(b["id"])
            row = _batch_row(ledger, b, now, stalled_after)
            row["slot"] = slot
            rows.append(row)
            problems += [dict(p, entry=e.name, slot=slot, message=f"{e.name} at {_local(slot, tz)}: {p['message']}")
                         for p in row.pop("problems")]
        entries.append({"name": e.name, "cron": e.cron, "checked_from": first, "slots": rows})
    # overlaps: a cron batch still running when a later slot (of any entry) came
    all_slots.sort()
    for ent in entries:
        for row in ent["slots"]:
            if not row.get("batch_id"):
                continue
            end = row["finished_at"] or now
            later = [(s, n) for s, n in all_slots if row["started"] < s < end and s != row["slot"]]
            if later:
                s, n = later[0]
                row["overlap"] = True
                problems.append({"kind": "overlap", "entry": ent["name"], "slot": row["slot"],
                                 "batch_id": row["batch_id"],
                                 "message": f"{ent['name']} at {_local(row['slot'], tz)} (batch {row['batch_id']}) "
                                            f"was still running at {_local(s, tz)} when {n} was due"})
    unscheduled = [{"batch_id": b["id"], "created_at": b["created_at"], "request": b["request"]}
                   for b in batches if b["id"] not in used]
    return {"entries": entries, "problems": problems, "unscheduled_batches": unscheduled}


def _batch_row(ledger: Ledger, batch: dict, now: datetime, stalled_after: float) -> dict:
    jobs = ledger.jobs(batch_id=batch["id"], newest_first=False)
    statuses = [j["status"] for j in jobs]
    if not jobs:  # every job of the request was already queued by an earlier batch and reused
        return {"state": "reused", "batch_id": batch["id"], "started": batch["created_at"],
                "finished_at": batch["created_at"], "jobs": 0, "succeeded": 0, "problems": []}
    problems = []
    for j in jobs:
        err = j.get("error") or ""
        if j["status"] == "failed":
            problems.append({"kind": "failed", "batch_id": batch["id"], "job_id": j["id"],
                             "message": f"job {j['name']} #{j['id']} failed: {_first_line(err)}"})
        elif j["status"] == "cancelled" and "upstream job" not in err:
            problems.append({"kind": "cancelled", "batch_id": batch["id"], "job_id": j["id"],
                             "message": f"job {j['name']} #{j['id']} was cancelled: {_first_line(err)}"})
        elif j["status"] == "running":
            reason = ledger.stall_reason(j, stalled_after, now)
            if reason:
                problems.append({"kind": "stalled", "batch_id": batch["id"], "job_id": j["id"],
                                 "message": f"job {j['name']} #{j['id']} is stalled: {reason}"})
    downstream = sum(1 for j in jobs if j["status"] == "cancelled" and "upstream job" in (j.get("error") or ""))
    if downstream and problems:
        problems[-1]["message"] += f" ({downstream} dependent job(s) cancelled)"
    if any(s in ("queued", "running") for s in statuses):
        state = "stalled" if any(p["kind"] == "stalled" for p in problems) else "running"
    elif "failed" in statuses:
        state = "failed"
    elif "cancelled" in statuses:
        state = "cancelled"
    else:
        state = "success"
    finished = [parse_iso(j["finished_at"]) for j in jobs if j["finished_at"]]
    done = all(s in FINAL for s in statuses)
    return {"state": state, "batch_id": batch["id"], "started": batch["created_at"],
            "finished_at": max(finished) if (done and finished) else (batch["created_at"] if done else None),
            "jobs": len(jobs), "succeeded": statuses.count("success"), "problems": problems}


def _first_line(text: str) -> str:
    line = (text or "").strip().splitlines()[0] if (text or "").strip() else ""
    return line if len(line) <= 160 else line[:159] + "…"


def _local(dt: datetime, tz) -> str:
    return (dt.astimezone(tz) if tz else dt.astimezone()).strftime("%Y-%m-%d %H:%M %z").rstrip()


def local_time(dt: datetime, schedule: Schedule) -> str:
    """``dt`` as the schedule reads times (its timezone, or this machine's)."""
    return _local(dt, schedule.tzinfo())


def installed_since(installed: Iterable[Installed]) -> dict[str, datetime | None]:
    out = {}
    for inst in installed:
        try:
            out.setdefault(inst.name, parse_iso(inst.installed_at) if inst.installed_at else None)
        except ValueError:
            out.setdefault(inst.name, None)
    return out
