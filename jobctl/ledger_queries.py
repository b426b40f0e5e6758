"""What the ledger answers without changing it: the reads of :class:`~jobctl.ledger.Ledger`.

Jobs and their logs, what a batch needs and owns, whether a running job should stop, and which
running jobs are stalled or suspect. Every state transition is in :mod:`jobctl.ledger`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Iterable

from . import liveness
from .errors import NotFound
from .ledger_schema import JOB_COLUMNS, Status, job_dict
from .ledger_store import LedgerStore
from .timeutil import parse_iso


class LedgerQueries(LedgerStore):
    """The reads of a ledger (the base class of :class:`~jobctl.ledger.Ledger`)."""

    # -- reads ------------------------------------------------------------------------------
    def get(self, job_id: int) -> dict:
        row = self.conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job with id {job_id} in the ledger {self.path}")
        return job_dict(row)

    def jobs(self, *, name: str | None = None, status: str | None = None, group: str | None = None,
             since: str | None = None, batch_id: int | None = None, ids: Iterable[int] | None = None,
             limit: int | None = None, newest_first: bool = True, before_id: int | None = None) -> list[dict]:
        where, args = [], []
        if status == "warning":  # not a status: a success that carries warnings
            status = None
            where.append("status = 'success' AND warnings IS NOT NULL")
        for col, val in (("name", name), ("status", status), ("grp", group), ("batch_id", batch_id)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
        if before_id is not None:   # keyset paging: a page costs the same at row 100,000 as at row 1
            where.append("id < ?")
            args.append(before_id)
        if since:
            where.append("created_at >= ?")
            args.append(since)
        if ids is not None:
            ids = list(ids)
            where.append(f"id IN ({','.join('?' * len(ids))})" if ids else "0")
            args.extend(ids)
        sql = f"SELECT {JOB_COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id " + ("DESC" if newest_first else "ASC")
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [job_dict(r) for r in self.conn.execute(sql, args)]

    def active(self) -> list[dict]:
        return [job_dict(r) for r in self.conn.execute(
            f"SELECT {JOB_COLUMNS} FROM jobs WHERE status IN ('queued','running') ORDER BY id")]

    def deps(self, job_id: int) -> list[dict]:
        return [job_dict(r) for r in self.conn.execute(
            f"SELECT {', '.join('j.' + c.strip() for c in JOB_COLUMNS.split(','))} FROM job_deps d "
            "JOIN jobs j ON j.id = d.depends_on WHERE d.job_id=? ORDER BY j.id", (job_id,))]

    def events(self, job_id: int) -> list[dict]:
        return [dict(r) for r in self.conn.execute(
            "SELECT at, level, message FROM events WHERE job_id=? ORDER BY id", (job_id,))]

    def durations(self, name: str, limit: int = 5) -> list[float]:
        """Seconds taken by the last successful runs of ``name`` (newest first)."""
        out = []
        for r in self.conn.execute("SELECT started_at, finished_at FROM jobs WHERE name=? AND status='success' "
                                   "AND started_at IS NOT NULL ORDER BY id DESC LIMIT ?", (name, limit)):
            a, b = parse_iso(r[0]), parse_iso(r[1])
            if a and b:
                out.append((b - a).total_seconds())
        return out

    def _newest_run(self, c: sqlite3.Connection, job_id: int) -> sqlite3.Row:
        """The newest run standing for job ``job_id``: itself, its retries (transitively), or a later job
        with the same name and parameters."""
        row = c.execute(f"SELECT {JOB_COLUMNS}, params_key FROM jobs WHERE id=?", (job_id,)).fetchone()
        best, frontier = row, [job_id]
        while frontier:
            for r in c.execute(f"SELECT {JOB_COLUMNS}, params_key FROM jobs WHERE retry_of=?", (frontier.pop(),)):
                frontier.append(r["id"])
                best = r if r["id"] > best["id"] else best
        same = c.execute(f"SELECT {JOB_COLUMNS}, params_key FROM jobs WHERE name=? AND params_key=? AND id>? "
                         "ORDER BY id DESC LIMIT 1", (row["name"], row["params_key"], best["id"])).fetchone()
        return same or best

    # -- what a batch needs --------------------------------------------------------------------
    def needed(self, ids: Iterable[int]) -> list[int]:
        """``ids`` and every unfinished job they depend on, transitively, wherever it was queued: what
        a waiter for ``ids`` has to run or wait for (a reused job may depend on another batch's)."""
        ids = list(ids)
        if not ids:
            return []
        seeds = ",".join("(?)" for _ in ids)
        rows = self.conn.execute(
            f"WITH RECURSIVE up(id) AS (VALUES {seeds} "
            "  UNION SELECT d.depends_on FROM job_deps d JOIN up ON d.job_id = up.id "
            "  JOIN jobs p ON p.id = d.depends_on WHERE p.status IN ('queued','running')) "
            "SELECT id FROM up", ids).fetchall()
        extra = sorted({r[0] for r in rows} - set(ids))
        return ids + extra

    def ours_alone(self, job_id: int, ids: Iterable[int]) -> bool:
        """Whether the batch of ``ids`` alone owns ``job_id`` and no unfinished job outside it needs it:
        then a waiter for ``ids`` may cancel it; otherwise it gives it back with
        :meth:`~jobctl.ledger.Ledger.requeue`."""
        return job_id in self._ours_alone(self.conn, list(ids))

    def _ours_alone(self, c: sqlite3.Connection, ids: list[int]) -> set[int]:
        if not ids:
            return set()
        marks = ",".join("?" * len(ids))
        ours = c.execute(f"SELECT batch_id FROM batch_jobs WHERE job_id IN ({marks}) GROUP BY batch_id "
                         "HAVING COUNT(DISTINCT job_id) = ? ORDER BY batch_id DESC LIMIT 1",
                         (*ids, len(set(ids)))).fetchone()
        if ours is None:
            return set()
        mine = {r[0] for r in c.execute(
            f"SELECT j.id FROM jobs j WHERE j.id IN ({marks}) AND j.status IN ('queued','running') AND NOT EXISTS "
            "(SELECT 1 FROM batch_jobs o WHERE o.job_id=j.id AND o.batch_id != ?)", (*ids, ours[0]))}
        if not mine:
            return set()
        protected: set[int] = set()
        frontier = [r[0] for r in c.execute("SELECT id FROM jobs WHERE status IN ('queued','running')")
                    if r[0] not in mine]
        while frontier:  # everything some other unfinished job waits for, transitively
            up = frontier.pop()
            for (dep,) in c.execute("SELECT depends_on FROM job_deps WHERE job_id=?", (up,)).fetchall():
                if dep not in protected:
                    protected.add(dep)
                    frontier.append(dep)
        return mine - protected

    # -- running ----------------------------------------------------------------------------
    def should_stop(self, job_id: int) -> bool:
        """Whether a running job should stop: cancel requested, or no longer running (a read: it
        works while another process holds the write lock). Unknown (unreadable ledger) is False."""
        try:
            row = self.conn.execute("SELECT status, cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()
        except sqlite3.DatabaseError:
            return False
        return row is None or row[0] != Status.RUNNING or bool(row[1])

    # -- stalled ----------------------------------------------------------------------------
    clock_tolerance_s: float = liveness.CLOCK_TOLERANCE_S

    def stall_reason(self, job: dict, after: float, now: datetime | None = None) -> str | None:
        """Why a running job counts as stalled, or None: its worker process is gone on this host; or
        its heartbeat (a NULL one counts from the start) is older than ``after`` seconds — plus the
        clock tolerance when another host wrote it; or it is *suspect*: its heartbeat lies further
        in the future than the clock tolerance, so its age cannot be judged (a worker whose clock is
        wrong) and nothing says a process still acts on it."""
        return liveness.stall_reason(job, after, now, host=self.host, tolerance=self.clock_tolerance_s)

    def stalled(self, after: float = 300, now: datetime | None = None) -> list[tuple[dict, str]]:
        """Running jobs that are stalled or suspect, with the reason."""
        out = []
        for job in self.jobs(status="running", newest_first=False):
            reason = self.stall_reason(job, after, now)
            if reason:
                out.append((job, reason))
        return out
