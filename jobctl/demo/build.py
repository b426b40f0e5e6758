"""``build_demo``: the public entry point of ``jobctl demo``.

The database is built in a temporary file next to ``db_path`` and moved over it only when
complete, so a half-built demo never sits at ``db_path``. Media files go under
``media_root/u/`` only (see :mod:`.media`); that folder is cleared first (with ``force``).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..backend import is_url, redact
from ..errors import DatabaseError, UsageError
from ..schema import has_platform_data
from ..timeutil import utcnow
from .generate import generate
from .media import DEMO_DIR, write_media
from .writer import write_platform, write_platform_pg

SQLITE_MAGIC = b"SQLite format 3\x00"


def build_demo(db_path: Path, media_root: Path, users: int, seed: int = 42,
               now: datetime | None = None, force: bool = False,
               progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Create (or, with force, refill) a complete synthetic platform; return row counts per table
    (plus 'media_files' and 'media_bytes').

    The same (users, seed, now) always gives the same table contents and media files.
    Raises :class:`UsageError` for users < 1 or an unusable media root, and
    :class:`DatabaseError` when ``db_path`` is not an SQLite file, or already holds data and
    ``force`` is not given.
    """
    if isinstance(users, bool) or not isinstance(users, int) or users < 1:
        raise UsageError(f"--users must be a whole number of at least 1, got {users!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise UsageError(f"--seed must be a whole number, got {seed!r}")
    if is_url(str(db_path)):
        return _build_demo_pg(str(db_path), Path(media_root), users, seed, _normalise_now(now), force,
                              progress or (lambda message: None))
    db_path, media_root = Path(db_path), Path(media_root)
    now = _normalise_now(now)
    say = progress or (lambda message: None)
    _check_database_target(db_path, force)
    demo_dir = _check_media_target(media_root, force)

    data = generate(seed, users, int(now.timestamp()), say)
    tmp = db_path.with_name(f".{db_path.name}.demo-{os.getpid()}.tmp")
    _remove_db_files(tmp)
    say("writing media files (in the background)")
    media_job = _Background(lambda: _replace_demo_media(media_root, demo_dir, data))
    try:
        try:
            counts = write_platform(tmp, data, say)
        finally:
            files, size = media_job.result()          # always wait: never leave it writing
        counts["media_files"], counts["media_bytes"] = files, size
        _remove_db_files(db_path, keep_main=True)       # a stale WAL must not meet the new file
        os.replace(tmp, db_path)
    except BaseException:
        _remove_db_files(tmp)
        raise
    say("done")
    return counts


def _build_demo_pg(url: str, media_root: Path, users: int, seed: int, now: datetime, force: bool,
                   say: Callable[[str], None]) -> dict[str, int]:
    """The demo in a PostgreSQL database: created where missing, filled by COPY in one transaction.
    Refuses a database that already has tables unless ``force`` (then every table of the URL's
    schema is dropped first, as --force replaces the whole file on SQLite)."""
    from ..backend import postgres
    conn = postgres.connect(url)
    try:
        tables = [r[0] for r in conn.raw.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename").fetchall()]
        if tables and not force:
            if "users" in tables and conn.raw.execute("SELECT EXISTS(SELECT 1 FROM users)").fetchone()[0]:
                raise DatabaseError(f"{redact(url)} already holds a platform with users; pass --force to replace it")
            shown = ", ".join(tables[:5]) + (" ..." if len(tables) > 5 else "")
            raise DatabaseError(f"{redact(url)} already has tables ({shown}); pass --force to replace them")
        demo_dir = _check_media_target(media_root, force)
        data = generate(seed, users, int(now.timestamp()), say)
        say("writing media files (in the background)")
        media_job = _Background(lambda: _replace_demo_media(media_root, demo_dir, data))
        try:
            counts = write_platform_pg(conn, data, say, replace=tables)
        finally:
            files, size = media_job.result()
        counts["media_files"], counts["media_bytes"] = files, size
    finally:
        conn.close()
    say("done")
    return counts


def _replace_demo_media(media_root: Path, demo_dir: Path, data) -> tuple[int, int]:
    _clear_demo_media(demo_dir)
    return write_media(media_root, data.media, data.templates)


class _Background:
    """Run one function in a thread (media files are written while SQLite, which releases the
    GIL, fills the database); :meth:`result` joins and re-raises its exception."""

    def __init__(self, fn: Callable[[], tuple[int, int]]):
        self._value: tuple[int, int] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn,), name="jobctl-demo-media")
        self._thread.start()

    def _run(self, fn) -> None:
        try:
            self._value = fn()
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc

    def result(self) -> tuple[int, int]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


def _normalise_now(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if not isinstance(now, datetime):
        raise UsageError(f"--now must be a date and time, got {now!r}")
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    now = now.astimezone(timezone.utc).replace(microsecond=0)
    if not 2000 <= now.year <= 9000:
        raise UsageError(f"--now must be between the years 2000 and 9000, got {now.isoformat()}")
    return now


def _check_database_target(db_path: Path, force: bool) -> None:
    if db_path.is_dir():
        raise DatabaseError(f"platform database path is a directory: {db_path}")
    if not db_path.parent.is_dir():
        raise DatabaseError(f"directory for the platform database does not exist: {db_path.parent}")
    if not db_path.exists() or db_path.stat().st_size == 0:
        return
    try:
        with open(db_path, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise DatabaseError(f"cannot read {db_path}: {exc.strerror}") from None
    if head != SQLITE_MAGIC:
        raise DatabaseError(f"{db_path} exists and is not an SQLite database; refusing to overwrite it")
    if force:
        return
    if has_platform_data(db_path):
        raise DatabaseError(f"{db_path} already holds a platform with users; pass --force to replace it")
    tables = _table_names(db_path)
    if tables:
        shown = ", ".join(tables[:5]) + (" ..." if len(tables) > 5 else "")
        raise DatabaseError(f"{db_path} is an SQLite database with tables ({shown}); "
                            "pass --force to replace it")


def _table_names(db_path: Path) -> list[str]:
    try:
        conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            return [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(f"cannot read {db_path}: {exc}") from None


def _check_media_target(media_root: Path, force: bool) -> Path:
    if media_root.exists() and not media_root.is_dir():
        raise UsageError(f"media root is not a directory: {media_root}")
    demo_dir = media_root / DEMO_DIR
    if demo_dir.is_symlink() or (demo_dir.exists() and not demo_dir.is_dir()):
        if not force:
            raise UsageError(f"{demo_dir} is not a plain folder; pass --force to replace it")
    elif demo_dir.is_dir() and not force and any(_files_under(demo_dir)):
        raise UsageError(f"{demo_dir} already holds demo media files; pass --force to replace them")
    return demo_dir


def _files_under(folder: Path):
    for base, dirs, files in os.walk(folder):
        yield from files
        yield from (d for d in dirs if os.path.islink(os.path.join(base, d)))


def _clear_demo_media(demo_dir: Path) -> None:
    """Empty the demo's own folder; never follows a symbolic link out of it."""
    if demo_dir.is_symlink() or (demo_dir.exists() and not demo_dir.is_dir()):
        demo_dir.unlink()
    if not demo_dir.exists():
        return
    for base, dirs, files in os.walk(demo_dir, topdown=False):
        for name in files:
            os.unlink(os.path.join(base, name))
        for name in dirs:
            path = os.path.join(base, name)
            os.unlink(path) if os.path.islink(path) else os.rmdir(path)


def _remove_db_files(path: Path, keep_main: bool = False) -> None:
    for suffix in ("-wal", "-shm", "-journal") + (() if keep_main else ("",)):
        try:
            os.unlink(f"{path}{suffix}")
        except FileNotFoundError:
            pass
