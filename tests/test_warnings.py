"""The third outcome: a job that succeeded but could not do part of its work carries warnings."""

import json
import sqlite3

import pytest
from typer.testing import CliRunner

from jobctl.cli import app
from jobctl.ledger import SCHEMA_VERSION, Ledger
from jobctl.outcome import warnings_in

runner = CliRunner()


@pytest.mark.parametrize("result, expected", [
    ({"processed": 10, "ok": 6, "failed": 4, "skipped": 0, "errors": ["media 7: not an image"]},
     ["4 items failed: media 7: not an image"]),
    ({"failed": 1, "skipped": 2}, ["1 item failed", "2 items skipped"]),
    ({"warnings": ["partition 3 stalled"], "rows": 5}, ["partition 3 stalled"]),
    ({"warnings": "one thing"}, ["one thing"]),
    ({"failed": 0, "skipped_inactive": 9, "matches_skipped": 3}, []),
    ({"failed": True}, []), (None, []), ([1, 2], []),
])
def test_warnings_in_a_result(result, expected):
    assert warnings_in(result) == expected


def _finished(ledger: Ledger, result: dict) -> int:
    _, (job,) = ledger.enqueue([("toy-a", "toy", {}, [])])
    ledger.claim(only=[job["id"]])
    ledger.finish(job["id"], result)
    return job["id"]


def test_the_ledger_keeps_warnings_and_history_filters_on_them(env, toy_registry):
    ledger = Ledger(env.ledger)
    clean = _finished(ledger, {"rows": 3})
    warned = _finished(ledger, {"ok": 6, "failed": 4, "errors": ["media 7: not an image"]})
    assert ledger.get(clean)["warnings"] == [] and ledger.get(clean)["status"] == "success"
    assert ledger.get(warned)["warnings"] == ["4 items failed: media 7: not an image"]
    assert ledger.get(warned)["status"] == "success"  # the five statuses keep their meaning
    assert [j["id"] for j in ledger.jobs(status="warning")] == [warned]
    assert {e["level"] for e in ledger.events(warned)} >= {"warning"}
    ledger.close()

    args = [*env.args]
    rows = json.loads(runner.invoke(app, [*args, "history", "--status", "warning", "--json"]).stdout)
    assert [(j["id"], j["warnings"]) for j in rows] == [(warned, ["4 items failed: media 7: not an image"])]
    assert json.loads(runner.invoke(app, [*args, "show", str(clean), "--json"]).stdout)["warnings"] == []
    text = runner.invoke(app, [*args, "history"], env={"COLUMNS": "80"}).stdout
    line = next(x for x in text.splitlines() if x.strip().startswith(str(warned)))
    assert "success ⚠1" in line and "4 items fail" in line
    shown = runner.invoke(app, [*args, "show", str(warned)]).stdout
    assert "with 1 warning(s)" in shown and "4 items failed: media 7" in shown
    status = runner.invoke(app, [*args, "status"]).stdout
    assert "no active jobs" in status and "with warnings" in status and f"jobctl show {warned}" in status
    bad = runner.invoke(app, [*args, "history", "--status", "warned"])
    assert bad.exit_code == 2 and "warning" in bad.stderr


def test_an_older_ledger_gains_the_warnings_column(tmp_path):
    path = tmp_path / "old.db"
    Ledger(path).close()
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE jobs DROP COLUMN warnings")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")  # the warnings migration is the newest
    conn.commit()
    conn.close()
    ledger = Ledger(path)
    assert ledger.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert _finished(ledger, {"failed": 2}) and ledger.jobs(status="warning")[0]["warnings"] == ["2 items failed"]
