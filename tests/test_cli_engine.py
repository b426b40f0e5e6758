"""The engine through Typer's CliRunner, with toy jobs: exit codes, JSON shapes, failure handling."""

import json

import pytest
from typer.testing import CliRunner

from jobctl.cli import app

runner = CliRunner()

JOB_KEYS = {"id", "name", "group", "status", "params", "batch_id", "created_at", "started_at", "finished_at",
            "progress_done", "progress_total", "result", "error"}


@pytest.fixture
def cli(env, toy_registry):
    def invoke(*args):
        return runner.invoke(app, [*env.args, *args])
    return invoke


def test_every_command_has_help():
    import typer.main
    cmd = typer.main.get_command(app)
    for name, sub in cmd.commands.items():
        assert sub.help, f"command {name} has no help"
        assert runner.invoke(app, [name, "--help"]).exit_code == 0


def test_jobs_json_shape(cli):
    res = cli("jobs", "--json")
    assert res.exit_code == 0
    rows = json.loads(res.stdout)
    assert {"name", "group", "description", "depends_on", "params"} <= set(rows[0])
    b = next(r for r in rows if r["name"] == "toy-b")
    assert b["depends_on"] == ["toy-a"]
    assert {p["name"] for p in b["params"]} >= {"batch_size", "pause_ms", "n"}


def test_describe_and_unknown_job(cli):
    res = cli("describe", "toy-y")
    assert res.exit_code == 0 and "When to run" in res.stdout and "now" in res.stdout
    res = cli("describe", "toy-zz")
    assert res.exit_code == 2 and "unknown job 'toy-zz'" in res.stderr
    assert "Traceback" not in res.output


def test_enqueue_json_and_run_order(cli, env):
    res = cli("enqueue", "toy-c", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [j["name"] for j in out["jobs"]] == ["toy-a", "toy-b", "toy-c"]
    assert all(JOB_KEYS <= set(j) for j in out["jobs"]) and out["batch_id"] == out["jobs"][0]["batch_id"]
    assert all(j["status"] == "queued" for j in out["jobs"])
    # an identical enqueue reuses the queued jobs
    again = json.loads(cli("enqueue", "toy-c", "--json").stdout)
    assert [j["id"] for j in again["jobs"]] == [j["id"] for j in out["jobs"]]
    res = cli("worker", "--once")
    assert res.exit_code == 0
    hist = json.loads(cli("history", "--json").stdout)
    assert [j["name"] for j in hist] == ["toy-c", "toy-b", "toy-a"]  # newest first
    assert all(j["status"] == "success" for j in hist)
    by = {j["name"]: j for j in hist}
    assert by["toy-a"]["finished_at"] <= by["toy-b"]["started_at"]
    assert by["toy-b"]["finished_at"] <= by["toy-c"]["started_at"]


def test_enqueue_wait_exit_codes_and_downstream_cancel(cli, env):
    res = cli("enqueue", "--group", "toy", "-p", "n=2", "--wait", "--json")
    assert res.exit_code == 0, res.output
    res = cli("enqueue", "--group", "toy", "-p", "fail_at=0", "-p", "label=x", "--wait", "--json")
    assert res.exit_code == 1
    jobs = json.loads(res.stdout)["jobs"]
    assert [j["status"] for j in jobs] == ["failed", "cancelled", "cancelled"]
    assert "toy failure in batch 0" in jobs[0]["error"]
    assert f"upstream job toy-a (id {jobs[0]['id']}) failed" in jobs[1]["error"]
    show = json.loads(cli("show", str(jobs[0]["id"]), "--json").stdout)
    assert JOB_KEYS <= set(show) and "JobFailed: toy failure" in show["traceback"]
    assert any("toy failure" in e["message"] for e in show["log"])
    text = cli("show", str(jobs[0]["id"])).stdout
    assert "traceback" in text and "toy failure in batch 0" in text
    # the failing batch left nothing behind: only the rows of the first (successful) run
    assert env.toy_rows("toy-a") == [0, 1]


def test_a_bug_in_a_job_is_recorded_with_its_traceback(cli):
    res = cli("run", "toy-bug", "--json")
    assert res.exit_code == 1
    job = json.loads(res.stdout)
    assert job["status"] == "failed" and job["error"].startswith("ZeroDivisionError")


def test_run_json_and_params(cli, env):
    res = cli("run", "toy-y", "-p", "n=3", "-p", "now=2026-11-29T03:00:00+00:00", "--json")
    assert res.exit_code == 0, res.output
    job = json.loads(res.stdout)
    assert job["status"] == "success" and job["params"]["n"] == 3
    assert job["result"]["now"] == "2026-11-29T03:00:00Z"
    assert env.toy_rows("toy-y") == [0, 1, 2]


@pytest.mark.parametrize("args, message", [
    (["run", "toy-a", "-p", "n=abc"], "expects an integer"),
    (["run", "toy-a", "-p", "batch_size=0"], "at least 1"),
    (["run", "toy-a", "-p", "pause_ms=-1"], "at least 0"),
    (["run", "toy-a", "-p", "bogus=1"], "unknown parameter bogus"),
    (["run", "toy-a", "-p", "novalue"], "KEY=VALUE"),
    (["run", "toy-y", "-p", "now=yesterday"], "ISO-8601"),
    (["run", "nope"], "unknown job"),
    (["enqueue", "--group", "nope"], "unknown group"),
    (["enqueue", "toy-a", "-p", "zzz=1"], "no job of this batch takes parameter 'zzz'"),
    (["enqueue"], "nothing to enqueue"),
    (["show", "999"], "no job with id 999"),
    (["cancel", "999"], "no job with id 999"),
    (["history", "--status", "weird"], "unknown status"),
    (["graph", "--format", "png"], "unknown format"),
])
def test_refusals_exit_2_with_one_line(cli, env, args, message):
    res = cli(*args)
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.output
    # nothing was queued
    assert json.loads(cli("history", "--json").stdout) == []


def test_missing_and_bad_platform_database(env, toy_registry, tmp_path):
    missing = ["--db", str(tmp_path / "nope.db"), "--ledger", str(env.ledger)]
    res = runner.invoke(app, [*missing, "run", "toy-a"])
    assert res.exit_code == 2 and "platform database not found" in res.stderr
    text = tmp_path / "text.db"
    text.write_text("hello")
    res = runner.invoke(app, ["--db", str(text), "--ledger", str(env.ledger), "run", "toy-a"])
    assert res.exit_code == 2 and "not an SQLite database" in res.stderr
    import sqlite3
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("CREATE TABLE x (a)").connection.close()
    res = runner.invoke(app, ["--db", str(empty), "--ledger", str(env.ledger), "run", "toy-a"])
    assert res.exit_code == 2 and "missing table users" in res.stderr


def test_cancel_queued_then_retry(cli, env):
    out = json.loads(cli("enqueue", "toy-b", "--json").stdout)
    a, b = (j["id"] for j in out["jobs"])
    assert cli("cancel", str(a)).exit_code == 0
    assert json.loads(cli("show", str(b), "--json").stdout)["status"] == "cancelled"
    res = cli("retry", str(a), "-p", "n=2", "--wait", "--json")
    assert res.exit_code == 0, res.output
    job = json.loads(res.stdout)
    assert job["status"] == "success" and job["attempt"] == 2 and job["retry_of"] == a and job["params"]["n"] == 2
    assert cli("retry", str(job["id"])).exit_code == 2  # a successful job is not retried


def test_retry_resumes_from_cursor(cli, env):
    res = cli("run", "toy-a", "-p", "n=5", "-p", "fail_at=3", "--json")
    job = json.loads(res.stdout)
    assert job["status"] == "failed" and job["cursor"] == 2 and env.toy_rows("toy-a") == [0, 1, 2]
    res = cli("retry", str(job["id"]), "-p", "fail_at=99", "--wait", "--json")
    again = json.loads(res.stdout)
    assert again["status"] == "success" and again["result"] == {"batches": 2}  # batches 3 and 4 only
    assert env.toy_rows("toy-a") == [0, 1, 2, 3, 4]


def test_status_and_stalled_json(cli, env):
    cli("enqueue", "toy-a")
    st = json.loads(cli("status", "--json").stdout)
    assert [j["name"] for j in st["active"]] == ["toy-a"] and st["stalled"] == []
    assert json.loads(cli("stalled", "--json").stdout) == []
    assert "no stalled jobs" in cli("stalled").stdout


def test_graph_formats(cli):
    assert "toy-b (toy) ← toy-a" in cli("graph").stdout
    assert '"toy-a" -> "toy-b";' in cli("graph", "--format", "dot").stdout
    assert "toy_a --> toy_b" in cli("graph", "-f", "mermaid", "--group", "toy").stdout


def test_plan_queues_nothing(cli):
    res = cli("enqueue", "toy-y", "--plan", "--json")
    rows = json.loads(res.stdout)
    assert [r["name"] for r in rows] == ["toy-x", "toy-y"]
    assert rows[0]["reason"] == "needed by toy-y (group other2)" and rows[0]["needed_by"] == ["toy-y"]
    assert rows[1]["reason"] == "named"
    assert json.loads(cli("history", "--json").stdout) == []
