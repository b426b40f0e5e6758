"""The swap on PostgreSQL: renames in one transaction, a short lock_timeout with retries, so a long
report query delays the swap but the app's own reads never queue behind it for long."""

from __future__ import annotations

import threading
import time

from jobctl.backend import postgres
from jobctl.db import swap_in, table_exists, transaction


def _table(conn, name: str, values) -> None:
    with transaction(conn):
        conn.execute(f'CREATE TABLE "{name}" (id INTEGER PRIMARY KEY, computed_at TEXT NOT NULL)')
        conn.executemany(f'INSERT INTO "{name}" VALUES (?, ?)', [(v, "2026-11-29T03:00:00Z") for v in values])


def test_swap_replaces_the_table_and_its_indexes(pg_url):
    conn = postgres.connect(pg_url)
    try:
        _table(conn, "t", [1, 2])
        _table(conn, "t__new", [3])
        swap_in(conn, "t__new", "t")
        assert conn.execute("SELECT id, computed_at FROM t").fetchall() == [(3, "2026-11-29T03:00:00Z")]
        assert not table_exists(conn, "t__new")
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 't'").fetchall()}
        assert indexes == {"t_pkey"}                     # the shadow's index renamed with it
        _table(conn, "t__new", [4])                      # so the next shadow can be built again
        swap_in(conn, "t__new", "t")
        assert conn.execute("SELECT id FROM t").fetchall() == [(4,)]
    finally:
        conn.close()


def test_swap_waits_out_a_long_reader_without_blocking_the_app(pg_url, monkeypatch):
    monkeypatch.setattr(postgres, "LOCK_TIMEOUT_MS", 100)
    jobs, report, app = (postgres.connect(pg_url) for _ in range(3))
    try:
        _table(jobs, "t", [1])
        _table(jobs, "t__new", [2])
        report.execute("BEGIN")
        report.execute("SELECT count(*) FROM t").fetchone()      # a long report holds its share lock
        done = threading.Event()
        swapper = threading.Thread(target=lambda: (swap_in(jobs, "t__new", "t"), done.set()))
        swapper.start()
        waits = []
        for _ in range(5):                                        # the app keeps reading meanwhile
            t0 = time.monotonic()
            app.execute("SELECT count(*) FROM t").fetchone()
            waits.append(time.monotonic() - t0)
            time.sleep(0.05)
        assert not done.is_set(), "the swap cannot finish while the report holds its lock"
        assert max(waits) < 0.5, f"app reads queued behind the swap: {waits}"
        report.execute("COMMIT")
        swapper.join(timeout=10)
        assert done.is_set()
        assert app.execute("SELECT id FROM t").fetchall() == [(2,)]
    finally:
        for c in (jobs, report, app):
            c.close()
