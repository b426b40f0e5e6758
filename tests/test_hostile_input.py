"""Hostile input: every command with wrong arguments, unknown names, bad parameter values, broken
platform databases, a corrupt or locked ledger and a missing media root.

Each case runs the real `jobctl` (``python -m jobctl.cli``) in its own folder, on its own copy of a
small demo platform and ledger, and must end with:

- the documented exit code: 2 for refused input — one line on stderr, starting ``jobctl:`` and
  saying what is wrong — (0 for searches, whatever the text);
- no traceback anywhere;
- the platform unchanged: the database file byte-identical (no WAL content added either), or still
  absent; the media files unchanged;
- the ledger unchanged: the same rows in every table (jobctl may create an empty ledger on first
  use: a missing ledger counts as an empty one), and a ledger that is not SQLite byte-identical.

The cases run concurrently (a thread pool of subprocesses) in one module fixture; each test then
checks one case, so a failure names its case.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOW = "2026-11-29T03:00:00Z"
BIG = "99999999999999999999"          # beyond SQLite's 64-bit integers

SETPRIV = shutil.which("setpriv")
# Dropping CAP_DAC_OVERRIDE makes file permissions bind root too (CI runs the suite as root).
DROP_DAC = [SETPRIV, "--inh-caps=-dac_override,-dac_read_search",
            "--bounding-set=-dac_override,-dac_read_search", "--"] if SETPRIV else None


@dataclass
class Case:
    id: str
    args: list[str]
    expect: str | tuple | None             # a substring of the one stderr line, or alternatives (None: exit 0)
    code: int = 2
    platform: str = "ready"                # which platform state (see _platform)
    ledger: str = "used"                   # "used" (16 successful jobs), "none", "corrupt", "missing-folder"
    media: str = "ok"                      # "ok" or "missing"
    lock: str | None = None                # "write" or "exclusive": another process holds the ledger
    env: dict = field(default_factory=dict)
    readonly: bool = False                 # the platform file is read-only for jobctl
    stdout_has: str | None = None


RUN = ["run", "trending", "-p", f"now={NOW}"]

CASES = [
    # -- command line --------------------------------------------------------------------------
    Case("unknown-command", ["frobnicate"], "No such command 'frobnicate'"),
    Case("unknown-option", ["history", "--frobnicate"], "No such option: --frobnicate"),
    Case("missing-argument", ["describe"], "Missing argument"),
    Case("unknown-job", ["run", "trendin"], "unknown job 'trendin'"),
    Case("unknown-group", ["enqueue", "--group", "nogroup"], "unknown group 'nogroup'"),
    Case("unknown-param", ["run", "trending", "-p", "nope=1"], "unknown parameter nope"),
    Case("unknown-param-batch", ["enqueue", "--group", "feed", "-p", "nope=1"], "parameter 'nope'"),
    Case("param-without-equals", ["run", "trending", "-p", "batch_size"], "-p expects KEY=VALUE"),
    Case("wrong-type-int", ["run", "trending", "-p", "window_hours=abc"], "expects an integer"),
    Case("wrong-type-bool", ["run", "content-features", "-p", "full=maybe"], "expects true or false"),
    Case("float-for-int", ["run", "trending", "-p", "batch_size=1.5"], "expects an integer"),
    Case("negative-batch-size", ["run", "trending", "-p", "batch_size=-5"], "at least 1"),
    Case("negative-pause", ["enqueue", "--group", "feed", "-p", "pause_ms=-1"], "at least 0"),
    Case("batch-size-beyond-64-bit", ["run", "stats-reconcile", "-p", f"batch_size={BIG}"], "batch_size"),
    Case("unparseable-now", ["run", "trending", "-p", "now=yesterday"], "ISO-8601"),
    Case("now-out-of-range", ["run", "trending", "-p", "now=0001-01-01T00:00:00Z"], "now"),
    Case("media-metadata-no-media-id", ["run", "media-metadata"], "media_id is required"),
    Case("media-id-does-not-exist", ["run", "media-metadata", "-p", "media_id=99999"], "media 99999 does not exist"),
    Case("media-id-beyond-64-bit", ["run", "media-metadata", "-p", f"media_id={BIG}"], "media_id"),
    Case("show-non-integer", ["show", "abc"], "Invalid value for 'ID'"),
    Case("cancel-non-integer", ["cancel", "abc"], "Invalid value for 'ID'"),
    Case("retry-non-integer", ["retry", "abc"], "Invalid value for 'ID'"),
    Case("show-nonexistent", ["show", "999"], "no job with id 999"),
    Case("cancel-nonexistent", ["cancel", "999"], "no job with id 999"),
    Case("retry-nonexistent", ["retry", "999"], "no job with id 999"),
    Case("show-id-beyond-64-bit", ["show", BIG], ("no job with id", "Invalid value for 'ID'")),
    Case("cancel-id-beyond-64-bit", ["cancel", BIG], ("no job with id", "Invalid value for 'ID'")),
    Case("retry-id-beyond-64-bit", ["retry", BIG], ("no job with id", "Invalid value for 'ID'")),
    Case("retry-successful-job", ["retry", "1"], "cannot retry"),
    Case("cancel-finished-job", ["cancel", "1"], "cannot cancel, its status is success"),
    Case("history-limit-0", ["history", "--limit", "0"], "--limit"),
    Case("history-status-bogus", ["history", "--status", "bogus"], "unknown status 'bogus'"),
    Case("graph-format-bogus", ["graph", "--format", "bogus"], "unknown format 'bogus'"),
    Case("stalled-negative-after", ["stalled", "--after", "-1"], "must not be negative"),
    # -- search ---------------------------------------------------------------------------------
    Case("search-no-index", ["search", "zoe"], "no search index yet", platform="bare"),
    Case("search-nothing", ["search"], "give TEXT to search for"),
    *[Case(f"search-hostile-{i}", ["search", text], None, code=0) for i, text in enumerate([
        'NEAR( "zoe', "display_name:zoe OR *", "x" * 5000, "'; DROP TABLE users; -- ünïcödé 😀"])],
    # -- demo -------------------------------------------------------------------------------------
    Case("demo-over-existing-platform", ["demo", "--users", "5"], "already holds a platform"),
    Case("demo-users-0", ["demo", "--users", "0"], "--users", platform="missing"),
    Case("demo-bad-now", ["demo", "--users", "5", "--now", "soon"], "--now expects", platform="missing"),
    # -- platform database -------------------------------------------------------------------------
    Case("platform-missing", RUN, "platform database not found", platform="missing"),
    Case("platform-is-a-directory", RUN, "is a directory", platform="directory"),
    Case("platform-empty-file", RUN, "not a platform database", platform="empty"),
    Case("platform-text-file", RUN, "not an SQLite database", platform="text"),
    Case("platform-random-bytes", RUN, "not an SQLite database", platform="random"),
    Case("platform-no-tables", RUN, "not a platform database", platform="no-tables"),
    Case("platform-missing-table", RUN, "missing table shares", platform="missing-table"),
    Case("platform-missing-column", RUN, "missing column posts.share_count", platform="missing-column"),
    Case("platform-missing-table-search", ["search", "zoe"], "missing table shares", platform="missing-table"),
    Case("platform-read-only-run", RUN, "read-only", readonly=True),
    Case("platform-read-only-search", ["search", "zoe"], None, code=0, readonly=True),
    # -- ledger -------------------------------------------------------------------------------------
    Case("ledger-corrupt-history", ["history"], "ledger is not an SQLite database", ledger="corrupt"),
    Case("ledger-corrupt-run", RUN, "ledger is not an SQLite database", ledger="corrupt"),
    Case("ledger-folder-missing", RUN, "ledger folder does not exist", ledger="missing-folder"),
    Case("ledger-locked-run", RUN, "is locked by another process", lock="write",
         env={"JOBCTL_BUSY_TIMEOUT_MS": "300"}),
    Case("ledger-locked-enqueue", ["enqueue", "--group", "quiz", "-p", f"now={NOW}"], "is locked by another process",
         lock="write", env={"JOBCTL_BUSY_TIMEOUT_MS": "300"}),
    Case("ledger-locked-retry", ["retry", "1"], "is locked by another process", lock="exclusive",
         env={"JOBCTL_BUSY_TIMEOUT_MS": "300"}),
    Case("ledger-locked-history", ["history"], "is locked by another process", lock="exclusive",
         env={"JOBCTL_BUSY_TIMEOUT_MS": "300"}),
    # -- media root ------------------------------------------------------------------------------------
    *[Case(f"media-root-missing-{i}", args, "media root not found", media="missing") for i, args in enumerate([
        ["run", "media-metadata", "-p", "media_id=1"], ["run", "media-orphan-cleanup"],
        ["enqueue", "--all", "--wait"]])],
]


# -- the states ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    """'bare': a 40-user demo platform; 'ready': the same after every job ran (ledger with 16 jobs)."""
    from typer.testing import CliRunner

    from jobctl.cli import app
    from jobctl.demo import build_demo
    root = tmp_path_factory.mktemp("hostile-bases")
    bare = root / "bare"
    bare.mkdir()
    build_demo(bare / "platform.db", bare / "media", 40, seed=7, now=datetime(2026, 11, 29, 3, tzinfo=timezone.utc))
    work = root / "work"
    shutil.copytree(bare, work, copy_function=shutil.copy2)
    res = CliRunner().invoke(app, ["--db", str(work / "platform.db"), "--ledger", str(work / "ledger.db"),
                                   "--media-root", str(work / "media"), "enqueue", "--all", "--wait",
                                   "-p", f"now={NOW}", "-p", "pause_ms=0", "-p", "precompute_min=5"])
    assert res.exit_code == 0, res.output
    ready = root / "ready"
    ready.mkdir()
    shutil.copytree(work / "media", ready / "media", copy_function=shutil.copy2)
    for name in ("platform.db", "ledger.db"):   # self-contained files (no WAL beside them), via the backup API
        src, dst = sqlite3.connect(work / name), sqlite3.connect(ready / name)
        src.backup(dst)
        dst.execute("PRAGMA journal_mode = WAL")
        src.close()
        dst.close()
    for db in (ready / "platform.db", ready / "ledger.db", bare / "platform.db"):
        assert not Path(f"{db}-wal").exists()
    return {"bare": bare, "ready": ready}


def _platform(case: Case, bases, folder: Path) -> Path:
    db = folder / "platform.db"
    kind = case.platform
    if kind in ("ready", "bare"):
        shutil.copy2(bases[kind] / "platform.db", db)
    elif kind == "missing":
        pass
    elif kind == "directory":
        db.mkdir()
    elif kind == "empty":
        db.write_bytes(b"")
    elif kind == "text":
        db.write_text("users,posts\nthis is not a database\n")
    elif kind == "random":
        db.write_bytes(os.urandom(8192))
    elif kind == "no-tables":          # an SQLite file (another app's, rollback journal) without the schema
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA user_version = 3")
        conn.close()
    elif kind in ("missing-table", "missing-column"):
        shutil.copy2(bases["ready"] / "platform.db", db)
        conn = sqlite3.connect(db, isolation_level=None)
        if kind == "missing-table":     # a platform in rollback-journal mode, as an app may keep it
            conn.execute("PRAGMA journal_mode = DELETE")
            conn.execute("DROP TABLE shares")
        else:
            conn.execute("ALTER TABLE posts DROP COLUMN share_count")
        conn.close()
    else:
        raise AssertionError(kind)
    return db


def _ledger(case: Case, bases, folder: Path) -> Path:
    if case.ledger == "missing-folder":
        return folder / "no-such-folder" / "ledger.db"
    ledger = folder / "ledger.db"
    if case.ledger == "used":
        shutil.copy2(bases["ready"] / "ledger.db", ledger)
    elif case.ledger == "corrupt":
        ledger.write_bytes(os.urandom(16384))
    return ledger


def _digest(path: Path):
    if path.is_dir():
        return "directory"
    if not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shape(path: Path) -> str:
    """Size and journal mode as the file header records it (bytes 18-19: 1 rollback, 2 WAL)."""
    if not path.is_file():
        return "absent" if not path.exists() else "directory"
    head = path.read_bytes()[:20]
    mode = {b"\x01\x01": "rollback journal", b"\x02\x02": "WAL"}.get(head[18:20], "not SQLite") \
        if head[:16] == b"SQLite format 3\x00" else "not SQLite"
    return f"{path.stat().st_size} bytes, {mode}"


def _wal_bytes(db: Path) -> int:
    p = Path(f"{db}-wal")
    return p.stat().st_size if p.exists() else 0


def _ledger_rows(path: Path):
    """The ledger's content: rows of every table (a missing or empty ledger: {}); bytes if not SQLite."""
    if not path.exists() or path.stat().st_size == 0:
        return {}
    head = path.read_bytes()[:16]
    if head != b"SQLite format 3\x00":
        return _digest(path)
    conn = sqlite3.connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        out = {t: conn.execute(f'SELECT * FROM "{t}" ORDER BY 1').fetchall() for t in tables}
    finally:
        conn.close()
    return {t: rows for t, rows in out.items() if rows}


def _files(root: Path) -> dict:
    if not root.is_dir():
        return {}
    return {str(p.relative_to(root)): _digest(p) for p in sorted(root.rglob("*")) if p.is_file()}


_HOLDER = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
if sys.argv[2] == "exclusive":          # readers locked out too
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("UPDATE jobs SET attempt = attempt WHERE 0")
print("locked", flush=True)
sys.stdin.read()                        # until the test closes our stdin
conn.execute("ROLLBACK")
"""


def _command(case: Case, folder: Path, db: Path, ledger: Path, media: Path) -> list[str]:
    cmd = [sys.executable, "-m", "jobctl.cli", "--db", str(db), "--ledger", str(ledger), "--media-root", str(media),
           *case.args]
    return (DROP_DAC + cmd) if case.readonly and os.geteuid() == 0 else cmd


def _run_case(case: Case, bases, folder: Path) -> dict:
    folder.mkdir(parents=True)
    db = _platform(case, bases, folder)
    ledger = _ledger(case, bases, folder)
    media = folder / "media"
    if case.media == "ok":
        shutil.copytree(bases["ready"] / "media", media, copy_function=shutil.copy2)
    if case.readonly:
        os.chmod(db, 0o444)
    before = {"db": _digest(db), "shape": _shape(db), "wal": _wal_bytes(db), "ledger": _ledger_rows(ledger),
              "media": _files(media)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOBCTL_")}
    env.update(PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])), **case.env)
    holder = None
    if case.lock:
        holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(ledger), case.lock], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        assert holder.stdout.readline().strip() == "locked"
    try:
        started = time.monotonic()
        proc = subprocess.run(_command(case, folder, db, ledger, media), capture_output=True, text=True,
                              timeout=120, env=env, cwd=folder)
        took = time.monotonic() - started
    finally:
        if holder is not None:
            holder.stdin.close()
            holder.wait(timeout=30)
    after = {"db": _digest(db), "shape": _shape(db), "wal": _wal_bytes(db), "ledger": _ledger_rows(ledger),
             "media": _files(media)}
    return {"proc": proc, "before": before, "after": after, "took": took}


@pytest.fixture(scope="module")
def outcomes(bases, tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-cases")
    runnable = [c for c in CASES if not (c.readonly and os.geteuid() == 0 and DROP_DAC is None)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {c.id: pool.submit(_run_case, c, bases, root / c.id) for c in runnable}
        return {cid: f.result() for cid, f in futures.items()}


def test_case_ids_are_unique():
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input(case, outcomes):
    if case.id not in outcomes:
        pytest.skip("running as root without setpriv: file permissions cannot make the platform read-only")
    out = outcomes[case.id]
    proc = out["proc"]
    shown = f"exit {proc.returncode}\nstderr: {proc.stderr[-1500:]}\nstdout: {proc.stdout[-500:]}"
    assert "Traceback" not in proc.stderr + proc.stdout, shown
    assert proc.returncode == case.code, shown
    lines = proc.stderr.strip().splitlines()
    if case.expect is not None:
        assert len(lines) == 1, f"expected exactly one line on stderr\n{shown}"
        wanted = case.expect if isinstance(case.expect, tuple) else (case.expect,)
        assert lines[0].startswith("jobctl: ") and any(w in lines[0] for w in wanted), shown
    else:
        assert lines == [], shown
        assert proc.stdout.strip(), shown
    before, after = out["before"], out["after"]
    assert after["db"] == before["db"], (f"the platform database file changed (or appeared): "
                                         f"{before['shape']} -> {after['shape']}\n{shown}")
    assert after["wal"] <= before["wal"], f"the platform got WAL content\n{shown}"
    assert after["ledger"] == before["ledger"], f"the ledger changed\n{shown}"
    assert after["media"] == before["media"], f"media files changed\n{shown}"
    if case.lock:
        assert out["took"] < 8, "JOBCTL_BUSY_TIMEOUT_MS=300 was not honoured"


# Many more search strings, through the same command in this process (no interpreter start-up each).
HOSTILE_SEARCHES = ['"', "'", "NEAR(", "NEAR(a b, 2)", "*", "a*b", "zoe*", "^zoe", "-zoe", "+", "(((", ")",
                    "display_name:zoe", "{display_name bio}: zoe", "AND", "OR OR", "NOT zoe", "zoe AND",
                    '" OR 1=1 --', "'; DROP TABLE users; --", "%", "_", "\\", "x" * 20000, "ünïcödé ẞ 😀",
                    "\u202e\u200b", "  \t ", "z", "a b c d e f g h i j k l m n o p q r s t u v w x y z " * 3]


def test_search_survives_any_text(bases, tmp_path):
    from typer.testing import CliRunner

    from jobctl.cli import app
    shutil.copy2(bases["ready"] / "platform.db", tmp_path / "platform.db")
    before = _digest(tmp_path / "platform.db")
    args = ["--db", str(tmp_path / "platform.db"), "--ledger", str(tmp_path / "ledger.db"),
            "--media-root", str(bases["ready"] / "media"), "search"]
    for text in HOSTILE_SEARCHES:
        for extra in ([], ["--json"], ["--limit", "1000"]):
            res = CliRunner().invoke(app, [*args, *extra, "--", text])
            assert res.exception is None or isinstance(res.exception, SystemExit), (text, res.exception)
            assert res.exit_code == 0, (text, res.output)
    res = CliRunner().invoke(app, [*args, "--interest", "'; DROP TABLE interests; --"])
    # An unknown interest is refused with one line (exit 2), the SQL in its name never run.
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit), (res.exit_code, res.exception)
    assert "unknown interest" in res.output
    assert _digest(tmp_path / "platform.db") == before
