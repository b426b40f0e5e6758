"""The job ledger: a small SQLite database that records every job, its state and its log.

Every state transition is a named method made of one guarded statement
(``UPDATE jobs SET status='running' … WHERE id=? AND status='queued'``); when it does not
apply, :class:`~jobctl.errors.TransitionRefused` names the job and the status it found.

    queued → running → success | failed | cancelled;   queued → cancelled

This module owns every transition; the rest of the ledger is split by concern and re-exported here:
the statuses, migrations and row shape in :mod:`jobctl.ledger_schema`, opening the file and the
retried and advisory writes in :mod:`jobctl.ledger_store` (whose ``RETRY_MAX_S`` and
``ADVISORY_TIMEOUT_MS`` are the ones read), the reads in :mod:`jobctl.ledger_queries`, and stalled
or suspect workers in :mod:`jobctl.liveness`.
"""

from __future__ import annotations

import json
import os
import sqlite3
from datetime import datetime
from typing import Any, Callable, Iterable

from .errors import NotFound, TransitionRefused, UpstreamNotDone
from .ledger_queries import LedgerQueries
from .ledger_schema import ACTIVE, FINAL, JOB_COLUMNS, MIGRATIONS, SCHEMA_VERSION, Status, job_dict
from .ledger_store import ADVISORY_TIMEOUT_MS, RETRY_MAX_S, _Stopped
from .liveness import CLOCK_TOLERANCE_S, pid_alive, stall_label
from .outcome import warnings_in
from .registry import params_key
from .timeutil import now_iso

__all__ = ["ACTIVE", "ADVISORY_TIMEOUT_MS", "CLOCK_TOLERANCE_S", "FINAL", "JOB_COLUMNS", "MIGRATIONS", "RETRY_MAX_S",
           "SCHEMA_VERSION", "Ledger", "Status", "job_dict", "pid_alive"]


class Ledger(LedgerQueries):
    """The ledger at ``path`` (created on first use, migrated on open). Its transitions are here; its
    reads come from :class:`~jobctl.ledger_queries.LedgerQueries`, opening it and writing to it from
    :class:`~jobctl.ledger_store.LedgerStore`."""

    # -- enqueue ----------------------------------------------------------------------------
    def enqueue(self, jobs: list[tuple[str, str, dict, list[str]]], *, trigger: str = "manual",
                request: dict | None = None, now: datetime | None = None) -> tuple[int, list[dict]]:
        """Queue ``jobs`` [(name, group, params, depends_on names)] in run order as one batch.

        A job already queued and unstarted with the same name and parameters is reused, not
        duplicated, and the batch becomes one of its owners. Dependency edges link each job to the
        batch's jobs it depends on; a reused job keeps the edges its first batch gave it, so a batch
        may depend on jobs outside itself: :meth:`needed` finds them, and whoever waits for the batch
        runs or waits for them too. Returns (batch_id, job objects in run order).
        """
        def write(c: sqlite3.Connection) -> tuple[int, dict[str, int]]:
            ts = now_iso(now)
            batch_id = c.execute("INSERT INTO batches (created_at, trigger, request) VALUES (?,?,?)",
                                 (ts, trigger, json.dumps(request or {}))).lastrowid
            ids: dict[str, int] = {}
            for pos, (name, group, params, depends_on) in enumerate(jobs, 1):
                key = params_key(params)
                row = c.execute("SELECT id FROM jobs WHERE name=? AND params_key=? AND status='queued' "
                                "AND started_at IS NULL ORDER BY id LIMIT 1", (name, key)).fetchone()
                if row:
                    job_id = row[0]
                    self._event(c, job_id, "info", f"reused by batch {batch_id}", ts)
                else:
                    job_id = c.execute(
                        "INSERT INTO jobs (name, grp, params, params_key, batch_id, position, status, trigger, "
                        "created_at) VALUES (?,?,?,?,?,?,'queued',?,?)",
                        (name, group, json.dumps(params), key, batch_id, pos, trigger, ts)).lastrowid
                    self._event(c, job_id, "info", f"queued ({trigger}) in batch {batch_id}", ts)
                c.execute("INSERT OR IGNORE INTO batch_jobs (batch_id, job_id) VALUES (?,?)", (batch_id, job_id))
                ids[name] = job_id
                for dep in depends_on:
                    if dep in ids:
                        c.execute("INSERT OR IGNORE INTO job_deps (job_id, depends_on) VALUES (?,?)",
                                  (job_id, ids[dep]))
            return batch_id, ids

        batch_id, ids = self._write("enqueue", write, retry=False)
        return batch_id, [self.get(i) for i in ids.values()]

    def retry(self, job_id: int, params: dict, *, trigger: str = "retry", now: datetime | None = None) -> dict:
        """Queue a failed or cancelled job again (a new job row, attempt + 1, cursor carried over).

        The new job keeps the original's dependencies: for each upstream job it waits for that job's
        newest run (its retry, or a later run with the same parameters) when that run is queued or
        running, and needs no edge when it succeeded (the event log says so). When the newest run
        failed or was cancelled, the retry is refused with :class:`UpstreamNotDone`: it would never run.
        """
        def write(c: sqlite3.Connection) -> int:
            ts = now_iso(now)
            old = c.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
            if old is None:
                raise NotFound(f"no job with id {job_id} in the ledger {self.path}")
            if old["status"] not in (Status.FAILED, Status.CANCELLED):
                raise TransitionRefused(job_id, "retry (only failed or cancelled jobs are retried)", old["status"])
            waits, notes = [], []
            for (up_id,) in c.execute("SELECT depends_on FROM job_deps WHERE job_id=? ORDER BY depends_on",
                                      (job_id,)).fetchall():
                newest = self._newest_run(c, up_id)
                what = f"upstream {newest['name']} (job {newest['id']})"
                if newest["status"] == Status.SUCCESS:
                    notes.append(f"{what} already succeeded: no wait needed")
                elif newest["status"] in ACTIVE:
                    waits.append(newest["id"])
                    notes.append(f"waits for {what}, {newest['status']}")
                else:
                    raise UpstreamNotDone(
                        f"job {job_id} {old['name']} depends on {newest['name']} (job {newest['id']}), which "
                        f"{newest['status']}; retry that first (jobctl retry {newest['id']}), then this one")
            batch_id = c.execute("INSERT INTO batches (created_at, trigger, request) VALUES (?,?,?)",
                                 (ts, trigger, json.dumps({"retry_of": job_id}))).lastrowid
            new_id = c.execute(
                "INSERT INTO jobs (name, grp, params, params_key, batch_id, position, status, trigger, created_at, "
                "attempt, retry_of, cursor) VALUES (?,?,?,?,?,1,'queued',?,?,?,?,?)",
                (old["name"], old["grp"], json.dumps(params), params_key(params), batch_id, trigger, ts,
                 old["attempt"] + 1, job_id, old["cursor"])).lastrowid
            c.execute("INSERT INTO batch_jobs (batch_id, job_id) VALUES (?,?)", (batch_id, new_id))
            c.executemany("INSERT OR IGNORE INTO job_deps (job_id, depends_on) VALUES (?,?)",
                          [(new_id, up) for up in waits])
            self._event(c, new_id, "info", f"queued as retry of job {job_id} (attempt {old['attempt'] + 1})", ts)
            for note in notes:
                self._event(c, new_id, "info", note, ts)
            self._event(c, job_id, "info", f"retried as job {new_id}", ts)
            return new_id

        return self.get(self._write("retry", write, retry=False))

    def release(self, ids: Iterable[int], reason: str, now: datetime | None = None) -> list[int]:
        """Cancel the queued jobs of ``ids`` that only the batch of ``ids`` owns and that no unfinished
        job outside them waits for — what an interrupted waiter may give up without cancelling a
        job another batch owns. Returns the ids cancelled."""
        ids = list(ids)

        def write(c: sqlite3.Connection) -> list[int]:
            ts = now_iso(now)
            done = []
            for job_id in sorted(self._ours_alone(c, ids)):
                cur = c.execute("UPDATE jobs SET status='cancelled', finished_at=?, error=? "
                                "WHERE id=? AND status='queued'", (ts, reason, job_id))
                if cur.rowcount == 1:
                    self._event(c, job_id, "warning", f"{reason} while queued", ts)
                    done.append(job_id)
                    done.extend(self._cascade(c, job_id, "was cancelled", ts))
            return done

        return self._write("cancel", write) if ids else []

    def requeue(self, job_id: int, reason: str, now: datetime | None = None, *,
                progress: tuple[int, int | None, Any] | None = None) -> None:
        """running → queued: an interrupted waiter gives back a job other batches own or need (with its
        progress and cursor, so a resumable job resumes). Retried while the ledger is busy or full."""
        def write(c: sqlite3.Connection) -> None:
            ts = now_iso(now)
            self._guard(c.execute(
                "UPDATE jobs SET status='queued', started_at=NULL, heartbeat_at=NULL, worker_pid=NULL, "
                "worker_host=NULL, cancel_requested=0 WHERE id=? AND status='running'", (job_id,)), job_id, "requeue")
            self._record_progress(c, job_id, progress)
            self._event(c, job_id, "warning", f"given back to the queue: {reason}; other batches own or need it", ts)

        self._write(f"requeue of job {job_id}", write)

    # -- claim ------------------------------------------------------------------------------
    def claim(self, *, only: Iterable[int] | None = None, pid: int | None = None,
              now: datetime | None = None, stop: Callable[[], bool] | None = None) -> dict | None:
        """Atomically take the first runnable queued job (all its dependencies succeeded, no other
        run of the same job name running), or None. ``only`` restricts to these job ids.

        A busy or full ledger is tried again with backoff until it answers or ``stop()`` is true
        (then None: nothing was claimed)."""
        pid = pid or os.getpid()
        restrict, args = "", []
        if only is not None:
            only = list(only)
            if not only:
                return None
            restrict = f" AND j.id IN ({','.join('?' * len(only))})"
            args = only

        def write(c: sqlite3.Connection) -> int | None:
            ts = now_iso(now)
            row = c.execute(
                "SELECT j.id FROM jobs j WHERE j.status='queued'" + restrict +
                " AND NOT EXISTS (SELECT 1 FROM job_deps d JOIN jobs p ON p.id=d.depends_on "
                "                 WHERE d.job_id=j.id AND p.status!='success')"
                " AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.name=j.name AND r.status='running')"
                " ORDER BY j.id LIMIT 1", args).fetchone()
            if row is None:
                return None
            self._guard(c.execute(
                "UPDATE jobs SET status='running', started_at=?, heartbeat_at=?, worker_pid=?, worker_host=?, "
                "finished_at=NULL WHERE id=? AND status='queued'", (ts, ts, pid, self.host, row[0])),
                row[0], "claim")
            self._event(c, row[0], "info", f"started by pid {pid} on {self.host}", ts)
            return row[0]

        try:
            job_id = self._write("claim", write, stop=stop)
        except _Stopped:
            return None
        return None if job_id is None else self.get(job_id)

    # -- running ----------------------------------------------------------------------------
    def heartbeat(self, job_id: int, now: datetime | None = None) -> bool:
        """Refresh the heartbeat (advisory: a busy or full ledger skips it); returns whether a cancel
        was requested or the job is no longer running."""
        def write(c: sqlite3.Connection):
            return c.execute("UPDATE jobs SET heartbeat_at=? WHERE id=? AND status='running' "
                             "RETURNING cancel_requested", (now_iso(now), job_id)).fetchone()
        ok, row = self._advisory(write)
        if not ok:
            return self.should_stop(job_id)
        return row is None or bool(row[0])

    def progress(self, job_id: int, done: int, total: int | None, cursor: Any = None,
                 now: datetime | None = None) -> bool:
        """Record progress, cursor and heartbeat; returns whether the job should stop (a cancel was
        requested, or someone else settled it). Advisory: a busy or full ledger skips the write (the
        next one, or the final transition, records it) and never fails the job."""
        def write(c: sqlite3.Connection):
            return c.execute(
                "UPDATE jobs SET progress_done=?, progress_total=?, cursor=?, heartbeat_at=? "
                "WHERE id=? AND status='running' RETURNING cancel_requested",
                (done, total, None if cursor is None else json.dumps(cursor), now_iso(now), job_id)).fetchone()
        ok, row = self._advisory(write)
        if not ok:
            return self.should_stop(job_id)
        return row is None or bool(row[0])

    def finish(self, job_id: int, result: dict | None, now: datetime | None = None) -> None:
        """running → success. Retried while the ledger is busy or full; stamped when it commits."""
        def write(c: sqlite3.Connection) -> None:
            ts = now_iso(now)
            warned = warnings_in(result)
            self._guard(c.execute(
                "UPDATE jobs SET status='success', finished_at=?, heartbeat_at=?, result=?, warnings=?, "
                "progress_done=COALESCE(progress_total, progress_done) WHERE id=? AND status='running'",
                (ts, ts, json.dumps(result), json.dumps(warned) if warned else None, job_id)), job_id, "finish")
            if warned:
                self._event(c, job_id, "warning", f"succeeded with {len(warned)} warning(s): {'; '.join(warned)}", ts)
            else:
                self._event(c, job_id, "info", "succeeded", ts)

        self._write(f"finish of job {job_id}", write)

    def fail(self, job_id: int, error: str, tb: str | None = None, now: datetime | None = None, *,
             progress: tuple[int, int | None, Any] | None = None) -> list[int]:
        """running → failed (with the last progress and cursor when given); queued downstream jobs are
        cancelled. Returns their ids. Retried while the ledger is busy or full."""
        def write(c: sqlite3.Connection) -> list[int]:
            ts = now_iso(now)
            self._guard(c.execute(
                "UPDATE jobs SET status='failed', finished_at=?, error=?, traceback=? "
                "WHERE id=? AND status='running'", (ts, error, tb, job_id)), job_id, "fail")
            self._record_progress(c, job_id, progress)
            self._event(c, job_id, "error", error, ts)
            return self._cascade(c, job_id, "failed", ts)

        return self._write(f"fail of job {job_id}", write)

    def mark_cancelled(self, job_id: int, reason: str = "cancelled by operator",
                       now: datetime | None = None, *,
                       progress: tuple[int, int | None, Any] | None = None) -> list[int]:
        """running → cancelled (the runner stopped at a batch boundary). Retried while the ledger is
        busy or full."""
        def write(c: sqlite3.Connection) -> list[int]:
            ts = now_iso(now)
            self._guard(c.execute(
                "UPDATE jobs SET status='cancelled', finished_at=?, error=? WHERE id=? AND status='running'",
                (ts, reason, job_id)), job_id, "cancel")
            self._record_progress(c, job_id, progress)
            self._event(c, job_id, "warning", f"cancelled at a batch boundary: {reason}", ts)
            return self._cascade(c, job_id, "was cancelled", ts)

        return self._write(f"cancel of job {job_id}", write)

    def cancel(self, job_id: int, *, stalled_after: float = 300, now: datetime | None = None) -> str:
        """Operator cancel. Queued → cancelled at once; running → cancel requested (stops at its next
        batch boundary), or cancelled at once when no process will act on a request (stalled: its
        worker is gone or silent; suspect: its heartbeat is from the future). Returns what happened:
        'cancelled' or 'requested'."""
        job = self.get(job_id)
        if job["status"] == Status.QUEUED:
            def write_queued(c: sqlite3.Connection) -> str:
                ts = now_iso(now)
                self._guard(c.execute(
                    "UPDATE jobs SET status='cancelled', finished_at=?, error='cancelled by operator' "
                    "WHERE id=? AND status='queued'", (ts, job_id)), job_id, "cancel")
                self._event(c, job_id, "warning", "cancelled by operator while queued", ts)
                self._cascade(c, job_id, "was cancelled", ts)
                return "cancelled"
            return self._write(f"cancel of job {job_id}", write_queued)
        if job["status"] == Status.RUNNING:
            reason = self.stall_reason(job, stalled_after, now)

            def write_running(c: sqlite3.Connection) -> str:
                ts = now_iso(now)
                if reason:
                    self._guard(c.execute(
                        "UPDATE jobs SET status='cancelled', finished_at=?, error=? WHERE id=? AND status='running'",
                        (ts, f"cancelled by operator ({stall_label(reason)})", job_id)), job_id, "cancel")
                    self._event(c, job_id, "warning", f"cancelled at once: {stall_label(reason)}", ts)
                    self._cascade(c, job_id, "was cancelled", ts)
                    return "cancelled"
                self._guard(c.execute("UPDATE jobs SET cancel_requested=1 WHERE id=? AND status='running'",
                                      (job_id,)), job_id, "cancel")
                self._event(c, job_id, "warning", "cancel requested; stops at the next batch boundary", ts)
                return "requested"
            return self._write(f"cancel of job {job_id}", write_running)
        raise TransitionRefused(job_id, "cancel", job["status"])

    def cleanup_stalled(self, after: float = 300, now: datetime | None = None) -> list[tuple[dict, str]]:
        """Mark stalled running jobs failed (so they can be retried); cancel their queued dependents."""
        done = []
        for job, reason in self.stalled(after, now):
            def write(c: sqlite3.Connection, job=job, reason=reason) -> bool:
                ts = now_iso(now)
                cur = c.execute("UPDATE jobs SET status='failed', finished_at=?, error=? "
                                "WHERE id=? AND status='running' AND COALESCE(heartbeat_at, started_at) IS ?",
                                (ts, f"{stall_label(reason)}; marked failed by cleanup", job["id"],
                                 job["heartbeat_at"] or job["started_at"]))
                if cur.rowcount != 1:
                    return False  # it moved on meanwhile: not stalled after all
                self._event(c, job["id"], "error", f"{stall_label(reason)}; marked failed by cleanup", ts)
                self._cascade(c, job["id"], "stalled", ts)
                return True
            if self._write(f"cleanup of job {job['id']}", write, retry=False):
                done.append((job, reason))
        return done

    # -- log ----------------------------------------------------------------------------------
    def log(self, job_id: int, level: str, message: str, now: datetime | None = None, *,
            advisory: bool = False) -> bool:
        """Add a line to a job's log. ``advisory``: a busy or full ledger skips it (returns False)."""
        def write(c: sqlite3.Connection) -> None:
            self._event(c, job_id, level, message, now_iso(now))
        if advisory:
            return self._advisory(write)[0]
        self._write("log", write, retry=False)
        return True

    # -- internals ----------------------------------------------------------------------------
    def _event(self, c: sqlite3.Connection, job_id: int, level: str, message: str, ts: str) -> None:
        c.execute("INSERT INTO events (job_id, at, level, message) VALUES (?,?,?,?)", (job_id, ts, level, message))

    def _record_progress(self, c: sqlite3.Connection, job_id: int,
                         progress: tuple[int, int | None, Any] | None) -> None:
        if progress is not None:
            done, total, cursor = progress
            c.execute("UPDATE jobs SET progress_done=?, progress_total=?, cursor=? WHERE id=?",
                      (done, total, None if cursor is None else json.dumps(cursor), job_id))

    def _status(self, job_id: int) -> str | None:
        row = self.conn.execute("SELECT status FROM jobs WHERE id=?", (job_id,)).fetchone()
        return row[0] if row else None

    def _guard(self, cur: sqlite3.Cursor, job_id: int, wanted: str) -> None:
        if cur.rowcount != 1:
            raise TransitionRefused(job_id, wanted, self._status(job_id))

    def _cascade(self, c: sqlite3.Connection, job_id: int, what: str, ts: str) -> list[int]:
        """Cancel every queued job downstream of ``job_id`` (transitively), naming it."""
        name = c.execute("SELECT name FROM jobs WHERE id=?", (job_id,)).fetchone()[0]
        cancelled, frontier = [], [job_id]
        while frontier:
            up = frontier.pop()
            for (down,) in c.execute("SELECT job_id FROM job_deps WHERE depends_on=?", (up,)).fetchall():
                cur = c.execute(
                    "UPDATE jobs SET status='cancelled', finished_at=?, error=? WHERE id=? AND status='queued'",
                    (ts, f"cancelled: upstream job {name} (id {job_id}) {what}", down))
                if cur.rowcount == 1:
                    self._event(c, down, "warning", f"cancelled because upstream job {name} (id {job_id}) {what}", ts)
                    cancelled.append(down)
                    frontier.append(down)
        return cancelled
