"""Fault injection for the crash-consistency suite (tests/reliability).

``JOBCTL_FAULT="point=N"`` makes this process SIGKILL itself the N-th time it reaches ``point``:

- ``commit``: inside a job's platform write transaction, just before COMMIT (mid-batch);
- ``checkpoint``: at a batch boundary, after the batch committed;
- ``swap``: inside the shadow-table swap, after the rename, before COMMIT.

Unset (always, outside tests) it costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

_spec = os.environ.get("JOBCTL_FAULT", "")
_target: dict[str, int] = {}
for part in filter(None, _spec.split(",")):
    point, _, n = part.partition("=")
    _target[point.strip()] = int(n or 1)
_seen: dict[str, int] = {}


def reach(point: str) -> None:
    if not _target or point not in _target:
        return
    _seen[point] = _seen.get(point, 0) + 1
    if _seen[point] == _target[point]:
        os.kill(os.getpid(), signal.SIGKILL)
