"""Crash consistency: every bulk job SIGKILLed at several points leaves every table with its previous
or its complete new content, and `stalled --cleanup` + `retry` then converges to a clean run.

For each bulk job of the catalogue, on a copy of the session's "previous" platform (tests/reliability/
reliability_kit.py: every job already ran once at NOW0, then the platform changed):

1. a clean run of the job (in this process, same parameters, `now` = NOW) gives the "new" state and
   counts how often each fault point is reached, so each kill point below is known to be reached;
2. a real `jobctl run` subprocess with JOBCTL_FAULT kills itself (SIGKILL) at the chosen point;
   it must die of SIGKILL (a run that finishes means the point was not reached: the test fails);
3. every table (platform and derived) must then hold the previous or the complete new content:
   whole-table jobs (shadow + swap) table by table (tables swapped together, together), per-entity
   jobs entity by entity (each user's feed rows, each post's features, each counter row, each media
   row); every table the job does not write, and the media files, must be unchanged;
4. `jobctl stalled --cleanup` must report the job (its worker pid is gone), `jobctl retry ID --wait`
   must succeed, and then every table (and the media files) must equal the clean run's exactly
   (sorted rows, floats compared exactly), with no shadow table left behind.

Kill points: early = the first batch boundary (checkpoint=1); mid = inside the middle write
transaction, before COMMIT (commit=⌊n/2⌋+1); final = inside the swap transaction where the job swaps a
shadow table (swap=last), else inside the last write transaction (commit=n). Plus: after-swap = the
swap committed, the swapped-out ``__old`` table not dropped yet (drop=last; whole-table jobs that swap
on their own), and for media-orphan-cleanup after a row deletion committed, before its file is
unlinked (unlink=1). The counts of the clean run pick the numbers, so the suite follows the jobs as
they change; where the kill landed is checked too (a complete ``__new`` shadow after a kill in the
swap, the previous table as ``__old`` after one before its drop).

The recovery commands run through the CLI in this process (Typer's CliRunner) to keep the suite fast;
the killed run is always a real process.
"""

from __future__ import annotations

import json
import signal
import time

import pytest

import crash_hooks
import pgserver
from reliability_kit import (NOW, Site, build_previous_state, by_key, columns, copy_site, dump, files, job_args,
                             primary_key, snapshot)

from jobctl.backend import is_url
from jobctl.registry import load_catalogue

# The jobs, the tables each writes and whether it rebuilds them wholesale come from the catalogue
# (``writes``, ``rebuilds``): "whole" = the tables replaced together (shadow + swap); "entity" = table
# -> key columns, rewritten entity by entity. Here only what the test platform needs: batch sizes small
# enough for several batches on 200 users, and the entity key of a table not rewritten by primary key.
CATALOGUE = {s.name: s for s in load_catalogue().all() if s.bulk}
PARAMS = {
    "build-user-traits": {"batch_size": 20}, "match-scores": {"batch_size": 32}, "compatibility": {"batch_size": 16},
    "content-features": {"batch_size": 50, "full": "true"}, "trending": {"batch_size": 10},
    "affinity": {"batch_size": 20}, "feed-presort": {"batch_size": 15},
    "profile-search-index": {"batch_size": 25, "precompute_min": 20}, "user-interest-sets": {"batch_size": 25},
    "searchable-user": {"batch_size": 25}, "interest-relationships": {"batch_size": 20},
    "stats-reconcile": {"batch_size": 50}, "media-orphan-cleanup": {"batch_size": 1},
    "feed-presort-cleanup": {"batch_size": 100, "retention_days": 0.5},
    "media-metadata-batch": {"batch_size": 2, "full": "true"}, "quiz-answer-stats": {"batch_size": 500},
}
DEFAULT_PARAMS = {"batch_size": 10}
#: entity key of tables not rewritten by their whole primary key (the rest: their primary key)
ENTITY_KEYS = {"feed_presort": ["user_id"]}
#: jobs that delete media files (the rest must leave every file as it was)
DELETES_FILES = {"media-orphan-cleanup"}


def _config(spec) -> dict:
    cfg = {"params": PARAMS.get(spec.name, DEFAULT_PARAMS), "files": spec.name in DELETES_FILES}
    if spec.rebuilds:
        cfg["whole"] = [list(spec.writes)]
    else:
        cfg["entity"] = {t: ENTITY_KEYS.get(t) for t in spec.writes}
    return cfg


JOBS = {name: _config(spec) for name, spec in CATALOGUE.items()}
# after-swap: every job that rebuilds one table (those that swap several together do it inside one outer
# transaction, dropping the old tables in it: no separate drop to kill in)
EXTRA_POINTS = {**{name: ["after-swap"] for name, spec in CATALOGUE.items() if spec.rebuilds and len(spec.writes) == 1},
                "media-orphan-cleanup": ["unlink"]}
USES_NOW = {name for name, spec in CATALOGUE.items() if spec.uses_now}

CASES = [(job, point) for job in JOBS for point in ("early", "mid", "final", *EXTRA_POINTS.get(job, []))]


def run_params(job: str) -> dict:
    p = {**JOBS[job]["params"], "pause_ms": 0}
    if job in USES_NOW:
        p["now"] = NOW
    return p


def written_tables(job: str) -> set[str]:
    return set(CATALOGUE[job].writes)


# -- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def previous(request, tmp_path_factory):
    """The session's previous state, and its snapshot and files: in an SQLite file, and in a
    PostgreSQL database (each test works on a copy made from it as a template)."""
    if request.param == "sqlite":
        site = build_previous_state(tmp_path_factory.mktemp("previous"))
        yield site, snapshot(site.db), files(site.media)
        return
    with pgserver.scratch_database() as url:
        site = build_previous_state(tmp_path_factory.mktemp("previous-pg"), url=url)
        yield site, snapshot(site.db), files(site.media)


@pytest.fixture(autouse=True)
def _drop_database_copies():
    yield
    if pgserver._copies:
        pgserver.drop_copies()


_references: dict[tuple[str, str], dict] = {}


def reference(job: str, previous, tmp_path_factory, monkeypatch) -> dict:
    """The clean run of ``job`` on a copy of the previous state (cached per session and backend): its
    snapshot, files, result and how often it reached each fault point."""
    key = ("postgres" if is_url(previous[0].db) else "sqlite", job)
    if key not in _references:
        from jobctl import faults
        site = copy_site(previous[0], tmp_path_factory.mktemp(f"clean-{job}"))
        with monkeypatch.context() as m:
            crash_hooks.install(m.setattr)
            m.setattr(faults, "_target", {p: 10 ** 9 for p in crash_hooks.POINTS})
            m.setattr(faults, "_seen", {})
            res = site.cli("run", *job_args(job, run_params(job)), "--json")
            counts = dict(faults._seen)
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        assert out["status"] == "success", out
        _references[key] = {"snapshot": snapshot(site.db), "files": files(site.media), "counts": counts,
                            "result": out["result"]}
    return _references[key]


def resolve_point(job: str, point: str, counts: dict) -> str:
    """The JOBCTL_FAULT spec for a kill point, checked against what the clean run reached."""
    n_commit, n_check = counts.get("commit", 0), counts.get("checkpoint", 0)
    if point == "early":
        assert n_check >= 2, f"{job}: only {n_check} batch boundaries on the test platform: make batches smaller"
        return "checkpoint=1"
    if point == "mid":
        assert n_commit >= 3, f"{job}: only {n_commit} write transactions on the test platform: make batches smaller"
        return f"commit={n_commit // 2 + 1}"
    if point == "final":
        if JOBS[job].get("whole"):
            assert counts.get("swap", 0) >= 1, f"{job}: the clean run never reached the swap fault point ({counts})"
            return f"swap={counts['swap']}"
        return f"commit={n_commit}"
    if point == "after-swap":
        assert counts.get("drop", 0) >= 1, f"{job}: the clean run never dropped a swapped-out __old table ({counts})"
        return f"drop={counts['drop']}"
    if point == "unlink":
        assert counts.get("unlink", 0) >= 2, f"{job}: fewer than 2 deleted rows' files to unlink ({counts})"
        return "unlink=1"
    raise AssertionError(point)


# -- the invariant after a kill ----------------------------------------------------------------------

def check_old_or_new(job: str, point: str, site: Site, old: dict, new: dict, after: dict) -> list[str]:
    """Every table holds its previous or its complete new content; returns what was found, for the report."""
    cfg = JOBS[job]
    mine = written_tables(job)
    live_old = {t for t in old if "__" not in t}
    live_after = {t for t in after if "__" not in t}
    assert live_after == live_old | (set(new) & mine), f"{job}@{point}: live tables changed: {live_old ^ live_after}"
    for t in set(after) - live_after:
        assert any(t.startswith(m + "__") for m in mine), f"{job}@{point}: unexpected leftover table {t}"
    for t in live_after - mine:
        assert after[t] == old[t], f"{job}@{point}: table {t}, which {job} does not write, changed"
    found = []
    totals = [0, 0]          # entities (of every entity table) found old, new
    for group in cfg.get("whole", []):
        state = tuple(after.get(t) for t in group)
        was = tuple(old.get(t) for t in group)
        will = tuple(new.get(t) for t in group)
        assert was != will, f"{job}: the test platform gives the same old and new {group}: it proves nothing"
        assert state in (was, will), f"{job}@{point}: {group} hold neither the previous nor the new content"
        found.append(f"{'+'.join(group)}={'old' if state == was else 'new'}")
        expected = "new" if point == "after-swap" else "old"
        assert found[-1].endswith(expected), (
            f"{job}@{point}: expected the {expected} {group} at this point (the swap is "
            f"{'committed' if expected == 'new' else 'not committed'} yet), found {found[-1]}")
        if point == "final":          # killed inside the swap: the complete shadow is still aside
            for t in group:
                assert after.get(f"{t}__new") == new[t], f"{job}@{point}: {t}__new is not the complete new table"
        if point == "after-swap":     # killed while dropping the swapped-out table: it is still there
            for t in group:
                assert after.get(f"{t}__old") == old[t], f"{job}@{point}: {t}__old is not the previous table"
    for table, key in cfg.get("entity", {}).items():
        cols = columns(site.db, table)
        idx = [cols.index(k) for k in key or primary_key(site.db, table)]
        o, n, a = (by_key(s.get(table, ()), idx) for s in (old, new, after))
        assert o != n, f"{job}: the test platform gives the same old and new {table}: it proves nothing"
        n_old = n_new = 0
        for k in set(o) | set(n) | set(a):
            got, was, will = a.get(k, ()), o.get(k, ()), n.get(k, ())
            assert got in (was, will), (f"{job}@{point}: {table} {dict(zip(key, k))} holds neither its previous "
                                        f"nor its new rows:\n got {dump(got)}\n old {dump(was)}\n new {dump(will)}")
            if was != will:
                n_old += got == was
                n_new += got == will
        found.append(f"{table}: {n_new} entities new, {n_old} old")
        totals[0] += n_old
        totals[1] += n_new
    if point == "mid" and cfg.get("entity"):
        assert all(totals), f"{job}@{point}: a mid-run kill should leave some entities old, some new ({found})"
    return found


def check_files(job: str, point: str, site: Site, old_files: dict, new_files: dict, after: dict) -> None:
    now_files = files(site.media)
    if not JOBS[job].get("files"):
        assert now_files == old_files, f"{job}@{point}: media files changed"
        return
    for rel, digest in now_files.items():
        assert old_files.get(rel) == digest, f"{job}@{point}: file {rel} is new or changed"
    # a media row that still exists keeps its file
    cols = columns(site.db, "media")
    path_i = cols.index("path")
    for row in after["media"]:
        rel = row[path_i]
        if rel in old_files:
            assert rel in now_files, f"{job}@{point}: media row {row[0]} lost its file {rel}"


# -- the suite -----------------------------------------------------------------------------------------

def test_every_bulk_job_declares_what_it_writes():
    for name, spec in CATALOGUE.items():
        assert spec.writes, f"{name} declares no tables it writes"
    assert set(PARAMS) <= set(CATALOGUE), f"parameters for unknown jobs: {set(PARAMS) - set(CATALOGUE)}"


@pytest.mark.parametrize("job,point", CASES, ids=[f"{j}@{p}" for j, p in CASES])
def test_kill_then_retry_converges(job, point, previous, tmp_path, tmp_path_factory, monkeypatch):
    base, old, old_files = previous
    if point == "after-swap" and is_url(base.db):
        pytest.skip("PostgreSQL drops the swapped-out table inside the swap's transaction: no later drop to kill in")
    ref = reference(job, previous, tmp_path_factory, monkeypatch)
    new, new_files = ref["snapshot"], ref["files"]
    fault = resolve_point(job, point, ref["counts"])

    site = copy_site(base, tmp_path / "site")
    proc = site.run("run", *job_args(job, run_params(job)), JOBCTL_FAULT=fault)
    assert proc.returncode == -signal.SIGKILL, (
        f"{job}: JOBCTL_FAULT={fault} did not kill the run (exit {proc.returncode}): the point was not reached\n"
        f"{proc.stderr[-2000:]}")
    (killed,) = site.ledger_jobs()
    assert killed["status"] == "running" and killed["name"] == job

    after = snapshot(site.db)
    check_old_or_new(job, point, site, old, new, after)
    check_files(job, point, site, old_files, new_files, after)

    res = site.cli("stalled", "--cleanup", "--json")
    assert res.exit_code == 0, res.output
    stalled = json.loads(res.stdout)
    assert [s["job"]["id"] for s in stalled] == [killed["id"]], stalled
    assert "gone" in stalled[0]["reason"] and stalled[0]["cleaned_up"]

    res = site.cli("retry", str(killed["id"]), "--wait", "--json")
    assert res.exit_code == 0, res.output
    retried = json.loads(res.stdout)
    assert retried["status"] == "success" and retried["retry_of"] == killed["id"] and retried["attempt"] == 2

    final = snapshot(site.db)
    assert set(final) == set(new), f"{job}@{point}: tables after retry differ from a clean run's: {set(final) ^ set(new)}"
    for t in new:
        assert final[t] == new[t], f"{job}@{point}: after kill + retry, {t} differs from a clean run's"
    assert files(site.media) == new_files, f"{job}@{point}: media files after retry differ from a clean run's"


# -- signals: SIGTERM and Ctrl-C cancel at a batch boundary ---------------------------------------------

SIGNAL_CASES = [("searchable-user", "SIGTERM"), ("searchable-user", "ctrl-c"), ("quiz-answer-stats", "SIGTERM")]


@pytest.mark.parametrize("job,how", SIGNAL_CASES, ids=[f"{j}-{h}" for j, h in SIGNAL_CASES])
def test_signal_cancels_at_batch_boundary(job, how, previous, tmp_path, tmp_path_factory, monkeypatch):
    base, old, _ = previous
    ref = reference(job, previous, tmp_path_factory, monkeypatch)
    new = ref["snapshot"]
    # slow enough (pauses between batches) that the signal surely arrives mid-run
    params = {**run_params(job), "batch_size": 8 if job == "searchable-user" else 200, "pause_ms": 150}
    site = copy_site(base, tmp_path / "site")
    proc = site.spawn("run", *job_args(job, params))
    try:
        deadline = time.monotonic() + 60
        while True:
            jobs = site.ledger_jobs()
            if jobs and jobs[0]["status"] == "running" and (jobs[0]["progress_done"] or 0) >= 3 * params["batch_size"]:
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the job never made progress"
            time.sleep(0.05)
        if how == "ctrl-c":   # a terminal's Ctrl-C: SIGINT to the whole foreground process group
            import os
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    (j,) = site.ledger_jobs()
    signame = "SIGINT" if how == "ctrl-c" else "SIGTERM"
    assert j["status"] == "cancelled" and signame in (j["error"] or ""), j
    assert 0 < j["progress_done"] < j["progress_total"], "cancelled before its end, after some batches"

    after = snapshot(site.db)
    found = check_old_or_new(job, "signal", site, old, new, after) if job != "searchable-user" else []
    if job == "searchable-user":
        # whole ranges, in id order: the users already rewritten are exactly those up to some id
        key = columns(site.db, "searchable_users").index("user_id")
        o, n, a = (by_key(s["searchable_users"], [key]) for s in (old, new, after))
        state = []
        for k in sorted(set(o) | set(n)):
            assert a.get(k, ()) in (o.get(k, ()), n.get(k, ())), f"user {k}: neither old nor new snapshot"
            if o.get(k, ()) != n.get(k, ()):
                state.append("new" if a.get(k, ()) == n.get(k, ()) else "old")
        assert "new" in state and "old" in state, "stopped mid-run"
        assert state == sorted(state, key=lambda s: s == "old"), "rewritten users are not a prefix by id"
        for t in set(after) - {"searchable_users"}:
            assert after[t] == old[t], t
    else:
        assert found == ["quiz_answer_stats=old"]

    res = site.cli("retry", str(j["id"]), "-p", "pause_ms=0", "--wait", "--json")
    assert res.exit_code == 0, res.output
    final = snapshot(site.db)
    assert final == new, f"{job}: after cancel + retry the tables differ from a clean run's"
