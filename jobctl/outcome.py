"""What a job's result says beyond success: the warnings of partial work.

A job reports work it could not do in its result: its own ``"warnings"`` (a list of strings, or
one string), or positive ``"failed"`` / ``"skipped"`` item counts. The ledger stores the list
with the success; the job's status stays ``success``.
"""

from __future__ import annotations

from typing import Any


def warnings_in(result: Any) -> list[str]:
    """The warnings a job's result carries: its own ``"warnings"`` (a list of strings, or one), and
    positive ``"failed"`` / ``"skipped"`` item counts (with the first of its ``"errors"``). A job
    with warnings still succeeded; the warnings say which part of its work it could not do."""
    if not isinstance(result, dict):
        return []
    own = result.get("warnings")
    out = [str(w) for w in own] if isinstance(own, (list, tuple)) else ([str(own)] if own else [])
    errors = result.get("errors") if isinstance(result.get("errors"), list) else []
    for key in ("failed", "skipped"):
        n = result.get(key)
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            first = f": {errors[0]}" if key == "failed" and errors else ""
            out.append(f"{n} item{'s' if n != 1 else ''} {key}{first}")
    return out
