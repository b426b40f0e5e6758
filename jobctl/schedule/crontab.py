"""jobctl's lines in a crontab: render, find, merge, remove, and where the crontab lives.

The crontab is edited as text, line by line: lines without the marker are written back byte for
byte. (python-crontab's ``write()`` re-renders every line it parsed, collapsing whitespace and even
turning ``100%`` into ``100 %``; it is used to validate expressions only.)
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .config import Entry, Schedule, ScheduleError

MARK = "jobctl:"
LINE_RE = re.compile(
    r"^(?P<off>#\s*)?(?P<when>@\w+|(?:\S+[ \t]+){4}\S+)[ \t]+(?P<cmd>.*?)[ \t]+#[ \t]*jobctl:"
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)(?:[ \t]+installed[ \t]+(?P<at>\S+))?[ \t]*$")
#: Environment variables that shape the catalogue, carried into the crontab line when set.
CATALOGUE_ENV = ("JOBCTL_PLUGINS", "JOBCTL_BUILTIN_JOBS")



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
        return cls(db=Path(os.path.abspath(settings.db)), ledger=ledger,
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


def render_line(entry: Entry, command: str, at: str | None) -> str:
    """The crontab line of ``entry``; ``at`` (the install time) is None for a line not installed."""
    return f"{entry.cron} {command} # {MARK}{entry.name}" + (f" installed {at}" if at else "")


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
