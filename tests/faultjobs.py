"""Toy jobs for the fault tests (tests/test_runner_faults.py), apart from tests/toyjobs.py so that
tests listing the toy catalogue stay as they are. Imported as a plugin (JOBCTL_PLUGINS=toyjobs,faultjobs)
they join the global catalogue; in-process tests call :func:`register` on the toy registry.
"""

from __future__ import annotations

import os
import time

from jobctl.errors import JobFailed
from jobctl.registry import REGISTRY, Param, Registry, job
from toyjobs import TOY_PARAMS, _toy


def register(reg: Registry) -> Registry:
    common = dict(summary="A toy job", description="Writes one row per batch.", when="In tests.",
                  impact="None.", params=TOY_PARAMS, registry=reg, pause_ms=0, resumable=True)

    # A pair whose upstream takes `now` and whose downstream does not: two enqueues with different
    # `now` reuse the queued downstream, which keeps its edge to the first batch's upstream.
    @job("toy-stamp", group="pair", uses_now=True, **common)
    def toy_stamp(ctx):
        return _toy(ctx, "toy-stamp")

    @job("toy-index", group="pair", depends_on=["toy-stamp"], **common)
    def toy_index(ctx):
        return _toy(ctx, "toy-index")

    @job("toy-shadow", group="shadow", summary="A toy rebuild", description="Builds toy_big__new, swaps it in.",
         when="In tests.", impact="Disk.", registry=reg, pause_ms=0,
         params=[*TOY_PARAMS, Param("kb", "int", 64, min=1, help="kilobytes per row")])
    def toy_shadow(ctx):
        return _toy_shadow(ctx)

    return reg


def _toy_shadow(ctx) -> dict:
    """A rebuild into a shadow table, one incompressible row of ``kb`` KB per batch, then a swap."""
    from jobctl.db import swap_in
    ctx.db.execute('CREATE TABLE IF NOT EXISTS "toy_big__new" (i INTEGER PRIMARY KEY, data BLOB)')
    n = ctx.params["n"]
    ctx.set_total(n)
    for i in range(n):
        with ctx.transaction() as c:
            c.execute('INSERT INTO "toy_big__new" VALUES (?, randomblob(?))', (i, ctx.params["kb"] * 1024))
            if ctx.params["sleep_ms"]:
                time.sleep(ctx.params["sleep_ms"] / 1000)
            if ctx.params["fail_at"] is not None and i == ctx.params["fail_at"]:
                raise JobFailed(f"toy failure in batch {i}")
        ctx.checkpoint(done=i + 1)
    swap_in(ctx.db, "toy_big__new", "toy_big")
    return {"rows": n}


if "faultjobs" in os.environ.get("JOBCTL_PLUGINS", "") and "toy-stamp" not in REGISTRY:
    register(REGISTRY)
