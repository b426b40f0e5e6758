"""The live view: the ledger polled from a thread of its own, drawn as rich bars on a terminal and
as plain lines otherwise, so it works the same whether this process runs the jobs or a worker
elsewhere does."""

from __future__ import annotations

import json
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from ..actions import Settings
from ..errors import UsageError
from ..ledger import FINAL, Ledger
from .render import duration, eta, fmt_duration, fmt_progress, short, status_text, stderr


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


class StatusWatch(Watch):
    """Every active job, including those queued after the watch began, until Ctrl-C (or ``iterations``)."""

    overall_label = "[bold]active"

    def __init__(self, ledger_path: Path, *, live: bool | None, every: float, iterations: int, after: float):
        super().__init__(ledger_path, [], live=live, every=every, plain_every=max(5.0, every))
        self.iterations, self.after, self._count = iterations, after, 0
        self._warned: set[int] = set()

    def _poll(self, ledger: Ledger) -> list[dict]:
        for j in ledger.active():
            if j["id"] not in self.ids:
                self.ids.append(j["id"])
        for j, reason in ledger.stalled(self.after):
            if j["id"] not in self._warned:
                self._warned.add(j["id"])
                msg = f"job {j['id']} {j['name']} is stalled: {reason} (jobctl why {j['id']})"
                self._line(msg) if not self.live else self.console.print(f"[bold red]⚠[/] {escape(msg)}")
        self._count += 1
        if self.iterations and self._count >= self.iterations:
            self.halt.set()
        return ledger.jobs(ids=self.ids, newest_first=False)


def watch_status(settings: Settings, *, interval: float, iterations: int, after: float, as_json: bool,
                 live: bool | None = None) -> None:
    """`status --watch`: live bars on a terminal, plain lines otherwise, until Ctrl-C."""
    if as_json:
        raise UsageError("--watch shows a live view; leave out --json (or poll `status --json`)")
    w = StatusWatch(settings.ledger_path, live=live, every=interval, iterations=iterations, after=after)
    if not w.live:
        w._line(f"watching {settings.ledger_path} every {interval:g}s" + ("" if iterations else "; Ctrl-C stops"))
    try:
        w.run()  # in this thread: Ctrl-C ends it
    except KeyboardInterrupt:
        pass
