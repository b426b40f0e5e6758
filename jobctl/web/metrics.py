"""/metrics in the Prometheus text format, read from the ledger at each scrape.

An operator can alert on ``time() - jobctl_job_last_success_timestamp_seconds{job="match-scores"} > 8*86400``.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..ledger import Ledger, Status
from ..timeutil import parse_iso

RECENT_JOBS = 10_000  # a scrape stays cheap however long the ledger's history grows
BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, float("inf"))


class LedgerCollector:
    def __init__(self, ledger: Ledger):
        self.ledger = ledger

    def collect(self):
        conn = self.ledger.conn
        jobs = GaugeMetricFamily("jobctl_jobs", "Jobs in the ledger by job name and status.", labels=["job", "status"])
        for name, status, n in conn.execute("SELECT name, status, COUNT(*) FROM jobs GROUP BY name, status ORDER BY 1, 2"):
            jobs.add_metric([name, status], n)
        yield jobs
        last = GaugeMetricFamily("jobctl_job_last_success_timestamp_seconds",
                                 "Unix time at which each job last finished successfully.", labels=["job"])
        for name, at in conn.execute("SELECT name, MAX(finished_at) FROM jobs WHERE status='success' GROUP BY name"):
            last.add_metric([name], parse_iso(at).timestamp())
        yield last
        hist = HistogramMetricFamily("jobctl_job_duration_seconds",
                                     f"Run time of finished jobs (the newest {RECENT_JOBS:,} jobs of the ledger).",
                                     labels=["job", "status"])
        sql = ("SELECT name, status, " + ", ".join(
            f"SUM(d <= {b})" for b in BUCKETS[:-1]) + ", COUNT(*), SUM(d) FROM (SELECT name, status, "
               "(julianday(finished_at) - julianday(started_at)) * 86400.0 AS d FROM jobs "
               "WHERE id > (SELECT COALESCE(MAX(id), 0) FROM jobs) - ? "
               "AND started_at IS NOT NULL AND finished_at IS NOT NULL) GROUP BY name, status ORDER BY 1, 2")
        for name, status, *counts in conn.execute(sql, (RECENT_JOBS,)):
            *cum, total, dsum = counts
            buckets = [(str(b), c) for b, c in zip(BUCKETS[:-1], cum)] + [("+Inf", total)]
            hist.add_metric([name, status], buckets, dsum or 0.0)
        yield hist
        running = GaugeMetricFamily("jobctl_jobs_active", "Jobs queued or running now.", labels=["status"])
        for st in (Status.QUEUED.value, Status.RUNNING.value):
            running.add_metric([st], conn.execute("SELECT COUNT(*) FROM jobs WHERE status=?", (st,)).fetchone()[0])
        yield running


def render(ledger: Ledger) -> tuple[bytes, str]:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(LedgerCollector(ledger))
    return generate_latest(reg), CONTENT_TYPE_LATEST
