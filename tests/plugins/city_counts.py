"""An example plugin job: one module, loaded with ``JOBCTL_PLUGINS=plugins.city_counts`` (this folder's
parent on PYTHONPATH). tests/test_plugin_job.py runs it end to end; README's "Writing a job" shows it."""

from __future__ import annotations

from jobctl.jobs.shared import ACTIVE_USER
from jobctl.registry import Param, job

DDL = 'CREATE TABLE "{name}" (city TEXT PRIMARY KEY, users INTEGER NOT NULL)'


@job("city-counts", group="insights", depends_on=["searchable-user"], writes=["city_counts"], rebuilds=True,
     summary="Counts active users per city", description="How many active users live in each city.",
     when="Daily.", impact="Operators see where the community grows.",
     params=[Param("min_users", "int", 1, min=1, help="leave out cities with fewer users")],
     batch_size=500, pause_ms=5)
def city_counts(ctx):
    rows = ctx.db.execute(f"SELECT city, count(*) FROM users WHERE {ACTIVE_USER} AND city IS NOT NULL "
                          "GROUP BY city HAVING count(*) >= ? ORDER BY city", (ctx.params["min_users"],)).fetchall()
    ctx.set_total(len(rows))
    with ctx.rebuild("city_counts", DDL) as new:          # built aside, swapped in at the end
        for start in range(0, len(rows), ctx.batch_size):
            batch = rows[start:start + ctx.batch_size]
            new.insert(batch)
            ctx.checkpoint(advance=len(batch))             # progress, heartbeat, cancel, pause
    return {"cities": len(rows)}                            # the result shown by `jobctl show`
