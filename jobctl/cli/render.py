"""Rendering for the CLI: tables on stdout, messages on stderr, JSON for scripts.

Tables fit the terminal: each column says how it gives way when the width runs short (the id and
status columns never do; long text is cut with an ellipsis; the least useful columns drop first).
Piped output follows ``COLUMNS`` when it is set and is otherwise plain tab-separated lines, one
per row, for ``cut`` and ``awk``. Nothing here changes state.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Sequence

from ..textfmt import duration, eta, fmt_duration, fmt_progress, short

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["STATUS_STYLE", "Col", "duration", "emit_json", "emit_table", "escape", "eta", "fmt_duration", "fmt_progress",
           "jobs_table", "short", "summary_line", "stalled_banner", "status_cell", "status_text", "stderr", "stdout"]

STATUS_STYLE = {"queued": "cyan", "running": "yellow", "success": "green", "failed": "bold red",
                "cancelled": "magenta", "warning": "yellow"}
WARN = "⚠"


def _width(stream) -> int | None:
    """$COLUMNS when set; else 0 on a terminal (rich measures it) and None when piped (plain lines)."""
    cols = os.environ.get("COLUMNS", "")
    if cols.isdigit() and int(cols) > 0:
        return int(cols)
    return 0 if stream.isatty() else None


def _console(stream, width: int | None, **kw) -> "Console":
    from rich.console import Console
    w = width or _width(stream)
    # Piped without COLUMNS, text other than tables is not wrapped at rich's default of 80.
    return Console(file=stream, width=None if w == 0 else (w or 200), soft_wrap=False, highlight=False, **kw)


def stdout(width: int | None = None) -> "Console":
    return _console(sys.stdout, width)


def stderr() -> "Console":
    return _console(sys.stderr, None)


def escape(text: str) -> str:
    """``text`` safe inside rich markup (rich is imported when something is printed, not before)."""
    from rich.markup import escape as rich_escape
    return rich_escape(text)


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, '')}]{status}[/]"


def status_cell(job: dict) -> tuple[str, str]:
    """The status as shown in tables: a success with warnings is marked, its count beside it."""
    warned = job.get("warnings") or []
    if job.get("status") == "success" and warned:
        return f"success {WARN}{len(warned)}", STATUS_STYLE["warning"]
    return job.get("status") or "", STATUS_STYLE.get(job.get("status"), "")


def note_of(job: dict) -> str:
    """The one line a table has room for: the error, else the warnings."""
    if job.get("error"):
        return short(job["error"], 200)
    return short("; ".join(job.get("warnings") or []), 200)


# -- tables -----------------------------------------------------------------------------------------

@dataclass
class Col:
    """A column: ``drop`` 0 never drops (higher numbers drop first when the width runs short);
    ``shrink`` columns are cut with an ellipsis, down to ``want`` before anything drops and down
    to ``min`` before the columns that may drop are all gone."""

    name: str
    drop: int = 0
    shrink: bool = False
    min: int = 4
    justify: str = "left"
    want: int = 0


Cell = "str | tuple[str, str]"  # text, or (text, rich style)


def _plain(cell) -> str:
    text = cell[0] if isinstance(cell, tuple) else cell
    return " ".join(str(text).split())


PAD = 2  # per column: one space of padding on its right and the box's column divider


def _natural(cols: Sequence[Col], rows: list[list]) -> list[int]:
    return [max([len(c.name)] + [len(_plain(r[i])) for r in rows]) for i, c in enumerate(cols)]


def _floor(c: Col, natural: int) -> int:
    return min(natural, max(c.min, len(c.name))) if c.shrink else natural


def fit(cols: Sequence[Col], rows: list[list], width: int) -> dict[int, int]:
    """{column index: width} for the columns that fit ``width``: columns drop by ``drop`` (highest
    first) until the rest fit with shrinkable ones cut to their ``min``; the room left then goes
    to the shrinkable columns in their order, up to their natural width."""
    natural = _natural(cols, rows)
    keep = list(range(len(cols)))

    def need(idx, floor=_floor):
        return sum(floor(cols[i], natural[i]) + PAD for i in idx)

    def wanted(c: Col, n: int) -> int:
        return max(_floor(c, n), min(n, c.want))

    for i in sorted((i for i, c in enumerate(cols) if c.drop), key=lambda i: -cols[i].drop):
        if need(keep, wanted) <= width:
            break
        if need(keep) > width or cols[i].want == 0:
            keep.remove(i)
    widths = {i: _floor(cols[i], natural[i]) for i in keep}
    room = width - need(keep)
    for i in keep:
        if cols[i].shrink and room > 0:
            extra = min(room, natural[i] - widths[i])
            widths[i] += extra
            room -= extra
    return widths


def emit_table(cols: Sequence[Col], rows: list[list], *, title: str | None = None, console=None,
               width: int | None = None) -> None:
    """Print ``rows`` under ``cols`` on stdout (or ``console``): a table that fits the width, or
    tab-separated lines when stdout is piped without COLUMNS."""
    if console is None and width is None and _width(sys.stdout) is None:
        sys.stdout.write("\t".join(c.name for c in cols) + "\n")
        for r in rows:
            sys.stdout.write("\t".join(_plain(c) for c in r) + "\n")
        return
    from rich import box
    from rich.table import Table
    from rich.text import Text
    con = console or stdout(width)
    widths = fit(cols, rows, con.width)
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1, 0, 0), title_justify="left",
              expand=False, show_edge=False)
    for i, w in widths.items():
        t.add_column(cols[i].name if len(cols[i].name) <= w else cols[i].name[:max(w - 1, 1)] + "…",
                     justify=cols[i].justify, no_wrap=True, width=w, overflow="ellipsis")
    for r in rows:
        cells = []
        for i, w in widths.items():
            text, style = r[i] if isinstance(r[i], tuple) else (r[i], "")
            cell = Text(_plain(text), style=style)
            cell.truncate(w, overflow="ellipsis")
            cells.append(cell)
        t.add_row(*cells)
    con.print(t)


JOB_COLS = [Col("id", justify="right"), Col("job", shrink=True, min=12, want=24), Col("group", drop=4),
            Col("status"), Col("trigger", drop=5), Col("started", drop=2), Col("duration", drop=3, justify="right"),
            Col("progress", drop=6, justify="right"), Col("note", drop=1, shrink=True, min=10)]


def job_row(j: dict) -> list:
    started = (j.get("started_at") or "")[5:19].replace("T", " ")
    done, total = j.get("progress_done") or 0, j.get("progress_total")
    progress = f"{done}/{total}" if total else (str(done) if done else "–")
    note = note_of(j)
    return [str(j["id"]), j["name"], j["group"], status_cell(j), j.get("trigger") or "", started,
            fmt_duration(duration(j)) if j.get("started_at") else "–", progress,
            (note, "red" if j.get("error") else ("yellow" if note else ""))]


def jobs_table(jobs: Iterable[dict], title: str | None = None, *, console=None, width: int | None = None) -> None:
    """Jobs as a table (history, a queued batch): id and status always, the rest as room allows."""
    emit_table(JOB_COLS, [job_row(j) for j in jobs], title=title, console=console, width=width)


def stalled_banner(stalled: list[tuple[dict, str]]) -> str:
    lines = [f"[bold red]⚠ {len(stalled)} stalled job(s)[/]"]
    lines += [f"  job {j['id']} {j['name']}: {reason} (jobctl why {j['id']})" for j, reason in stalled]
    first = stalled[0][0]["id"]
    lines.append(f"  cancel with `jobctl cancel {first}`, or mark them failed with `jobctl stalled --cleanup` "
                 f"and re-run with `jobctl retry {first}`")
    return "\n".join(lines)


def summary_line(final: list[dict], batch_id: int | None = None) -> str:
    """One line after a run: counts by outcome, the time taken, and the real job to look at next."""
    from ..timeutil import parse_iso
    by = {k: [j for j in final if j["status"] == k] for k in ("success", "failed", "cancelled")}
    warned = [j for j in by["success"] if j.get("warnings")]
    parts = [f"{len(by['success'])}/{len(final)} succeeded"]
    if warned:
        parts.append(f"{len(warned)} with warnings")
    parts += [f"{len(by[k])} {k}" for k in ("failed", "cancelled") if by[k]]
    starts = [parse_iso(j["started_at"]) for j in final if j.get("started_at")]
    ends = [parse_iso(j["finished_at"]) for j in final if j.get("finished_at")]
    took = f" in {fmt_duration((max(ends) - min(starts)).total_seconds())}" if starts and ends else ""
    where = f"batch {batch_id}: " if batch_id else ""
    first_bad = (by["failed"] or [j for j in by["cancelled"] if "upstream job" not in (j.get("error") or "")]
                 or by["cancelled"] or warned)
    hint = ""
    if first_bad:
        j = first_bad[0]
        verb = "why" if j["status"] == "cancelled" else "show"
        hint = f"; look at job {j['id']} {j['name']}: jobctl {verb} {j['id']}"
    ok = not by["failed"] and not by["cancelled"]
    colour = ("yellow" if warned else "green") if ok else "red"
    return f"[{colour}]{where}{', '.join(parts)}{took}[/]{hint}"
