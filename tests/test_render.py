"""The renderers at 80, 120 and 200 columns, piped with and without COLUMNS, and the live frame."""

import io
import json

import pytest
from rich.console import Console
from typer.testing import CliRunner

from jobctl.cli import app
from jobctl.cli.live import Watch, transition_line
from jobctl.cli.render import jobs_table, summary_line

runner = CliRunner()
WIDTHS = (80, 120, 200)


def _job(i, name="quiz-answer-stats", status="success", **kw):
    j = {"id": i, "name": name, "group": "quiz", "status": status, "trigger": "manual", "batch_id": 3,
         "created_at": "2026-11-29T16:50:00.000Z", "started_at": "2026-11-29T16:50:01.000Z",
         "finished_at": "2026-11-29T16:50:03.500Z", "progress_done": 7021, "progress_total": 7021,
         "error": None, "warnings": [], "result": None, "attempt": 1, "params": {}}
    j.update(kw)
    return j


JOBS = [_job(1), _job(22, "media-metadata-batch", warnings=["4 items failed: media 7: cannot identify image file"]),
        _job(333, "compatibility-with-a-very-long-name-indeed", "failed",
             error="no such table: user_traits; run build-user-traits first " * 3),
        _job(4444, "trending", "cancelled", error="cancelled because upstream job compatibility (id 333) failed"),
        _job(55555, "match-scores", "queued", started_at=None, finished_at=None, progress_done=0,
             progress_total=None)]


def _render(width, fn):
    buf = io.StringIO()
    fn(Console(file=buf, width=width, force_terminal=False))
    return buf.getvalue()


@pytest.mark.parametrize("width", WIDTHS)
def test_jobs_table_fits_and_keeps_id_and_status(width):
    out = _render(width, lambda con: jobs_table(JOBS, title="job history", console=con))
    lines = out.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width
    for j in JOBS:
        row = next(line for line in lines if line.split() and line.split()[0] == str(j["id"]))
        assert j["status"] in row
    assert "success ⚠1" in out
    assert ("4 items failed: media 7: cannot identify image file" in out) == (width == 200)
    if width == 80:
        assert "…" in out  # the long name and the error are cut, not wrapped


@pytest.mark.parametrize("width", WIDTHS)
def test_cli_tables_at_each_width(env, toy_registry, width):
    res = runner.invoke(app, [*env.args, "jobs"], env={"COLUMNS": str(width)})
    assert res.exit_code == 0 and max(len(x.rstrip()) for x in res.stdout.splitlines()) <= width
    assert "toy-a" in res.stdout
    runner.invoke(app, [*env.args, "enqueue", "toy-c"])
    for args in (["history"], ["status"], ["enqueue", "toy-c", "--plan"]):
        res = runner.invoke(app, [*env.args, *args], env={"COLUMNS": str(width)})
        assert res.exit_code == 0, res.output
        assert max(len(x.rstrip()) for x in res.stdout.splitlines()) <= width, (args, res.stdout)


def test_piped_without_columns_prints_tab_separated_lines(env, toy_registry, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    runner.invoke(app, [*env.args, "enqueue", "toy-b"])
    out = runner.invoke(app, [*env.args, "history"]).stdout.splitlines()
    assert out[0].split("\t")[:4] == ["id", "job", "group", "status"]
    assert [line.split("\t")[1] for line in out[1:]] == ["toy-b", "toy-a"]
    jobs = runner.invoke(app, [*env.args, "jobs"]).stdout.splitlines()
    assert all("\t" in line for line in jobs) and jobs[1].split("\t")[0] == "toy-a"


def test_plan_says_who_needs_a_dependency(env, toy_registry):
    out = runner.invoke(app, [*env.args, "enqueue", "toy-c", "--plan"], env={"COLUMNS": "120"}).stdout
    assert "needed by toy-b (group toy)" in out and "needed by the batch" not in out


def test_transition_lines_are_said_once_and_cut_with_a_pointer():
    long = _job(7, "stats", result={f"column_{i}": {"was": i, "now": i + 1} for i in range(40)})
    line = transition_line(long, "success")
    assert len(line) <= 220 and line.endswith("… (all of it: jobctl show 7)") and '"now"' in line
    assert transition_line(_job(8, "x", result={"rows": 3}), "success") == 'job 8 x: success in 2.5s {"rows": 3}'
    failed = transition_line(JOBS[2], "failed")
    assert len(failed) <= 200 and "…" in failed and failed.endswith("(jobctl show 333)")
    assert transition_line(JOBS[1], "success").startswith("job 22 media-metadata-batch: success in 2.5s with 1 warning")


def test_plain_watch_says_every_transition_of_every_job_once(capsys):
    w = Watch("unused", [], live=False)
    first = [_job(1, "a", "running", finished_at=None), _job(2, "b", "queued", started_at=None, finished_at=None)]
    w._say_transitions(first)  # job 1 was queued and started before the first poll: both are said
    w._say_transitions(first)
    w._say_transitions([_job(1, "a"), _job(2, "b")])
    lines = [x.split(" ", 1)[1] for x in capsys.readouterr().err.splitlines()]
    assert lines == ["job 1 a: queued in batch 3", "job 2 b: queued in batch 3", "job 1 a: running",
                     "job 2 b: running", "job 1 a: success in 2.5s", "job 2 b: success in 2.5s"]


@pytest.mark.parametrize("width", WIDTHS)
def test_live_frame_is_calm(width):
    w = Watch("unused", [], live=True)
    w._typical = {"match-scores": 20.0}
    running = _job(9, "compatibility", "running", finished_at=None, progress_done=2, progress_total=2)
    jobs = [JOBS[0], running, JOBS[4]]
    out = _render(width, lambda con: con.print(w.frame(jobs, width, w._t0 + 5)))
    lines = out.splitlines()
    assert max(len(x.rstrip()) for x in lines) <= width
    queued = next(x for x in lines if "match-scores" in x)
    assert "queued, usually 20.0s" in queued and "━" not in queued  # static: no bar, no pulse
    assert "finishing" in next(x for x in lines if "compatibility" in x)  # 2/2 but still running
    assert lines[0].startswith("batch 1/3 done")


def test_idle_status_frame_has_no_bar():
    from jobctl.cli.live import StatusWatch
    w = StatusWatch("unused", live=True, every=1, iterations=0, after=300)
    w._idle_since = "16:50:35"
    out = _render(80, lambda con: con.print(w.frame([], 80, 0)))
    assert "no active jobs" in out and "━" not in out and "0/0" not in out


def test_summary_names_a_real_job():
    line = summary_line(JOBS[:4], 3)
    assert "jobctl show 333" in line and " ID" not in line
    assert "1/4 succeeded" not in line and "2/4 succeeded, 1 with warnings, 1 failed, 1 cancelled" in line
    assert "jobctl show 22" in summary_line(JOBS[:2], 3)
    assert "jobctl" not in summary_line(JOBS[:1], 3)


def test_eta_is_smoothed():
    w = Watch("unused", [], live=True)
    w._typical = {"a": 10.0, "b": 10.0}
    jobs = [_job(1, "a", "queued", started_at=None, finished_at=None),
            _job(2, "b", "queued", started_at=None, finished_at=None)]
    assert w.batch_eta(jobs, 100.0) == pytest.approx(20.0)
    jobs[1]["name"] = "b"
    w._typical["b"] = 40.0  # a sudden new estimate moves the ETA only part of the way
    assert 20.0 < w.batch_eta(jobs, 101.0) < 49.0
    assert json.dumps(w.batch_eta([_job(3, "c", "queued", started_at=None)], 102.0)) == "null"


def test_run_says_each_event_once(env, toy_registry, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    res = runner.invoke(app, [*env.args, "run", "toy-a", "-p", "n=2"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    lines = [x.split(" ", 1)[1] for x in res.stderr.splitlines()]
    assert lines == ["job 1 toy-a: queued in batch 1", "job 1 toy-a: running", "job 1 toy-a: success in "
                     + lines[2].rsplit(" ", 1)[1]], lines
    assert json.dumps(result) not in res.stderr
    res = runner.invoke(app, [*env.args, "enqueue", "toy-b", "--wait"])
    summary = res.stderr.splitlines()[-1]
    assert summary.startswith("batch 2: 2/2 succeeded") and "ID" not in summary
    assert sum("toy-b: success" in x for x in res.stderr.splitlines()) == 1 and res.stdout == ""
