"""The schedule: cron expressions, the TOML file, crontab lines and edits, and the check of runs."""

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from jobctl import schedule as sched
from jobctl.ledger import Ledger

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- cron expressions --------------------------------------------------------------------------------

def test_daily_and_weekly_slots():
    daily = sched.CronExpr.parse("0 3 * * *")
    got = daily.slots(at("2026-11-26T12:00"), at("2026-11-29T03:00"), UTC)
    assert got == [at("2026-11-27T03:00"), at("2026-11-28T03:00"), at("2026-11-29T03:00")]  # (start, end]
    weekly = sched.CronExpr.parse("0 23 * * 0")  # 2026-11-29 is a Sunday
    assert weekly.slots(at("2026-11-16T00:00"), at("2026-12-01T00:00"), UTC) == [
        at("2026-11-22T23:00"), at("2026-11-29T23:00")]
    assert sched.CronExpr.parse("0 23 * * sun").slots(at("2026-11-16T00:00"), at("2026-12-01T00:00"), UTC) == \
        sched.CronExpr.parse("0 23 * * 7").slots(at("2026-11-16T00:00"), at("2026-12-01T00:00"), UTC)


def test_lists_ranges_steps_and_names():
    e = sched.CronExpr.parse("*/20 9-10 * * mon-fri")
    got = e.slots(at("2026-11-27T00:00"), at("2026-11-28T23:59"), UTC)  # Friday and Saturday
    assert got == [at(f"2026-11-27T{h:02d}:{m:02d}") for h in (9, 10) for m in (0, 20, 40)]
    e = sched.CronExpr.parse("5,35 1 1-7/3 jan,dec *")
    assert e.slots(at("2026-12-01T00:00"), at("2026-12-31T00:00"), UTC) == [
        at(f"2026-12-{d:02d}T01:{m:02d}") for d in (1, 4, 7) for m in (5, 35)]
    assert sched.CronExpr.parse("30/15 * * * *").slots(at("2026-12-01T00:00"), at("2026-12-01T01:00"), UTC) == [
        at("2026-12-01T00:30"), at("2026-12-01T00:45")]


def test_both_day_fields_restricted_means_either():
    e = sched.CronExpr.parse("0 0 1 * mon")  # the 1st, and every Monday
    days = [s.day for s in e.slots(at("2026-11-30T00:00"), at("2026-12-31T23:00"), UTC)]
    assert days == [1, 7, 14, 21, 28]
    assert [s.day for s in sched.CronExpr.parse("0 0 * * mon").slots(
        at("2026-11-30T00:00"), at("2026-12-31T23:00"), UTC)] == [7, 14, 21, 28]


def test_macros_and_time_zones():
    assert sched.CronExpr.parse("@weekly").slots(at("2026-11-23T00:00"), at("2026-11-30T00:00"), UTC) == \
        [at("2026-11-29T00:00")]
    berlin = sched.CronExpr.parse("0 3 * * *").slots(at("2026-03-28T00:00"), at("2026-03-30T00:00"),
                                                      ZoneInfo("Europe/Berlin"))
    assert berlin == [at("2026-03-28T02:00"), at("2026-03-29T01:00")]  # summer time starts on the 29th


@pytest.mark.parametrize("text, message", [
    ("61 * * * *", "out of range"), ("* * * *", "five fields"), ("*/0 * * * *", "step '0'"),
("@reboot", "@yearly"), ("0 0 * foo *", "not acceptable"),
    ("0 0 * * * *", "five fields"),
])
def test_bad_expressions_are_refused(text, message):
    with pytest.raises(sched.ScheduleError, match=message):
        sched.CronExpr.parse(text)


def test_an_expression_cron_would_refuse_is_refused_on_load(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[entry]]\nname = "x"\ncron = "5-1 * * * *"\ngroups = ["feed"]\n')
    with pytest.raises(sched.ScheduleError, match="not valid for cron"):
        sched.load_schedule(path)


# -- the schedule file ----------------------------------------------------------------------------------

def test_the_built_in_schedule_is_the_guides(monkeypatch, tmp_path):
    monkeypatch.delenv("JOBCTL_SCHEDULE", raising=False)
    monkeypatch.chdir(tmp_path)
    s = sched.load_schedule()
    assert s.source == "the built-in schedule"
    by = {e.name: e for e in s.entries}
    assert (by["nightly"].cron, by["nightly"].groups) == ("0 3 * * *", ("maintenance", "feed"))
    assert (by["weekly"].cron, by["weekly"].groups) == ("0 23 * * 0", ("search", "matching"))
    assert [e.name for e in s.enabled()] == ["nightly", "weekly"]
    off = {j for e in s.entries if not e.enabled for j in e.jobs}
    assert off == {"media-metadata-batch", "quiz-answer-stats"}


def test_schedule_file_lookup_order(monkeypatch, tmp_path):
    monkeypatch.delenv("JOBCTL_SCHEDULE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobctl-schedule.toml").write_text('[[entry]]\nname="here"\ncron="0 1 * * *"\ngroups=["toy"]\n')
    assert [e.name for e in sched.load_schedule().entries] == ["here"]
    other = tmp_path / "other.toml"
    other.write_text('log = "logs/cron.log"\ntimezone = "UTC"\n'
                     '[[entry]]\nname="env"\ncron="0 2 * * *"\njobs=["toy-a"]\nparams={n=2, full=true}\n')
    monkeypatch.setenv("JOBCTL_SCHEDULE", str(other))
    s = sched.load_schedule()
    assert [e.name for e in s.entries] == ["env"] and s.log == tmp_path / "logs" / "cron.log"
    assert s.entries[0].params == (("full", "true"), ("n", "2")) and s.tzinfo() is UTC


@pytest.mark.parametrize("body, message", [
    ('[[entry]]\nname="a"\ncron="0 1 * * *"\n', "give groups or jobs"),
    ('[[entry]]\nname="a"\ncron="0 1 * * *"\ngroups=["x"]\ncolour="red"\n', "unknown key 'colour'"),
    ('[[entry]]\nname="a b"\ncron="0 1 * * *"\ngroups=["x"]\n', "name must be"),
    ('[[entry]]\nname="a"\ncron="0 25 * * *"\ngroups=["x"]\n', "entry 'a': cron expression '0 25 \\* \\* \\*' is not acceptable, out of range"),
    ('[[entry]]\nname="a"\ncron="0 1 * * *"\ngroups=["x"]\n[[entry]]\nname="a"\ncron="0 2 * * *"\ngroups=["y"]\n',
     "used twice"),
    ('logs = "x"\n', "unknown setting 'logs'"),
    ('timezone = "Mars/Olympus"\n', "unknown timezone"),
    ('[[entry]\n', "not valid TOML"),
])
def test_bad_schedule_files_are_refused(tmp_path, body, message):
    path = tmp_path / "s.toml"
    path.write_text(body)
    with pytest.raises(sched.ScheduleError, match=message):
        sched.load_schedule(path)


# -- crontab lines --------------------------------------------------------------------------------------

def paths(tmp_path, name="data dir"):
    base = tmp_path / name
    return sched.Paths(db=base / "platform.db", ledger=base / "ledger.db", media_root=base / "media",
                       log=base / "cron 100%.log", jobctl=["/opt/job ctl/bin/jobctl"])


def test_entry_command_quotes_every_path_and_sets_cron_trigger(tmp_path):
    e = sched.Entry(name="nightly", cron="0 3 * * *", groups=("maintenance", "feed"), params=(("n", "2"),))
    cmd = sched.entry_command(e, paths(tmp_path), environ={})
    assert "JOBCTL_TRIGGER=cron" in cmd and f"JOBCTL_DB='{tmp_path}/data dir/platform.db'" in cmd
    assert "'/opt/job ctl/bin/jobctl' enqueue --group maintenance --group feed -p n=2 --wait" in cmd
    assert cmd.endswith(f">> '{tmp_path}/data dir/cron 100\\%.log' 2>&1")  # cron's % escaped
    assert "JOBCTL_PLUGINS" not in cmd
    shell = sched.cron_to_shell(cmd)
    assert "cron 100%.log" in shell
    carried = sched.entry_command(e, paths(tmp_path), environ={"JOBCTL_PLUGINS": "toyjobs", "PYTHONPATH": "/t"})
    assert "JOBCTL_PLUGINS=toyjobs" in carried and "PYTHONPATH=/t" in carried


FOREIGN = ("# m h  dom mon dow   command\nMAILTO=ops@example.com\n"
           "*/5  *  * * *   /usr/bin/backup   --fast   # nightly backup\n@reboot /usr/bin/thing\n\n"
           "0 1 * * mon-fri  echo \"100%\" > /dev/null\n#0 2 * * * disabled job\n15 2 1,15 * *\ttabbed\tcommand")


def wanted(tmp_path, *entries):
    return [(e, sched.entry_command(e, paths(tmp_path), environ={})) for e in entries]


NIGHTLY = sched.Entry(name="nightly", cron="0 3 * * *", groups=("toy",))
WEEKLY = sched.Entry(name="weekly", cron="0 23 * * 0", groups=("other",))


def test_merge_twice_gives_one_set_and_keeps_foreign_lines(tmp_path):
    once, change = sched.merge(FOREIGN, wanted(tmp_path, NIGHTLY, WEEKLY), "2026-11-29T03:00:00Z")
    assert change.added == ["nightly", "weekly"]
    assert once.startswith(FOREIGN + "\n")  # untouched, byte for byte; a newline ends the last line
    twice, change = sched.merge(once, wanted(tmp_path, NIGHTLY, WEEKLY), "2026-11-30T03:00:00Z")
    assert twice == once and change.unchanged == ["nightly", "weekly"]
    assert [i.name for i in sched.parse_installed(twice)] == ["nightly", "weekly"]
    assert sched.parse_installed(twice)[0].installed_at == "2026-11-29T03:00:00Z"
    removed, names = sched.remove_all(twice)
    assert names == ["nightly", "weekly"] and removed == FOREIGN + "\n"


def test_merge_updates_in_place_and_drops_stale_entries(tmp_path):
    text, _ = sched.merge("A=1\n", wanted(tmp_path, NIGHTLY, WEEKLY), "t0")
    text += "# the end\n"
    changed = sched.Entry(name="nightly", cron="30 2 * * *", groups=("toy",))
    new, change = sched.merge(text, wanted(tmp_path, changed), "t1")
    assert change.updated == ["nightly"] and change.removed == ["weekly"]
    lines = new.splitlines()
    assert lines[0] == "A=1" and lines[-1] == "# the end" and len(lines) == 3
    assert lines[1].startswith("30 2 * * * ") and lines[1].endswith("# jobctl:nightly installed t1")
    none, change = sched.merge(new, [], "t2")  # every entry disabled: nothing of jobctl's is left
    assert none == "A=1\n# the end\n" and change.removed == ["nightly"]


def test_crontab_file_store_keeps_bytes_and_mode(tmp_path):
    f = tmp_path / "tab"
    store = sched.CrontabFile(f)
    assert store.read() == ""
    raw = "0 1 * * * echo caf\xe9\n".encode("latin-1")  # not UTF-8: still round-trips exactly
    f.write_bytes(raw)
    f.chmod(0o600)
    store.write(store.read())
    assert f.read_bytes() == raw and (f.stat().st_mode & 0o777) == 0o600


def test_compare_installed_states(tmp_path):
    s = sched.Schedule(entries=[NIGHTLY, WEEKLY, sched.Entry(name="off", cron="@daily", jobs=("x",), enabled=False)],
                       source="t")
    cmds = {e.name: sched.entry_command(e, paths(tmp_path), environ={}) for e in s.entries}
    text, _ = sched.merge("", wanted(tmp_path, NIGHTLY), "t0")
    text += sched.render_line(sched.Entry(name="old", cron="0 4 * * *", groups=("x",)), "true", "t0") + "\n"
    rows = {r["entry"]: r for r in sched.compare_installed(s, sched.parse_installed(text), cmds)}
    assert rows["nightly"]["state"] == "installed" and not rows["nightly"]["problem"]
    assert rows["weekly"]["state"] == "missing" and rows["weekly"]["problem"]
    assert rows["off"]["state"] == "not enabled" and not rows["off"]["problem"]
    assert rows["old"]["state"].startswith("stale") and rows["old"]["problem"]
    other = sched.compare_installed(s, sched.parse_installed("# " + text.replace("/ledger.db", "/other.db")), cmds)
    assert other[0]["state"] == "commented out"


# -- checking runs against the ledger ----------------------------------------------------------------------

def cron_batch(ledger, when, groups, outcome="success", minutes=5):
    """A cron batch of one toy job per group, started at ``when`` and settled ``minutes`` later."""
    batch, jobs = ledger.enqueue([(f"job-{g}", g, {"at": str(when)}, []) for g in groups], trigger="cron",
                                 request={"jobs": [], "groups": sorted(groups), "all": False, "params": {}},
                                 now=when)
    for j in jobs:
        ledger.claim(only=[j["id"]], now=when)
        if outcome == "running":
            ledger.heartbeat(j["id"], now=when + timedelta(minutes=minutes))
            continue
        end = when + timedelta(minutes=minutes)
        if outcome == "failed":
            ledger.fail(j["id"], "boom: disk full", "Traceback\nOSError: disk full", now=end)
        else:
            ledger.finish(j["id"], {"ok": True}, now=end)
    return batch


def test_check_runs_reports_missed_failed_and_overlapping_runs(tmp_path):
    s = sched.Schedule(entries=[NIGHTLY], source="t", timezone="UTC")
    ledger = Ledger(tmp_path / "ledger.db")
    ok = cron_batch(ledger, at("2026-11-26T03:00:01"), ["toy"])
    # 27th: nothing (missed); a manual run the same night does not count
    ledger.enqueue([("job-toy", "toy", {}, [])], trigger="manual", request={"groups": ["toy"]},
                   now=at("2026-11-27T03:00:30"))
    failed = cron_batch(ledger, at("2026-11-28T03:02:00"), ["toy"], outcome="failed")
    long = cron_batch(ledger, at("2026-11-29T03:00:00"), ["toy"], minutes=25 * 60)  # ran into the next slot
    ledger.enqueue([("job-x", "x", {}, [])], trigger="cron", request={"groups": ["x"]}, now=at("2026-11-29T05:00"))
    report = sched.check_runs(s, ledger, now=at("2026-11-30T03:05"), days=4.5)
    slots = {r["slot"].day: r for r in report["entries"][0]["slots"]}
    assert slots[26]["state"] == "success" and slots[26]["batch_id"] == ok
    assert slots[27]["state"] == "missed" and slots[27]["batch_id"] is None
    assert slots[28]["state"] == "failed" and slots[28]["batch_id"] == failed
    assert slots[29]["batch_id"] == long and slots[29]["overlap"]
    assert slots[30]["state"] == "pending"  # 5 minutes late is within the tolerance
    kinds = [(p["kind"], p["slot"].day) for p in report["problems"]]
    assert kinds == [("missed", 27), ("failed", 28), ("overlap", 29)]
    assert "no cron run started for the slot 2026-11-27 03:00" in report["problems"][0]["message"]
    assert "job job-toy" in report["problems"][1]["message"] and "boom: disk full" in report["problems"][1]["message"]
    assert [b["batch_id"] for b in report["unscheduled_batches"]] == [long + 1]
    # slots before the entry was installed are not expected to have run
    later = sched.check_runs(s, ledger, now=at("2026-11-30T03:05"), days=4.5,
                             since={"nightly": at("2026-11-28T12:00")})
    assert [p["kind"] for p in later["problems"]] == ["overlap"]
    ledger.close()


def test_check_runs_sees_a_stalled_cron_run(tmp_path):
    s = sched.Schedule(entries=[NIGHTLY], source="t", timezone="UTC")
    ledger = Ledger(tmp_path / "ledger.db")
    cron_batch(ledger, at("2026-11-29T03:00:00"), ["toy"], outcome="running", minutes=1)
    report = sched.check_runs(s, ledger, now=at("2026-11-29T04:00"), days=1)
    assert report["entries"][0]["slots"][0]["state"] == "stalled"
    assert [p["kind"] for p in report["problems"]] == ["stalled"]
    assert "no heartbeat for 3540 s" in report["problems"][0]["message"]
    ledger.close()


def test_installed_since_reads_the_marker(tmp_path):
    text, _ = sched.merge("", wanted(tmp_path, NIGHTLY), "2026-11-20T10:00:00Z")
    assert sched.installed_since(sched.parse_installed(text)) == {"nightly": at("2026-11-20T10:00")}
    assert isinstance(Path(sched.jobctl_executable()[0]), Path)
