"""The floors every benchmark is judged against, measured in the same run as the benchmark.

Absolute times move from machine to machine; ratios to these floors much less. Each bench script
calls :func:`print_floors` first, so its figures can be compared with figures from another machine:

- **insert floor**: SQLite ``executemany`` of plain tuples into a WITHOUT ROWID table shaped like
  ``compatibility_reports`` (two integer keys, a short text key, a real, a ~120-byte text), in key
  order, one transaction per 4,000 rows, WAL, synchronous=NORMAL — what jobctl's bulk path can at
  best reach on this disk and CPU.
- **matrix-product floor**: float32 ``A @ B.T`` with numpy's BLAS (all its threads), in GFLOPS.
- **Python floor**: a pure-Python loop of simple integer work, in million iterations per second
  (what per-row Python code costs here).

    .venv/bin/python bench/floors.py
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

INSERT_ROWS = 400_000
ROWS_PER_TRANSACTION = 4_000


def insert_floor(rows: int = INSERT_ROWS, directory: str | None = None) -> float:
    """Rows per second that a bare ``executemany`` writes into a compatibility-shaped table."""
    areas = ("communication", "future", "interests", "intimacy", "lifestyle")
    details = '{"explanation": "You both value honesty and love hiking", "evidence": [1, 2, 3]}' + " " * 40
    data = [(u, v, a, 50.0 + (u * 7 + v) % 50, details)
            for u in range(1, rows // (5 * 40) + 2) for v in range(1, 41) for a in areas][:rows]
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        conn = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE t (user_id INTEGER, candidate_id INTEGER, area TEXT, score REAL, details TEXT,"
                     " PRIMARY KEY (user_id, candidate_id, area)) WITHOUT ROWID")
        t0 = time.perf_counter()
        for i in range(0, len(data), ROWS_PER_TRANSACTION):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO t VALUES (?,?,?,?,?)", data[i:i + ROWS_PER_TRANSACTION])
            conn.execute("COMMIT")
        dt = time.perf_counter() - t0
        conn.close()
    return len(data) / dt


def matmul_floor(n: int = 2048, repeats: int = 5) -> float:
    """float32 matrix-product GFLOPS with numpy's BLAS, best of ``repeats``."""
    import numpy as np
    rng = np.random.default_rng(0)
    a = rng.random((n, 256), dtype=np.float32)
    b = rng.random((n, 256), dtype=np.float32)
    a @ b.T  # warm up the BLAS threads
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b.T
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n * n * 256 / best / 1e9


def python_floor(iterations: int = 3_000_000) -> float:
    """Million iterations per second of a plain Python loop (an add, a multiply, a modulo)."""
    t0 = time.perf_counter()
    acc = 0
    for i in range(iterations):
        acc = (acc + i * 7) % 1_000_003
    return iterations / (time.perf_counter() - t0) / 1e6


def measure() -> dict:
    return {"cores": os.cpu_count(), "insert_rows_per_s": insert_floor(),
            "matmul_gflops": matmul_floor(), "python_mloops_per_s": python_floor()}


def print_floors() -> dict:
    """Measure and print the floors on one line; return them for ratios."""
    f = measure()
    print(f"floors ({f['cores']} cores): insert {f['insert_rows_per_s']:,.0f} rows/s · "
          f"float32 matmul {f['matmul_gflops']:.0f} GFLOPS · python {f['python_mloops_per_s']:.1f} M loops/s",
          flush=True)
    return f


if __name__ == "__main__":
    print_floors()
