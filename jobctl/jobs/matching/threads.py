"""BLAS threads and cores for the matching engine.

The engine runs tiles on its own small thread pool, so BLAS inside each tile must be
single-threaded (otherwise threads multiply). threadpoolctl finds and limits every BLAS that
numpy and scipy loaded (OpenBLAS, MKL, BLIS), whatever its symbol names.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None


@contextmanager
def blas_threads(n: int):
    """Run the block with BLAS limited to ``n`` threads; yields False when no BLAS was found to limit."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    blas = _controller.select(user_api="blas")
    if not blas.lib_controllers:
        yield False
        return
    with blas.limit(limits=n):
        yield True


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
