"""The ledger's schema: the job statuses, the migrations that build the tables, and a row as a job object.

A ledger file carries its schema version in ``PRAGMA user_version``; :func:`migrate` brings an older
file up to :data:`SCHEMA_VERSION` (sqlite-utils is imported only then, so `jobctl status` starts
without it) and refuses a newer one.
"""

from __future__ import annotations

import json
import sqlite3
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from .db import transaction
from .errors import LedgerError

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


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the ledger open on ``conn`` (at ``path``, named in errors) up to :data:`SCHEMA_VERSION`."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise LedgerError(f"ledger {path} has schema version {version}, newer than this jobctl "
                          f"understands ({SCHEMA_VERSION}); upgrade jobctl")
    with transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
        import sqlite_utils
        db = sqlite_utils.Database(conn)
        for step in MIGRATIONS[version:]:
            step(db)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
