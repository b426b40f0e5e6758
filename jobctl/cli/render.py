"""Rendering for the CLI: rich tables on stdout, messages on stderr, JSON for scripts.

Nothing here changes state.
"""

from __future__ import annotations

import json
import sys
from typing import Iterable

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from ..textfmt import duration, eta, fmt_duration, fmt_progress, short

__all__ = ["STATUS_STYLE", "duration", "emit_json", "eta", "fmt_duration", "fmt_progress", "jobs_table", "short",
           "stalled_banner", "status_text", "stderr", "stdout"]

STATUS_STYLE = {"queued": "cyan", "running": "yellow", "success": "green", "failed": "bold red",
                "cancelled": "magenta"}


def stdout() -> Console:
    return Console(width=None if sys.stdout.isatty() else 200, soft_wrap=False)


def stderr() -> Console:
    return Console(stderr=True, width=None if sys.stderr.isatty() else 200)


def emit_json(obj) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=str) + "\n")


def status_text(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, '')}]{status}[/]"


def jobs_table(jobs: Iterable[dict], title: str | None = None) -> Table:
    t = Table(title=title, show_lines=False)
    for col in ("id", "job", "group", "status", "trigger", "started", "duration", "progress", "error"):
        t.add_column(col, no_wrap=col != "error")
    for j in jobs:
        t.add_row(str(j["id"]), j["name"], j["group"], status_text(j["status"]), j.get("trigger") or "",
                  (j.get("started_at") or "")[:19].replace("T", " "), fmt_duration(duration(j)),
                  fmt_progress(j), escape(short(j.get("error"))))
    return t


def stalled_banner(stalled: list[tuple[dict, str]]) -> Panel:
    lines = [f"job {j['id']} {j['name']}: {reason}" for j, reason in stalled]
    lines.append("Cancel them with `jobctl cancel ID`, or mark them failed with `jobctl stalled --cleanup`, then retry.")
    return Panel("\n".join(lines), title=f"⚠ {len(stalled)} stalled job(s)", border_style="red")
