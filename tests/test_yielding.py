"""yielding_transaction pauses only when another writer was seen (jobctl/db.py)."""

import time

import pytest

from jobctl import db


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    monkeypatch.setattr(db, "_yield_states", {})
    monkeypatch.setattr(db, "YIELD_FACTOR", 1.0)
    path = tmp_path / "p.db"
    conn = db.connect(path)
    conn.execute("CREATE TABLE t (x)")
    other = db.connect(path)
    slept = []
    monkeypatch.setattr(db.time, "sleep", lambda s: slept.append(s))
    return conn, other, slept


def write(conn, n=1):
    for _ in range(n):
        with db.yielding_transaction(conn) as c:
            c.execute("INSERT INTO t VALUES (1)")


def test_starts_contended_then_stops_pausing_without_other_writers(fresh, monkeypatch):
    conn, other, slept = fresh
    write(conn)
    assert len(slept) == 1                      # a database starts contended
    st = next(iter(db._yield_states.values()))
    st.hot_until = time.monotonic() - 1         # the hot window passed with nobody else writing
    st.last_gap = time.monotonic()
    slept.clear()
    write(conn, 20)
    assert slept == []
    assert not db.contended(conn)


def test_another_writer_makes_it_pause_again(fresh):
    conn, other, slept = fresh
    write(conn)
    st = next(iter(db._yield_states.values()))
    st.hot_until = time.monotonic() - 1
    st.last_gap = time.monotonic()
    slept.clear()
    write(conn)
    assert slept == []
    other.execute("INSERT INTO t VALUES (2)")   # the app committed between our transactions
    write(conn)
    assert len(slept) == 1 and db.contended(conn)
    assert db.yield_stats()[str(next(iter(db._yield_states)))]["contended"] >= 1


def test_idle_probe_gap_bounds_the_cost(fresh):
    conn, other, slept = fresh
    write(conn)
    st = next(iter(db._yield_states.values()))
    st.hot_until = time.monotonic() - 1
    st.last_gap = time.monotonic() - db.PROBE_EVERY_S - 1   # no gap for longer than PROBE_EVERY_S
    slept.clear()
    write(conn, 3)
    assert slept == [db.PROBE_GAP_S]            # one probe gap, then none until PROBE_EVERY_S again


def test_nested_is_a_savepoint_without_pause(fresh):
    conn, other, slept = fresh
    with db.transaction(conn):
        write(conn)
    assert slept == []
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1
