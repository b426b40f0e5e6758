"""The live view: the ledger polled from a thread of its own, so it works the same whether this
process runs the jobs or a worker elsewhere does.

On a terminal it is one calm frame: queued rows static and dim, a bar only where a total is known,
a rate measured over the last seconds, a batch ETA from the ledger's history of durations,
smoothed; it redraws when something changed, else at most once a second while a job runs, and not
at all when idle. Elsewhere (cron, a pipe) it writes one line per transition — queued, running and
the outcome of every job, the first included — stamped with the ledger's own times.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from pathlib import Path
from statistics import median

from ..actions import Settings
from ..errors import UsageError
from ..textfmt import duration, fmt_duration
from ..timeutil import fmt_ts, parse_iso, utcnow

FINAL = ("success", "failed", "cancelled")
LINE_MAX = 200  # characters of a log line after its time stamp


def _say_result(job: dict) -> str:
    """A result on one line: cut with … and a pointer to `jobctl show ID` when too long."""
    text = json.dumps(job["result"], default=str, ensure_ascii=False)
    room = LINE_MAX - 60 - len(job["name"])
    if len(text) <= room:
        return " " + text
    cut = text[:room]
    comma = cut.rfind(", ")
    cut = cut[:comma] if comma > room // 2 else cut
    return f" {cut}, … (all of it: jobctl show {job['id']})"


def transition_line(job: dict, state: str, *, result: bool = True) -> str:
    """What one transition says, once, on one line (``result``: with the job's result)."""
    head = f"job {job['id']} {job['name']}"
    if state == "queued":
        return f"{head}: queued in batch {job['batch_id']}"
    if state == "running":
        return f"{head}: running" + (f" (attempt {job['attempt']})" if (job.get("attempt") or 1) > 1 else "")
    took = f" in {fmt_duration(duration(job))}" if job.get("started_at") else ""
    if state == "success":
        warned = job.get("warnings") or []
        if warned:
            text = f"{head}: success{took} with {len(warned)} warning(s): {'; '.join(warned)}"
            return text if len(text) <= LINE_MAX else text[:LINE_MAX - 30] + f"… (jobctl show {job['id']})"
        return f"{head}: success{took}" + (_say_result(job) if result and job.get("result") else "")
    error = (job.get("error") or "").strip().splitlines()
    text = f"{head}: {state}{took}" + (f": {error[0]}" if error else "")
    if len(text) > LINE_MAX or len(error) > 1:
        text = text[:LINE_MAX - 30] + ("…" if len(text) > LINE_MAX else "") + f" (jobctl show {job['id']})"
    return text


def _stamp(ts: str | None) -> str:
    return fmt_ts(parse_iso(ts) or utcnow())


class Watch(threading.Thread):
    """Shows the jobs ``ids`` until :meth:`stop`: a live frame on a terminal, lines otherwise."""

    title = "batch"

    def __init__(self, ledger_path: Path, ids: list[int], *, live: bool | None = None, every: float = 0.5,
                 console=None, say_earlier: bool = True, results: bool = True):
        super().__init__(daemon=True, name="jobctl-watch")
        self.ledger_path, self.ids = ledger_path, list(ids)
        self.live = sys.stderr.isatty() if live is None else live
        self.every = every
        self.halt = threading.Event()
        self.console = console
        self.say_earlier = say_earlier  # False: a job first seen says only where it is now
        self.results = results  # False when the command prints the result itself (run)
        self.said: dict[int, set[str]] = {}
        self.frames = 0
        self._samples: dict[int, deque] = {}
        self._typical: dict[str, float | None] = {}
        self._deadline: float | None = None
        self._t0 = time.monotonic()
        self.jobs: list[dict] = []

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        from ..ledger import Ledger
        ledger = Ledger(self.ledger_path)
        try:
            if self.live:
                self._run_live(ledger)
            else:
                self._run_plain(ledger)
        finally:
            ledger.close()

    def _run_plain(self, ledger) -> None:
        while True:
            halted = self.halt.is_set()
            self.jobs = self._poll(ledger)
            self._say_transitions(self.jobs)
            if halted:
                return
            self.halt.wait(self.every)

    def _run_live(self, ledger) -> None:
        from rich.live import Live
        from .render import stderr
        console = self.console = self.console or stderr()
        last_sig, last_draw = None, 0.0
        with Live(console=console, auto_refresh=False, transient=False, redirect_stdout=False,
                  redirect_stderr=False) as live:
            while True:
                halted = self.halt.is_set()
                self.jobs = self._poll(ledger)
                now = time.monotonic()
                self._sample(self.jobs, now)
                sig = self._signature(self.jobs)
                running = any(j["status"] == "running" for j in self.jobs)
                if sig != last_sig or (running and now - last_draw >= 1.0) or halted:
                    frame = self.frame(self.jobs, console.width, now)
                    # A terminal that knows synchronized output (DEC mode 2026) shows the frame whole,
                    # never half drawn; others ignore the two sequences.
                    if console.is_terminal:
                        console.file.write("\x1b[?2026h")
                    live.update(frame, refresh=True)
                    if console.is_terminal:
                        console.file.write("\x1b[?2026l")
                        console.file.flush()
                    self.frames += 1
                    last_sig, last_draw = sig, now
                if halted:
                    return
                self.halt.wait(self.every)

    def _poll(self, ledger) -> list[dict]:
        """The jobs to show this round (a subclass may watch a changing set)."""
        jobs = ledger.jobs(ids=self.ids, newest_first=False)
        for j in jobs:
            if j["name"] not in self._typical:
                past = ledger.durations(j["name"])
                self._typical[j["name"]] = median(past) if past else None
        return jobs

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)

    # -- plain lines ---------------------------------------------------------------------------
    def _say_transitions(self, jobs: list[dict]) -> None:
        due = []
        for j in jobs:
            reached = [("queued", j["created_at"])]
            if j.get("started_at"):
                reached.append(("running", j["started_at"]))
            if j["status"] in FINAL:
                reached.append((j["status"], j.get("finished_at") or j.get("started_at") or j["created_at"]))
            said = self.said.get(j["id"])
            if said is None:
                said = self.said[j["id"]] = set()
                if not self.say_earlier:
                    said.update(state for state, _ in reached[:-1])
            due += [(at or "", j["id"], state, j) for state, at in reached if state not in said]
        for at, _, state, j in sorted(due, key=lambda d: (d[0], d[1])):
            self.said[j["id"]].add(state)
            self.line(transition_line(j, state, result=self.results), at)

    def line(self, text: str, at: str | None = None) -> None:
        if self.live and self.console is not None:  # above the live frame, which rich redraws below
            from rich.text import Text
            self.console.print(Text(f"⚠ {text}", style="bold red"))
            return
        print(f"{_stamp(at)} {text}", file=sys.stderr, flush=True)

    # -- the live frame --------------------------------------------------------------------------
    def _signature(self, jobs: list[dict]) -> tuple:
        return tuple((j["id"], j["status"], j.get("progress_done"), j.get("progress_total"),
                      bool(j.get("cancel_requested"))) for j in jobs)

    def _sample(self, jobs: list[dict], now: float) -> None:
        for j in jobs:
            if j["status"] == "running":
                s = self._samples.setdefault(j["id"], deque(maxlen=40))
                if not s or s[-1][1] != (j.get("progress_done") or 0):
                    s.append((now, j.get("progress_done") or 0))

    def rate(self, job: dict, now: float) -> float | None:
        """Items per second over the last ten seconds of samples (else since the job started)."""
        s = [p for p in self._samples.get(job["id"], ()) if now - p[0] <= 10]
        if len(s) >= 2 and s[-1][0] - s[0][0] >= 1:
            return (s[-1][1] - s[0][1]) / (s[-1][0] - s[0][0])
        d = duration(job)
        done = job.get("progress_done") or 0
        return done / d if d and done and d >= 1 else None

    def remaining(self, job: dict, now: float) -> float | None:
        """Seconds ``job`` still needs: from its rate when it has one, else its typical duration."""
        if job["status"] in FINAL:
            return 0.0
        typical = self._typical.get(job["name"])
        done, total = job.get("progress_done") or 0, job.get("progress_total")
        if job["status"] == "running":
            r = self.rate(job, now)
            if total and r and done < total:
                return (total - done) / r
            if typical is not None:
                return max(typical - (duration(job) or 0), 0.5)
            return None
        return typical

    def batch_eta(self, jobs: list[dict], now: float) -> float | None:
        """Seconds left for every job shown, smoothed so that it drifts rather than jumps; None
        while some job has neither a rate nor a history."""
        parts = [self.remaining(j, now) for j in jobs]
        if not jobs or any(p is None for p in parts):
            self._deadline = None
            return None
        target = now + sum(parts)
        self._deadline = target if self._deadline is None else self._deadline + 0.3 * (target - self._deadline)
        return max(self._deadline - now, 0.0)

    def frame(self, jobs: list[dict], width: int, now: float):
        from rich.console import Group
        from rich.text import Text

        done = sum(j["status"] in FINAL for j in jobs)
        head = Text.assemble((f"{self.title} ", "bold"), f"{done}/{len(jobs)} done")
        created = [parse_iso(j["created_at"]) for j in jobs if j.get("created_at")]
        if created and done == len(jobs):  # the batch's own span, not this watch's
            ends = [parse_iso(j["finished_at"]) for j in jobs if j.get("finished_at")]
            head.append(f" · took {fmt_clock((max(ends) - min(created)).total_seconds())}" if ends else "")
        elif created:
            head.append(f" · {fmt_clock((utcnow() - min(created)).total_seconds())} elapsed")
        left = self.batch_eta(jobs, now) if done < len(jobs) else None
        if left is not None:
            head.append(f" · about {fmt_clock(left)} left")
        bad = sum(j["status"] in ("failed", "cancelled") for j in jobs)
        warned = sum(bool(j.get("warnings")) for j in jobs)
        if bad:
            head.append(f" · {bad} failed or cancelled", style="red")
        if warned:
            head.append(f" · {warned} with warnings", style="yellow")
        name_w = min(max([len(f"{j['name']} #{j['id']}") for j in jobs] + [8]), max(width // 3, 12))
        bar_w = max(min(width - name_w - 40, 24), 8)
        lines = [head]
        for j in jobs:
            mark, words, bar = self._row(j, bar_w, now)
            name = Text(f"{j['name']} #{j['id']}", style="dim" if j["status"] == "queued" else "")
            name.truncate(name_w, overflow="ellipsis", pad=True)
            line = Text.assemble(mark, " ", name, " ", bar if bar is not None else " " * bar_w, " ", words)
            line.truncate(width - 1, overflow="ellipsis")
            lines.append(line)
        return Group(*lines)

    def _row(self, j: dict, bar_w: int, now: float):
        """(mark, words, bar or None) for one job: a bar only for a running job with a known total."""
        from rich.text import Text
        st = j["status"]
        done, total = j.get("progress_done") or 0, j.get("progress_total")
        if st == "queued":
            typical = self._typical.get(j["name"])
            return (Text("·", style="dim"),
                    Text("queued" + (f", usually {fmt_duration(typical)}" if typical else ""), style="dim"), None)
        if st == "running":
            words, bar = [], None
            if total:
                words.append(f"{done:,}/{total:,}")
                filled = round(bar_w * min(done, total) / total)
                bar = Text.assemble(("━" * filled, "yellow"), ("─" * (bar_w - filled), "grey42"))
            else:
                words.append(f"{done:,} done" if done else "starting")
            r = self.rate(j, now)
            if r:
                words.append(f"{r:,.0f}/s" if r >= 10 else f"{r:.1f}/s")
            rem = self.remaining(j, now)
            if total and done >= total:
                words.append("finishing")
            elif rem is not None:
                words.append(f"{fmt_clock(rem)} left")
            if j.get("cancel_requested"):
                words.append("cancelling")
            return Text("▸", style="yellow"), Text(" · ".join(words)), bar
        took = fmt_duration(duration(j))
        if st == "success" and j.get("warnings"):
            return (Text("⚠", style="yellow"),
                    Text(f"success in {took}, {len(j['warnings'])} warning(s): {j['warnings'][0]}", style="yellow"),
                    None)
        if st == "success":
            return Text("✓", style="green"), Text(f"success in {took}", style="green"), None
        err = (j.get("error") or "").strip().splitlines()
        return (Text("✗", style="red"),
                Text(f"{st}" + (f" in {took}" if j.get('started_at') else "") + (f": {err[0]}" if err else ""),
                     style="red" if st == "failed" else "magenta"), None)


def fmt_clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


# -- status --watch ------------------------------------------------------------------------------------

class StatusWatch(Watch):
    """Every batch with an active job, including batches queued after the watch began, until Ctrl-C
    (or ``iterations``). When nothing is active it says so once and stops redrawing."""

    title = "active"

    def __init__(self, ledger_path: Path, *, live: bool | None, every: float, iterations: int, after: float,
                 console=None):
        super().__init__(ledger_path, [], live=live, every=every, console=console, say_earlier=False)
        self.iterations, self.after, self._count = iterations, after, 0
        self._warned: set[int] = set()
        self._batches: list[int] = []
        self._idle_since: str | None = None

    def _poll(self, ledger) -> list[dict]:
        active = ledger.active()
        for j in active:
            if j["batch_id"] not in self._batches:
                self._batches.append(j["batch_id"])
        shown = [b for b in self._batches if any(j["batch_id"] == b for j in active)] or self._batches[-1:]
        self._batches = [b for b in self._batches if b in shown]
        ids = sorted({j["id"] for b in shown for j in ledger.jobs(batch_id=b, newest_first=False)}
                     | {j["id"] for j in active})
        self.ids = ids
        for j, reason in ledger.stalled(self.after):
            if j["id"] not in self._warned:
                self._warned.add(j["id"])
                self.line(f"job {j['id']} {j['name']} is stalled: {reason} (jobctl why {j['id']})")
        if active:
            self._idle_since = None
        elif self._idle_since is None:
            self._idle_since = fmt_ts(utcnow())[11:19]
            if not self.live:
                self.line("no active jobs" + (f"; last batch {self._batches[-1]} is done" if self._batches else ""))
        self._count += 1
        if self.iterations and self._count >= self.iterations:
            self.halt.set()
        self.title = "active" if active else f"idle since {self._idle_since} ·"
        return super()._poll(ledger) if ids else []

    def _signature(self, jobs: list[dict]) -> tuple:
        return (self.title,) + super()._signature(jobs)

    def frame(self, jobs: list[dict], width: int, now: float):
        if not jobs:
            from rich.text import Text
            return Text(f"no active jobs (idle since {self._idle_since}); waiting for new batches, Ctrl-C stops",
                        style="dim")
        return super().frame(jobs, width, now)


def watch_status(settings: Settings, *, interval: float, iterations: int, after: float, as_json: bool,
                 live: bool | None = None) -> None:
    """`status --watch`: the live frame on a terminal, plain lines otherwise, until Ctrl-C."""
    if as_json:
        raise UsageError("--watch shows a live view; leave out --json (or poll `status --json`)")
    w = StatusWatch(settings.ledger_path, live=live, every=interval, iterations=iterations, after=after)
    if not w.live:
        w.line(f"watching {settings.ledger_path} every {interval:g}s" + ("" if iterations else "; Ctrl-C stops"))
    try:
        w.run()  # in this thread: Ctrl-C ends it
    except KeyboardInterrupt:
        pass
