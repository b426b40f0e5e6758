"""The job ledger: a small SQLite database that records every job, its state and its log.

Every state transition is a named method made of one guarded statement
(``UPDATE jobs SET status='running' … WHERE id=? AND status='queued'``); when it does not
apply, :class:`~jobctl.errors.TransitionRefused` names the job and the status it found.

    queued → running → success | failed | cancelled;   queued → cancelled
"""

from __future__ import annotations

import json
import logging
import os
import random
import socket
import sqlite3
import time
from datetime import datetime, timezone
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from . import db as dbmod
from .db import connect, storage_fault, transaction
from .errors import LedgerError, NotFound, TransitionRefused, UpstreamNotDone
from .outcome import warnings_in
from .registry import params_key
from .timeutil import now_iso, parse_iso

if TYPE_CHECKING:  # sqlite-utils is imported only to migrate: `jobctl status` starts without it
    import sqlite_utils


class Status(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


ACTIVE = (Status.QUEUED.value, Status.RUNNING.value)
FINAL = (Status.SUCCESS.value, Status.FAILED.value, Status.CANCELLED.value)
log = logging.getLogger("jobctl.ledger")

#: Longest pause between two tries of a transition the ledger refused for now (locked, disk full).
RETRY_MAX_S = float(os.environ.get("JOBCTL_RETRY_MAX_S", "5"))
#: How long an advisory write (progress, heartbeat, a job's log line) waits for a busy ledger.
ADVISORY_TIMEOUT_MS = int(os.environ.get("JOBCTL_ADVISORY_TIMEOUT_MS", "250"))
#: How far the clocks of the hosts sharing a ledger may disagree (seconds): a heartbeat up to this far
#: in the future counts as fresh, one from another host counts as stale only this much later.
CLOCK_TOLERANCE_S = float(os.environ.get("JOBCTL_CLOCK_TOLERANCE_S", "120"))



# -- schema and migrations ---------------------------------------------------------------------

def _m1_initial(db: sqlite_utils.Database) -> None:
    db.create_table("batches", {"id": int, "created_at": str, "trigger": str, "request": str}, pk="id",
                    not_null={"created_at", "trigger"})
    db.create_table("jobs", {
        "id": int, "name": str, "grp": str, "params": str, "params_key": str, "batch_id": int,
        "position": int, "status": str, "trigger": str, "created_at": str, "started_at": str,
        "finished_at": str, "heartbeat_at": str, "progress_done": int, "progress_total": int,
        "cursor": str, "result": str, "error": str, "traceback": str, "attempt": int,
        "retry_of": int, "worker_pid": int, "worker_host": str, "cancel_requested": int,
    }, pk="id", not_null={"name", "grp", "params", "params_key", "status", "trigger", "created_at",
                          "progress_done", "attempt", "cancel_requested"},
        defaults={"progress_done": 0, "attempt": 1, "cancel_requested": 0, "trigger": "manual"})
    db["jobs"].create_index(["status", "id"], index_name="jobs_status")
    db["jobs"].create_index(["name", "status"], index_name="jobs_name")
    db["jobs"].create_index(["batch_id"], index_name="jobs_batch")
    db.create_table("job_deps", {"job_id": int, "depends_on": int}, pk=("job_id", "depends_on"))
    db["job_deps"].create_index(["depends_on"], index_name="job_deps_up")
    db.create_table("events", {"id": int, "job_id": int, "at": str, "level": str, "message": str}, pk="id",
                    not_null={"job_id", "at", "level", "message"})
    db["events"].create_index(["job_id", "id"], index_name="events_job")


def _m2_batch_members(db: sqlite_utils.Database) -> None:
    """Which batches own a job: the one that queued it and every batch that reused it. A waiter
    interrupted by a signal cancels only jobs no other batch owns or needs."""
    db.create_table("batch_jobs", {"batch_id": int, "job_id": int}, pk=("batch_id", "job_id"))
    db["batch_jobs"].create_index(["job_id"], index_name="batch_jobs_job")
    db.execute("INSERT OR IGNORE INTO batch_jobs (batch_id, job_id) SELECT batch_id, id FROM jobs "
               "WHERE batch_id IS NOT NULL")
    db.execute("INSERT OR IGNORE INTO batch_jobs (batch_id, job_id) "
               "SELECT CAST(substr(message, 17) AS INTEGER), job_id FROM events WHERE message LIKE 'reused by batch %'")


def _m3_warnings(db: sqlite_utils.Database) -> None:
    """A job that succeeded but skipped or failed some items keeps them here (a JSON list)."""
    db["jobs"].add_column("warnings", str)


MIGRATIONS = [_m1_initial, _m2_batch_members, _m3_warnings]
SCHEMA_VERSION = len(MIGRATIONS)

JOB_COLUMNS = ("id, name, grp, params, batch_id, position, status, trigger, created_at, started_at, "
               "finished_at, heartbeat_at, progress_done, progress_total, cursor, result, error, traceback, "
               "attempt, retry_of, worker_pid, worker_host, cancel_requested, warnings")


def job_dict(row: sqlite3.Row | None) -> dict | None:
    """A ledger row as the JSON job object of CLI.md."""
    if row is None:
        return None
    d = dict(row)
    d["group"] = d.pop("grp")
    d["params"] = json.loads(d["params"]) if d["params"] else {}
    d["result"] = json.loads(d["result"]) if d["result"] else None
    d["cursor"] = json.loads(d["cursor"]) if d["cursor"] else None
    d["cancel_requested"] = bool(d["cancel_requested"])
    d["warnings"] = json.loads(d["warnings"]) if d.get("warnings") else []
    return d


class Ledger:
    """The ledger at ``path`` (created on first use, migrated on open)."""

    def __init__(self, path: str | Path, *, timeout_ms: int | None = None):
        self.path = Path(path)
        if self.path.is_dir():
            raise LedgerError(f"ledger path is a directory: {self.path}")
        # Never open() the file directly: closing any descriptor of an SQLite file releases the
        # process's POSIX locks on it, which corrupts the WAL of connections already open here.
        try:
            if not self.path.parent.exists():
                raise LedgerError(f"ledger folder does not exist: {self.path.parent}")
            self.timeout_ms = dbmod.BUSY_TIMEOUT_MS if timeout_ms is None else timeout_ms
            self.conn = connect(self.path, timeout_ms=self.timeout_ms)
            self.conn.row_factory = sqlite3.Row
            self._migrate()
        except sqlite3.OperationalError as exc:
            raise storage_fault("ledger", self.path, exc) from None
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise LedgerError(f"ledger is not an SQLite database: {self.path}") from None
            raise LedgerError(f"ledger {self.path} is unreadable or corrupt: {exc}") from None
        self.host = socket.gethostname()

    def close(self) -> None:
        self.conn.close()

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise LedgerError(f"ledger {self.path} has schema version {version}, newer than this jobctl "
                              f"understands ({SCHEMA_VERSION}); upgrade jobctl")
        with transaction(self.conn):
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
            import sqlite_utils
            db = sqlite_utils.Database(self.conn)
            for step in MIGRATIONS[version:]:
                step(db)
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- reads ------------------------------------------------------------------------------
    def get(self, job_id: int) -> dict:
        row = self.conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job with id {job_id} in the ledger {self.path}")
        return job_dict(row)

    def jobs(self, *, name: str | None = None, status: str | None = None, group: str | None = None,
             since: str | None = None, batch_id: int | None = None, ids: Iterable[int] | None = None,
             limit: int | None = None, newest_first: bool = True) -> list[dict]:
        where, args = [], []
        if status == "warning":  # not a status: a success that carries warnings
            status = None
            where.append("status = 'success' AND warnings IS NOT NULL")
        for col, val in (("name", name), ("status", status), ("grp", group), ("batch_id", batch_id)):
            if val is not None:
                where.append(f"{col} = ?")
                args.append(val)
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

    def ours_alone(self, job_id: int, ids: Iterable[int]) -> bool:
        """Whether the batch of ``ids`` alone owns ``job_id`` and no unfinished job outside it needs it:
        then a waiter for ``ids`` may cancel it; otherwise it gives it back with :meth:`requeue`."""
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

    def should_stop(self, job_id: int) -> bool:
        """Whether a running job should stop: cancel requested, or no longer running (a read: it
        works while another process holds the write lock). Unknown (unreadable ledger) is False."""
        try:
            row = self.conn.execute("SELECT status, cancel_requested FROM jobs WHERE id=?", (job_id,)).fetchone()
        except sqlite3.DatabaseError:
            return False
        return row is None or row[0] != Status.RUNNING or bool(row[1])

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
                        (ts, f"cancelled by operator ({_stall_label(reason)})", job_id)), job_id, "cancel")
                    self._event(c, job_id, "warning", f"cancelled at once: {_stall_label(reason)}", ts)
                    self._cascade(c, job_id, "was cancelled", ts)
                    return "cancelled"
                self._guard(c.execute("UPDATE jobs SET cancel_requested=1 WHERE id=? AND status='running'",
                                      (job_id,)), job_id, "cancel")
                self._event(c, job_id, "warning", "cancel requested; stops at the next batch boundary", ts)
                return "requested"
            return self._write(f"cancel of job {job_id}", write_running)
        raise TransitionRefused(job_id, "cancel", job["status"])

    # -- stalled ----------------------------------------------------------------------------
    clock_tolerance_s: float = CLOCK_TOLERANCE_S

    def stall_reason(self, job: dict, after: float, now: datetime | None = None) -> str | None:
        """Why a running job counts as stalled, or None: its worker process is gone on this host; or
        its heartbeat (a NULL one counts from the start) is older than ``after`` seconds — plus the
        clock tolerance when another host wrote it; or it is *suspect*: its heartbeat lies further
        in the future than the clock tolerance, so its age cannot be judged (a worker whose clock is
        wrong) and nothing says a process still acts on it."""
        if job["status"] != Status.RUNNING:
            return None
        now = now or datetime.now(timezone.utc)
        if job["worker_host"] == self.host and job["worker_pid"] and not pid_alive(job["worker_pid"]):
            return f"worker pid {job['worker_pid']} is gone"
        beat = parse_iso(job["heartbeat_at"] or job["started_at"])
        if beat is None:
            return None
        age = (now - beat).total_seconds()
        tolerance = self.clock_tolerance_s
        if -age > tolerance:
            return (f"suspect: heartbeat {int(-age)} s in the future, beyond the {tolerance:g} s clock tolerance "
                    f"(is the clock of {job['worker_host'] or 'its host'} wrong?)")
        slack = 0 if job["worker_host"] == self.host else tolerance
        if age > after + slack:
            return f"no heartbeat for {int(age)} s"
        return None

    def stalled(self, after: float = 300, now: datetime | None = None) -> list[tuple[dict, str]]:
        """Running jobs that are stalled or suspect, with the reason."""
        out = []
        for job in self.jobs(status="running", newest_first=False):
            reason = self.stall_reason(job, after, now)
            if reason:
                out.append((job, reason))
        return out

    def cleanup_stalled(self, after: float = 300, now: datetime | None = None) -> list[tuple[dict, str]]:
        """Mark stalled running jobs failed (so they can be retried); cancel their queued dependents."""
        done = []
        for job, reason in self.stalled(after, now):
            def write(c: sqlite3.Connection, job=job, reason=reason) -> bool:
                ts = now_iso(now)
                cur = c.execute("UPDATE jobs SET status='failed', finished_at=?, error=? "
                                "WHERE id=? AND status='running' AND COALESCE(heartbeat_at, started_at) IS ?",
                                (ts, f"{_stall_label(reason)}; marked failed by cleanup", job["id"],
                                 job["heartbeat_at"] or job["started_at"]))
                if cur.rowcount != 1:
                    return False  # it moved on meanwhile: not stalled after all
                self._event(c, job["id"], "error", f"{_stall_label(reason)}; marked failed by cleanup", ts)
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

    # -- writing ------------------------------------------------------------------------------
    def _write(self, what: str, fn: Callable[[sqlite3.Connection], Any], *, retry: bool = True,
               stop: Callable[[], bool] | None = None) -> Any:
        """Run ``fn`` in one write transaction. A transient fault (locked, disk full, I/O) is tried
        again with backoff up to RETRY_MAX_S between tries — for as long as this process lives, or
        until ``stop()`` (then :class:`_Stopped`) — logging the 1st, 2nd, 4th, 8th … try. Without
        ``retry``, or for a lasting fault, raises :class:`LedgerFault` naming the ledger and cause."""
        attempt = 0
        while True:
            try:
                with transaction(self.conn) as c:
                    return fn(c)
            except sqlite3.DatabaseError as exc:
                self._rollback()
                fault = storage_fault("ledger", self.path, exc)
                if not (retry and fault.transient):
                    raise fault from None
            if stop is not None and stop():
                raise _Stopped()
            attempt += 1
            delay = min(RETRY_MAX_S, 0.05 * 2 ** attempt) * random.uniform(0.8, 1.0)
            if attempt & (attempt - 1) == 0:
                log.warning("jobctl: %s — %s: trying again in %.1f s (try %d)", fault, what, delay, attempt)
            time.sleep(delay)

    def _advisory(self, fn: Callable[[sqlite3.Connection], Any]) -> tuple[bool, Any]:
        """One try of ``fn`` with a short busy timeout; (False, None) when the ledger is busy or full."""
        self.conn.execute(f"PRAGMA busy_timeout = {min(ADVISORY_TIMEOUT_MS, self.timeout_ms)}")
        try:
            with transaction(self.conn) as c:
                return True, fn(c)
        except sqlite3.DatabaseError as exc:
            self._rollback()
            if not storage_fault("ledger", self.path, exc).transient:
                raise storage_fault("ledger", self.path, exc) from None
            return False, None
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {self.timeout_ms}")

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            try:
                self.conn.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass

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


def _stall_label(reason: str) -> str:
    """'stalled: <reason>', or the reason itself when it already says what it is ('suspect: …')."""
    return reason if reason.startswith("suspect") else f"stalled: {reason}"


class _Stopped(Exception):
    """A retried write given up because its caller asked to stop."""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped) still answers kill(0): look at /proc where there is one.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True
