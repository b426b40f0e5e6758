"""Rendering for the CLI: rich tables on stdout, progress and messages on stderr.

Nothing here changes state. Live progress reads the ledger from a thread of its own, so it
works the same whether this process runs the jobs or a worker elsewhere does.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table

from .ledger import FINAL, Ledger
from .actions import public_job  # noqa: F401  (re-exported for older importers)
from .timeutil import parse_iso

STATUS_STYLE = {"queued": "cyan", "running": "yellow", "success": "green", "failed": "bold red",
                "cancelled": "magenta"}


def stdout() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200, soft_wrap=False)


def stderr() -> Console:
    return Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def duration(job: dict, now: datetime | None = None) -> float | None:
    a = parse_iso(job.get("started_at"))
    if not a:
        return None
    b = parse_iso(job.get("finished_at")) or now or datetime.now(timezone.utc)
    return (b - a).total_seconds()


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


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, '')}]{status}[/]"


def short(text: str | None, n: int = 60) -> str:
    if not text:
        return ""
    line = text.strip().splitlines()[0]
    return line if len(line) <= n else line[: n - 1] + "…"


def jobs_table(jobs: Iterable[dict], title: str | None = None) -> Table:
    t = Table(title=title, show_lines=False)
    for col in ("id", "job", "group", "status", "trigger", "started", "duration", "progress", "error"):
        t.add_column(col, no_wrap=col != "error")
    for j in jobs:
        t.add_row(str(j["id"]), j["name"], j["group"], status_text(j["status"]), j.get("trigger") or "",
                  (j.get("started_at") or "")[:19].replace("T", " "), fmt_duration(duration(j)),
                  fmt_progress(j), escape(short(j.get("error"))))
    return t


def eta(job: dict, now: datetime | None = None) -> str:
    done, total = job.get("progress_done") or 0, job.get("progress_total")
    d = duration(job, now)
    if not total or not done or not d:
        return "–"
    return fmt_duration(d * (total - done) / done)


def stalled_banner(stalled: list[tuple[dict, str]]) -> Panel:
    lines = [f"job {j['id']} {j['name']}: {reason}" for j, reason in stalled]
    lines.append("Cancel them with `jobctl cancel ID`, or mark them failed with `jobctl stalled --cleanup`, then retry.")
    return Panel("\n".join(lines), title=f"⚠ {len(stalled)} stalled job(s)", border_style="red")


# -- live progress --------------------------------------------------------------------------------

class Watch(threading.Thread):
    """Polls the ledger for ``ids`` and renders progress: rich bars on a terminal, plain lines otherwise."""

    overall_label = "[bold]batch"

    def __init__(self, ledger_path: Path, ids: list[int], *, live: bool | None = None, every: float = 0.5,
                 plain_every: float = 5.0):
        super().__init__(daemon=True, name="jobctl-watch")
        self.ledger_path, self.ids = ledger_path, ids
        self.live = sys.stderr.isatty() if live is None else live
        self.every, self.plain_every = every, plain_every
        self.halt = threading.Event()
        self.console = stderr()
        self._seen: dict[int, str] = {}
        self._last_plain: dict[int, float] = {}

    def run(self) -> None:
        ledger = Ledger(self.ledger_path)
        try:
            if self.live:
                self._run_live(ledger)
            else:
                while True:
                    halted = self.halt.is_set()
                    self._plain(self._poll(ledger))
                    if halted:
                        break
                    self.halt.wait(self.every)
        finally:
            ledger.close()

    def _run_live(self, ledger: Ledger) -> None:
        cols = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                TextColumn("{task.fields[status]}"), TextColumn("{task.fields[rate]}"), TimeRemainingColumn()]
        with Progress(*cols, console=self.console, transient=False) as progress:
            overall = progress.add_task(self.overall_label, total=len(self.ids), status="", rate="")
            tasks = {}
            while True:
                halted = self.halt.is_set()
                jobs = self._poll(ledger)
                for j in jobs:
                    if j["id"] not in tasks:
                        tasks[j["id"]] = progress.add_task(f"{j['name']} [dim]#{j['id']}[/]", total=None,
                                                           status="", rate="")
                    d = duration(j)
                    rate = f"{j['progress_done'] / d:,.0f}/s" if d and j["progress_done"] else ""
                    total = j["progress_total"]
                    done = j["progress_done"] or 0
                    if j["status"] == "success":
                        total = total or max(done, 1)
                        done = total
                    progress.update(tasks[j["id"]], total=total, completed=done,
                                    status=status_text(j["status"]), rate=rate)
                progress.update(overall, total=len(jobs), completed=sum(j["status"] in FINAL for j in jobs))
                if halted:
                    break
                self.halt.wait(self.every)

    def _poll(self, ledger: Ledger) -> list[dict]:
        """The jobs to show this round (a subclass may watch a changing set)."""
        return ledger.jobs(ids=self.ids, newest_first=False)

    def _plain(self, jobs: list[dict]) -> None:
        t = time.monotonic()
        for j in jobs:
            prev = self._seen.get(j["id"])
            if prev != j["status"]:
                self._seen[j["id"]] = j["status"]
                self._last_plain[j["id"]] = t
                extra = ""
                if j["status"] in FINAL:
                    extra = f" in {fmt_duration(duration(j))}"
                    if j.get("error"):
                        extra += f": {short(j['error'], 120)}"
                    elif j.get("result"):
                        extra += f" {json.dumps(j['result'], default=str)[:200]}"
                self._line(f"job {j['id']} {j['name']}: {j['status']}{extra}")
            elif j["status"] == "running" and t - self._last_plain.get(j["id"], 0) >= self.plain_every:
                self._last_plain[j["id"]] = t
                self._line(f"job {j['id']} {j['name']}: running {fmt_progress(j)}, eta {eta(j)}")

    def _line(self, text: str) -> None:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"{stamp} {text}", file=sys.stderr, flush=True)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=5)
