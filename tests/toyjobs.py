"""Test-only jobs for the engine. Imported as a plugin (JOBCTL_PLUGINS=toyjobs) they join the
global catalogue of that process; tests in-process call :func:`register` on a fresh Registry.

Each toy job writes one row per batch into ``toy_out`` in one transaction, so a test can see
exactly which batches committed.
"""

from __future__ import annotations

import os
import time

from jobctl.errors import JobFailed
from jobctl.registry import REGISTRY, Param, Registry, job

TOY_PARAMS = [
    Param("n", "int", 3, min=0, help="number of batches"),
    Param("fail_at", "int", None, min=0, help="raise in this batch (0-based), before committing it"),
    Param("sleep_ms", "int", 0, min=0, help="work time per batch"),
    Param("label", "str", "", help="free text"),
]


def _toy(ctx, name: str) -> dict:
    ctx.db.execute("CREATE TABLE IF NOT EXISTS toy_out (job TEXT, i INTEGER, label TEXT, PRIMARY KEY (job, i))")
    n = ctx.params["n"]
    start = ctx.cursor + 1 if isinstance(ctx.cursor, int) else 0
    ctx.set_total(n)
    ctx.checkpoint(done=start, pause=False)
    for i in range(start, n):
        with ctx.transaction() as c:
            c.execute("INSERT OR REPLACE INTO toy_out VALUES (?,?,?)", (name, i, ctx.params["label"]))
            if ctx.params["sleep_ms"]:
                time.sleep(ctx.params["sleep_ms"] / 1000)
            if ctx.params["fail_at"] is not None and i == ctx.params["fail_at"]:
                raise JobFailed(f"toy failure in batch {i}")
        ctx.checkpoint(done=i + 1, cursor=i)
    ctx.log(f"{name} wrote {n - start} batches")
    return {"batches": n - start}


def register(reg: Registry) -> Registry:
    common = dict(summary="A toy job", description="Writes one row per batch.", when="In tests.",
                  impact="None.", params=TOY_PARAMS, registry=reg, pause_ms=0, resumable=True)

    @job("toy-a", group="toy", **common)
    def toy_a(ctx):
        return _toy(ctx, "toy-a")

    @job("toy-b", group="toy", depends_on=["toy-a"], **common)
    def toy_b(ctx):
        return _toy(ctx, "toy-b")

    @job("toy-c", group="toy", depends_on=["toy-b"], **common)
    def toy_c(ctx):
        return _toy(ctx, "toy-c")

    @job("toy-x", group="other", **common)
    def toy_x(ctx):
        return _toy(ctx, "toy-x")

    @job("toy-y", group="other2", depends_on=["toy-x"], uses_now=True, **common)
    def toy_y(ctx):
        out = _toy(ctx, "toy-y")
        out["now"] = ctx.now_str
        return out

    @job("toy-noop", group="noop", summary="no-op", description="Does nothing.", when="bench", impact="none",
         registry=reg, pause_ms=0)
    def toy_noop(ctx):
        return {}

    @job("toy-bug", group="toy2", summary="buggy", description="Raises a bug.", when="tests", impact="none",
         registry=reg, pause_ms=0)
    def toy_bug(ctx):
        ctx.set_total(1)
        return {"x": 1 / 0}

    return reg


if "toyjobs" in os.environ.get("JOBCTL_PLUGINS", "") and "toy-a" not in REGISTRY:
    register(REGISTRY)
