"""The job ledger: a small SQLite database that records every job, its state and its log.

Every state transition is a named method made of one guarded statement
(``UPDATE jobs SET status='running' … WHERE id=? AND status='queued'``); when it does not
apply, :class:`~jobctl.errors.TransitionRefused` names the job and the status it found.

    queued → running → success | failed | cancelled;   queued → cancelled
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any, Iterable

import sqlite_utils

from .db import connect, transaction
from .errors import LedgerError, NotFound, TransitionRefused
from .registry import params_key
from .timeutil import now_iso, parse_iso


class Status(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value


FINAL = (Status.SUCCESS.value, Status.FAILED.value, Status.CANCELLED.value)


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


MIGRATIONS = [_m1_initial]
SCHEMA_VERSION = len(MIGRATIONS)

JOB_COLUMNS = ("id, name, grp, params, batch_id, position, status, trigger, created_at, started_at, "
               "finished_at, heartbeat_at, progress_done, progress_total, cursor, result, error, traceback, "
               "attempt, retry_of, worker_pid, worker_host, cancel_requested")


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
            self.conn = connect(self.path, timeout_ms=timeout_ms)
            self.conn.row_factory = sqlite3.Row
            self._migrate()
        except sqlite3.OperationalError as exc:
            raise LedgerError(_ledger_message(self.path, exc)) from None
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
            db = sqlite_utils.Database(self.conn)
            for step in MIGRATIONS[version:]:
                step(db)
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _tx(self):
        return _LedgerTx(self)

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
        duplicated. Dependency edges link each job to the batch's jobs it depends on.
        Returns (batch_id, job objects in run order).
        """
        ts = now_iso(now)
        with self._tx() as c:
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
                ids[name] = job_id
                for dep in depends_on:
                    if dep in ids:
                        c.execute("INSERT OR IGNORE INTO job_deps (job_id, depends_on) VALUES (?,?)",
                                  (job_id, ids[dep]))
        return batch_id, [self.get(i) for i in ids.values()]

    def retry(self, job_id: int, params: dict, *, trigger: str = "retry", now: datetime | None = None) -> dict:
        """Queue a failed or cancelled job again (a new job row, attempt + 1, cursor carried over)."""
        ts = now_iso(now)
        with self._tx() as c:
            old = c.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id=?", (job_id,)).fetchone()
            if old is None:
                raise NotFound(f"no job with id {job_id} in the ledger {self.path}")
            if old["status"] not in (Status.FAILED, Status.CANCELLED):
                raise TransitionRefused(job_id, "retry (only failed or cancelled jobs are retried)", old["status"])
            batch_id = c.execute("INSERT INTO batches (created_at, trigger, request) VALUES (?,?,?)",
                                 (ts, trigger, json.dumps({"retry_of": job_id}))).lastrowid
            new_id = c.execute(
                "INSERT INTO jobs (name, grp, params, params_key, batch_id, position, status, trigger, created_at, "
                "attempt, retry_of, cursor) VALUES (?,?,?,?,?,1,'queued',?,?,?,?,?)",
                (old["name"], old["grp"], json.dumps(params), params_key(params), batch_id, trigger, ts,
                 old["attempt"] + 1, job_id, old["cursor"])).lastrowid
            self._event(c, new_id, "info", f"queued as retry of job {job_id} (attempt {old['attempt'] + 1})", ts)
            self._event(c, job_id, "info", f"retried as job {new_id}", ts)
        return self.get(new_id)

    # -- claim ------------------------------------------------------------------------------
    def claim(self, *, only: Iterable[int] | None = None, pid: int | None = None,
              now: datetime | None = None) -> dict | None:
        """Atomically take the first runnable queued job (all its dependencies succeeded, no other
        run of the same job name running), or None. ``only`` restricts to these job ids."""
        ts = now_iso(now)
        pid = pid or os.getpid()
        restrict, args = "", []
        if only is not None:
            only = list(only)
            if not only:
                return None
            restrict = f" AND j.id IN ({','.join('?' * len(only))})"
            args = only
        with self._tx() as c:
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
        return self.get(row[0])

    # -- running ----------------------------------------------------------------------------
    def heartbeat(self, job_id: int, now: datetime | None = None) -> bool:
        """Refresh the heartbeat; returns whether a cancel was requested (False if not running)."""
        with self._tx() as c:
            row = c.execute("UPDATE jobs SET heartbeat_at=? WHERE id=? AND status='running' "
                            "RETURNING cancel_requested", (now_iso(now), job_id)).fetchone()
        return bool(row and row[0])

    def progress(self, job_id: int, done: int, total: int | None, cursor: Any = None,
                 now: datetime | None = None) -> bool:
        """Record progress, cursor and heartbeat; returns whether a cancel was requested."""
        with self._tx() as c:
            row = c.execute(
                "UPDATE jobs SET progress_done=?, progress_total=?, cursor=?, heartbeat_at=? "
                "WHERE id=? AND status='running' RETURNING cancel_requested",
                (done, total, None if cursor is None else json.dumps(cursor), now_iso(now), job_id)).fetchone()
        if row is None:
            raise TransitionRefused(job_id, "record progress", self._status(job_id))
        return bool(row[0])

    def finish(self, job_id: int, result: dict | None, now: datetime | None = None) -> None:
        ts = now_iso(now)
        with self._tx() as c:
            self._guard(c.execute(
                "UPDATE jobs SET status='success', finished_at=?, heartbeat_at=?, result=?, "
                "progress_done=COALESCE(progress_total, progress_done) WHERE id=? AND status='running'",
                (ts, ts, json.dumps(result), job_id)), job_id, "finish")
            self._event(c, job_id, "info", "succeeded", ts)

    def fail(self, job_id: int, error: str, tb: str | None = None, now: datetime | None = None) -> list[int]:
        """running → failed; queued downstream jobs are cancelled. Returns their ids."""
        ts = now_iso(now)
        with self._tx() as c:
            self._guard(c.execute(
                "UPDATE jobs SET status='failed', finished_at=?, error=?, traceback=? "
                "WHERE id=? AND status='running'", (ts, error, tb, job_id)), job_id, "fail")
            self._event(c, job_id, "error", error, ts)
            return self._cascade(c, job_id, "failed", ts)

    def mark_cancelled(self, job_id: int, reason: str = "cancelled by operator",
                       now: datetime | None = None) -> list[int]:
        """running → cancelled (the runner stopped at a batch boundary)."""
        ts = now_iso(now)
        with self._tx() as c:
            self._guard(c.execute(
                "UPDATE jobs SET status='cancelled', finished_at=?, error=? WHERE id=? AND status='running'",
                (ts, reason, job_id)), job_id, "cancel")
            self._event(c, job_id, "warning", f"cancelled at a batch boundary: {reason}", ts)
            return self._cascade(c, job_id, "was cancelled", ts)

    def cancel(self, job_id: int, *, stalled_after: float = 300, now: datetime | None = None) -> str:
        """Operator cancel. Queued → cancelled at once; running → cancel requested (stops at its next
        batch boundary), or cancelled at once when its worker is gone. Returns what happened:
        'cancelled' or 'requested'."""
        ts = now_iso(now)
        job = self.get(job_id)
        if job["status"] == Status.QUEUED:
            with self._tx() as c:
                self._guard(c.execute(
                    "UPDATE jobs SET status='cancelled', finished_at=?, error='cancelled by operator' "
                    "WHERE id=? AND status='queued'", (ts, job_id)), job_id, "cancel")
                self._event(c, job_id, "warning", "cancelled by operator while queued", ts)
                self._cascade(c, job_id, "was cancelled", ts)
            return "cancelled"
        if job["status"] == Status.RUNNING:
            reason = self.stall_reason(job, stalled_after, now)
            with self._tx() as c:
                if reason:
                    self._guard(c.execute(
                        "UPDATE jobs SET status='cancelled', finished_at=?, error=? WHERE id=? AND status='running'",
                        (ts, f"cancelled by operator (stalled: {reason})", job_id)), job_id, "cancel")
                    self._event(c, job_id, "warning", f"cancelled at once: stalled ({reason})", ts)
                    self._cascade(c, job_id, "was cancelled", ts)
                    return "cancelled"
                self._guard(c.execute("UPDATE jobs SET cancel_requested=1 WHERE id=? AND status='running'",
                                      (job_id,)), job_id, "cancel")
                self._event(c, job_id, "warning", "cancel requested; stops at the next batch boundary", ts)
            return "requested"
        raise TransitionRefused(job_id, "cancel", job["status"])

    # -- stalled ----------------------------------------------------------------------------
    def stall_reason(self, job: dict, after: float, now: datetime | None = None) -> str | None:
        """Why a running job counts as stalled, or None: no heartbeat for ``after`` seconds (a NULL
        heartbeat counts from the start), or its worker process is gone on this host."""
        if job["status"] != Status.RUNNING:
            return None
        now = now or datetime.now(timezone.utc)
        if job["worker_host"] == self.host and job["worker_pid"] and not pid_alive(job["worker_pid"]):
            return f"worker pid {job['worker_pid']} is gone"
        beat = parse_iso(job["heartbeat_at"] or job["started_at"])
        if beat and (now - beat) > timedelta(seconds=after):
            return f"no heartbeat for {int((now - beat).total_seconds())} s"
        return None

    def stalled(self, after: float = 300, now: datetime | None = None) -> list[tuple[dict, str]]:
        out = []
        for job in self.jobs(status="running", newest_first=False):
            reason = self.stall_reason(job, after, now)
            if reason:
                out.append((job, reason))
        return out

    def cleanup_stalled(self, after: float = 300, now: datetime | None = None) -> list[tuple[dict, str]]:
        """Mark stalled running jobs failed (so they can be retried); cancel their queued dependents."""
        done = []
        ts = now_iso(now)
        for job, reason in self.stalled(after, now):
            with self._tx() as c:
                cur = c.execute("UPDATE jobs SET status='failed', finished_at=?, error=? "
                                "WHERE id=? AND status='running' AND COALESCE(heartbeat_at, started_at) IS ?",
                                (ts, f"stalled: {reason}; marked failed by cleanup", job["id"],
                                 job["heartbeat_at"] or job["started_at"]))
                if cur.rowcount != 1:
                    continue  # it moved on meanwhile: not stalled after all
                self._event(c, job["id"], "error", f"stalled ({reason}); marked failed by cleanup", ts)
                self._cascade(c, job["id"], "stalled", ts)
            done.append((job, reason))
        return done

    # -- log ----------------------------------------------------------------------------------
    def log(self, job_id: int, level: str, message: str, now: datetime | None = None) -> None:
        with self._tx() as c:
            self._event(c, job_id, level, message, now_iso(now))

    # -- internals ----------------------------------------------------------------------------
    def _event(self, c: sqlite3.Connection, job_id: int, level: str, message: str, ts: str) -> None:
        c.execute("INSERT INTO events (job_id, at, level, message) VALUES (?,?,?,?)", (job_id, ts, level, message))

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


class _LedgerTx:
    """``with ledger._tx() as c``: a short write transaction, with lock errors made operator-facing."""

    def __init__(self, ledger: Ledger):
        self.ledger = ledger
        self._cm = None

    def __enter__(self) -> sqlite3.Connection:
        self._cm = transaction(self.ledger.conn)
        try:
            return self._cm.__enter__()
        except sqlite3.OperationalError as exc:
            raise LedgerError(_ledger_message(self.ledger.path, exc)) from None

    def __exit__(self, *exc_info):
        try:
            return self._cm.__exit__(*exc_info)
        except sqlite3.OperationalError as exc:
            raise LedgerError(_ledger_message(self.ledger.path, exc)) from None


def _ledger_message(path: Path, exc: Exception) -> str:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"ledger {path} is locked by another process (waited for the busy timeout); try again"
    if "unable to open" in text:
        return f"cannot open ledger {path}: check the path and its permissions"
    if "readonly" in text:
        return f"ledger {path} is read-only: jobctl needs to write it"
    return f"ledger {path}: {text}"


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
