"""The operator's commands through the CLI: schedule, status --watch, history, show, why, completion."""

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobctl import schedule as sched
from jobctl.cli import app
from jobctl.cli.core import complete_group as _complete_group, complete_job as _complete_job, complete_param as _complete_param
from jobctl.ledger import Ledger
from test_explain import build_story
from test_schedule import FOREIGN

runner = CliRunner()
TESTS = Path(__file__).parent
UTC = timezone.utc


@pytest.fixture
def cli(env, toy_registry, monkeypatch):
    # the crontab lines carry the catalogue's environment, so that cron sees the toy jobs too
    monkeypatch.setenv("JOBCTL_PLUGINS", "toyjobs")
    monkeypatch.setenv("JOBCTL_BUILTIN_JOBS", "0")
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.delenv("JOBCTL_SCHEDULE", raising=False)
    monkeypatch.delenv("JOBCTL_TRIGGER", raising=False)

    def invoke(*args):
        return runner.invoke(app, [*env.args, *args])
    return invoke


def toy_schedule(tmp_path, cron="0 3 * * *", **extra) -> Path:
    path = tmp_path / "schedule.toml"
    lines = ['timezone = "UTC"', *(f"{k} = {json.dumps(v)}" for k, v in extra.items()),
             "[[entry]]", 'name = "nightly"', f'cron = "{cron}"', 'groups = ["toy"]', "params = { n = 2 }",
             'description = "toy chain every night"',
             "[[entry]]", 'name = "later"', 'cron = "@daily"', 'jobs = ["toy-x"]', "enabled = false"]
    path.write_text("\n".join(lines) + "\n")
    return path


# -- schedule show / install / uninstall -----------------------------------------------------------------

def test_show_prints_what_install_would_write(cli, env, tmp_path):
    res = cli("schedule", "show", "--config", str(toy_schedule(tmp_path)))
    assert res.exit_code == 0, res.output
    line = next(x for x in res.stdout.splitlines() if x.startswith("0 3 * * *"))
    assert f"JOBCTL_DB={env.db}" in line and f"JOBCTL_LEDGER={env.ledger}" in line
    assert f"JOBCTL_MEDIA_ROOT={env.media}" in line and "JOBCTL_TRIGGER=cron" in line
    assert "enqueue --group toy -p n=2 --wait" in line and f">> {tmp_path}/jobctl-cron.log 2>&1" in line
    assert line.endswith("# jobctl:nightly") and "installed" not in line  # nothing installed yet
    assert "later: @daily" in res.stdout and "jobctl enqueue toy-x --wait" in res.stdout  # disabled, with a note
    data = json.loads(cli("schedule", "show", "--config", str(toy_schedule(tmp_path)), "--json").stdout)
    assert [e["name"] for e in data["entries"]] == ["nightly", "later"] and data["entries"][1]["line"] is None


def test_show_the_built_in_schedule_needs_the_real_groups(cli):
    res = cli("schedule", "show")
    assert res.exit_code == 2 and "unknown group 'maintenance'" in res.stderr  # the toy catalogue has none


def test_install_twice_and_uninstall_leave_other_lines_byte_for_byte(cli, tmp_path):
    tab = tmp_path / "crontab"
    tab.write_text(FOREIGN)
    config = str(toy_schedule(tmp_path))
    res = cli("schedule", "install", "--config", config, "--crontab-file", str(tab))
    assert res.exit_code == 0, res.output
    assert "added nightly" in res.stdout
    once = tab.read_text()
    assert once.startswith(FOREIGN + "\n") and len(sched.parse_installed(once)) == 1
    res = cli("schedule", "install", "--config", config, "--crontab-file", str(tab), "--json")
    assert json.loads(res.stdout)["changed"] is False and tab.read_text() == once
    res = cli("schedule", "uninstall", "--crontab-file", str(tab))
    assert res.exit_code == 0 and "removed nightly" in res.stdout
    assert tab.read_text() == FOREIGN + "\n"
    assert "no jobctl entries" in cli("schedule", "uninstall", "--crontab-file", str(tab)).stdout


def test_install_into_the_users_crontab_through_the_crontab_command(cli, tmp_path, monkeypatch):
    bindir, store = tmp_path / "bin", tmp_path / "spool"
    bindir.mkdir()
    fake = bindir / "crontab"
    fake.write_text('#!/bin/sh\nif [ "$1" = "-l" ]; then\n  [ -f "$SPOOL" ] || { echo "no crontab for me" >&2; exit 1; }\n'
                    '  cat "$SPOOL"\nelse\n  cat "$1" > "$SPOOL"\nfi\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SPOOL", str(store))
    res = cli("schedule", "install", "--config", str(toy_schedule(tmp_path)))
    assert res.exit_code == 0, res.output
    assert [i.name for i in sched.parse_installed(store.read_text())] == ["nightly"]
    assert cli("schedule", "uninstall").exit_code == 0 and store.read_text() == ""


def test_without_a_crontab_command_the_error_says_what_to_do(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    res = cli("schedule", "install", "--config", str(toy_schedule(tmp_path)))
    assert res.exit_code == 2 and "pass --crontab-file" in res.stderr and len(res.stderr.splitlines()) == 1


def test_an_installed_line_runs_under_sh_against_a_demo_platform(cli, env, tmp_path):
    from jobctl.demo import build_demo
    demo_db, demo_media = tmp_path / "demo.db", tmp_path / "demo-media"
    build_demo(demo_db, demo_media, 12, seed=7)
    slot = (datetime.now(UTC) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    config = str(toy_schedule(tmp_path, cron=f"{slot.minute} {slot.hour} * * *"))
    tab = tmp_path / "crontab"
    args = ["--db", str(demo_db), "--media-root", str(demo_media), "--ledger", str(env.ledger)]
    res = runner.invoke(app, [*args, "schedule", "install", "--config", config, "--crontab-file", str(tab)])
    assert res.exit_code == 0, res.output
    (line,) = sched.parse_installed(tab.read_text())
    # what cron does: /bin/sh -c with a bare environment, from the home directory
    proc = subprocess.run(["sh", "-c", sched.cron_to_shell(line.command)], cwd=tmp_path, timeout=120,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == proc.stderr == ""  # everything went to the log
    log = (tmp_path / "jobctl-cron.log").read_text()
    assert "toy-a: success" in log and "toy-c: success" in log
    led = Ledger(env.ledger)
    (batch,) = led.conn.execute("SELECT trigger, request FROM batches").fetchall()
    jobs = led.jobs(newest_first=False)
    led.close()
    assert batch[0] == "cron" and json.loads(batch[1])["groups"] == ["toy"]
    assert [(j["name"], j["status"], j["trigger"], j["params"]["n"]) for j in jobs] == [
        ("toy-a", "success", "cron", 2), ("toy-b", "success", "cron", 2), ("toy-c", "success", "cron", 2)]
    demo = sqlite_rows(demo_db, "SELECT job, count(*) FROM toy_out GROUP BY job ORDER BY job")
    assert demo == [("toy-a", 2), ("toy-b", 2), ("toy-c", 2)]
    # and `schedule check` counts that batch for the slot
    res = runner.invoke(app, [*args, "schedule", "check", "--config", config, "--crontab-file", str(tab),
                              "--now", (slot + timedelta(minutes=2)).isoformat(), "--days", "1", "--json"])
    report = json.loads(res.stdout)
    assert res.exit_code == 0, report["problems"]
    assert report["ok"] and report["entries"][0]["slots"][0]["state"] == "success"


def sqlite_rows(path, sql):
    from jobctl.db import connect
    conn = connect(path, readonly=True)
    try:
        return [tuple(r) for r in conn.execute(sql)]
    finally:
        conn.close()


# -- schedule check --------------------------------------------------------------------------------------------

def test_check_reports_a_missed_slot_and_a_failed_run(cli, env, tmp_path):
    config = str(toy_schedule(tmp_path))
    tab = tmp_path / "crontab"
    assert cli("schedule", "install", "--config", config, "--crontab-file", str(tab)).exit_code == 0
    installed = sched.installed_since(sched.parse_installed(tab.read_text()))["nightly"]
    slots = sched.CronExpr.parse("0 3 * * *").slots(installed, installed + timedelta(days=3), UTC)
    led = Ledger(env.ledger)
    request = {"jobs": [], "groups": ["toy"], "all": False, "params": {}}
    for slot, outcome in zip(slots, ("success", None, "failed")):
        if outcome is None:
            continue  # cron never started this one
        start = slot + timedelta(seconds=2)
        _, jobs = led.enqueue([("toy-a", "toy", {"n": 2}, []), ("toy-b", "toy", {"n": 2}, ["toy-a"])],
                              trigger="cron", request=request, now=start)
        for j in jobs:
            led.claim(only=[j["id"]], now=start)
            if outcome == "failed":
                led.fail(j["id"], "toy failure in batch 0", now=start + timedelta(minutes=1))
                break
            led.finish(j["id"], {}, now=start + timedelta(minutes=1))
    led.close()
    now = (slots[-1] + timedelta(hours=1)).isoformat()
    res = cli("schedule", "check", "--config", config, "--crontab-file", str(tab), "--now", now)
    assert res.exit_code == 1, res.output
    out = res.stdout
    assert "✓ nightly: installed" in out and "2 problem(s)" in out
    assert f"✗ nightly: no cron run started for the slot {slots[1]:%Y-%m-%d %H:%M}" in out
    assert "job toy-a #3 failed: toy failure in batch 0 (1 dependent job(s) cancelled)" in out
    res = cli("schedule", "check", "--config", config, "--crontab-file", str(tab), "--now", now, "--json")
    report = json.loads(res.stdout)
    assert res.exit_code == 1 and report["ok"] is False
    assert [(p["kind"], p["slot"]) for p in report["problems"]] == [
        ("missed", f"{slots[1]:%Y-%m-%dT%H:%M:%SZ}"), ("failed", f"{slots[2]:%Y-%m-%dT%H:%M:%SZ}")]
    assert [s["state"] for s in report["entries"][0]["slots"]] == ["success", "missed", "failed"]


def test_check_reports_an_entry_missing_from_the_crontab(cli, tmp_path):
    res = cli("schedule", "check", "--config", str(toy_schedule(tmp_path)), "--crontab-file",
              str(tmp_path / "empty"), "--json")
    report = json.loads(res.stdout)
    assert res.exit_code == 1 and report["problems"] == [
        {"kind": "crontab", "entry": "nightly", "message": "nightly: missing"}]


# -- the operator's view on a prepared ledger ---------------------------------------------------------------

@pytest.fixture
def story(env, cli):
    return build_story(env.ledger)


def test_status_text_and_json_with_stalled_jobs(cli, story):
    data = json.loads(cli("status", "--json").stdout)
    active = {j["id"]: j["status"] for j in data["active"]}
    assert active == {story["stalled"]: "running", story["waiting"]: "queued", story["held"]: "queued",
                      story["gone"]: "running", story["retry"]: "queued"}
    reasons = {s["job"]["id"]: s["reason"] for s in data["stalled"]}
    assert reasons[story["stalled"]].startswith("no heartbeat for 30") and "is gone" in reasons[story["gone"]]
    text = cli("status").stdout
    assert "2 stalled job(s)" in text and f"job {story['stalled']} toy-x: no heartbeat" in text
    assert "4/10 (40%)" in text


def test_status_watch_prints_plain_lines_off_a_terminal(cli, story):
    res = cli("status", "--watch", "--interval", "0.05", "--iterations", "2")
    assert res.exit_code == 0, res.output
    err = res.stderr
    assert f"job {story['stalled']} toy-x is stalled: no heartbeat for" in err
    assert f"job {story['stalled']} toy-x: running" in err and f"job {story['waiting']} toy-y: queued" in err
    assert err.count(f"job {story['waiting']} toy-y: queued") == 1  # one line per state change
    assert cli("status", "--watch", "--json").exit_code == 2


def test_history_filters_and_columns(cli, story):
    rows = json.loads(cli("history", "--status", "failed", "--json").stdout)
    assert [j["id"] for j in rows] == [story["failed"]] and rows[0]["trigger"] == "cron"
    recent = json.loads(cli("history", "--since", "90m", "--json").stdout)
    assert story["failed"] not in {j["id"] for j in recent} and story["success"] in {j["id"] for j in recent}
    toy = json.loads(cli("history", "--group", "toy", "--json").stdout)
    assert {j["name"] for j in toy} == {"toy-a", "toy-b", "toy-c"}
    text = cli("history", "--job", "toy-a").stdout
    for col in ("id", "job", "group", "status", "trigger", "started", "duration", "progress", "note"):
        assert col in text
    assert "cron" in text and "toy failure in batch 1" in text


def test_show_failed_and_cancelled_jobs(cli, story):
    text = cli("show", str(story["failed"])).stdout
    assert "failed" in text and "trigger    cron" in text and "batch      1" in text
    assert "jobctl.errors.JobFailed: toy failure in batch 1" in text and "traceback" in text
    data = json.loads(cli("show", str(story["cancelled_c"]), "--json").stdout)
    assert data["status"] == "cancelled" and f"upstream job toy-a (id {story['failed']}) failed" in data["error"]
    assert data["depends_on"] == [{"id": story["cancelled_b"], "name": "toy-b", "status": "cancelled"}]
    assert any("cancelled because upstream" in e["message"] for e in data["log"])


def test_why_text_and_json(cli, story):
    res = cli("why", "toy-y")
    assert res.exit_code == 0
    assert res.stdout.startswith("waiting: toy-y") and "STALLED" in res.stdout
    res = cli("why", str(story["cancelled_b"]))
    assert "cancelled because upstream job toy-a" in res.stdout and "first cause: toy-a" in res.stdout
    data = json.loads(cli("why", str(story["stalled"]), "--json").stdout)
    assert data["state"] == "stalled" and data["job"]["id"] == story["stalled"]
    assert json.loads(cli("why", "toy-x", "--json").stdout)["state"] == "held"
    res = cli("why", "toy-zz")
    assert res.exit_code == 2 and "unknown job 'toy-zz'" in res.stderr
    assert cli("why", "12345").exit_code == 2


def test_why_a_known_job_that_never_ran(cli):
    data = json.loads(cli("why", "toy-noop", "--json").stdout)
    assert data["state"] == "never-run" and "jobctl enqueue toy-noop --wait" in data["details"][0]


# -- completion and help -------------------------------------------------------------------------------------

def test_completion_candidates(toy_registry):
    assert _complete_job("toy-") == ["toy-a", "toy-b", "toy-c", "toy-x", "toy-y", "toy-noop", "toy-bug"]
    assert _complete_job("toy-n") == ["toy-noop"]
    assert _complete_group("oth") == ["other", "other2"]
    assert _complete_param("n") == ["n=", "now="]
    assert _complete_param("zz") == []


def test_shell_completion_runs_through_typer(toy_registry):
    env = {"_JOBCTL_COMPLETE": "complete_bash", "COMP_WORDS": "jobctl why toy-", "COMP_CWORD": "2"}
    res = runner.invoke(app, [], env=env, prog_name="jobctl")
    assert res.stdout.split() == ["toy-a", "toy-b", "toy-c", "toy-x", "toy-y", "toy-noop", "toy-bug"]
    env.update(COMP_WORDS="jobctl enqueue --group to", COMP_CWORD="3")
    assert runner.invoke(app, [], env=env, prog_name="jobctl").stdout.split() == ["toy", "toy2"]


@pytest.mark.parametrize("args", [["schedule", "show"], ["schedule", "install"], ["schedule", "uninstall"],
                                  ["schedule", "check"], ["inspect", "user"], ["why"], ["schedule"], ["inspect"]])
def test_new_commands_have_help(args):
    res = runner.invoke(app, [*args, "--help"])
    assert res.exit_code == 0 and "Usage" in res.stdout
