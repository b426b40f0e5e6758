"""The ledger's connection and how writes to it are tried: the base class of :class:`~jobctl.ledger.Ledger`.

A transition is written with :meth:`LedgerStore._write`, which rides out a busy or full ledger by
trying again with backoff; an advisory write (progress, heartbeat, a job's log line) is written
with :meth:`LedgerStore._advisory`, which tries once with a short busy timeout and gives up.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable

from . import db as dbmod
from .db import connect, storage_fault, transaction
from .errors import LedgerError
from .ledger_schema import migrate

log = logging.getLogger("jobctl.ledger")

#: Longest pause between two tries of a transition the ledger refused for now (locked, disk full).
RETRY_MAX_S = float(os.environ.get("JOBCTL_RETRY_MAX_S", "5"))
#: How long an advisory write (progress, heartbeat, a job's log line) waits for a busy ledger.
ADVISORY_TIMEOUT_MS = int(os.environ.get("JOBCTL_ADVISORY_TIMEOUT_MS", "250"))


class _Stopped(Exception):
    """A retried write given up because its caller asked to stop."""


class LedgerStore:
    """An open, migrated ledger at ``path`` and the machinery that writes to it."""

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
            migrate(self.conn, self.path)
        except sqlite3.OperationalError as exc:
            raise storage_fault("ledger", self.path, exc) from None
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise LedgerError(f"ledger is not an SQLite database: {self.path}") from None
            raise LedgerError(f"ledger {self.path} is unreadable or corrupt: {exc}") from None
        self.host = socket.gethostname()

    def close(self) -> None:
        self.conn.close()

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
