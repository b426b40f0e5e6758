"""media-orphan-cleanup: delete old unattached media rows with their files, and old stray files.

Definitions: a media row is *attached* when a non-deleted post uses it (post_media) or it
is a non-deleted user's avatar. An unattached row created more than ``grace_hours`` before ``now``
is deleted with its file; a regular file under the media root that no media row names, with an mtime
older than the grace period, is deleted too. The grace period protects uploads in progress.

Crash-safe order, per batch of rows:

1. outside any transaction, each candidate row's path is checked (no absolute path, no '..', no
   symbolic link on the way, a regular file or nothing) and its file examined (lstat);
2. one short write transaction deletes the rows with a ``DELETE … WHERE`` that re-checks, in that
   same transaction, that the row is still unattached and old (a row attached meanwhile stays);
3. after the commit, each deleted row's file is unlinked, if it is still the file examined in 1 and
   no other media row (old or new) names it.

A kill between 2 and 3 leaves only an untracked file, which a later run deletes as a stray once its
mtime is past the grace period: re-running converges. A media row never loses its file while it
exists. Stray files are re-checked inside a write transaction (no media row names them, not even a
row inserted since the scan) and unlinked before it commits, so the platform cannot register the
path in between. Nothing is followed through a symbolic link; see :mod:`.maintenance_fs`.

Rows whose path is unsafe, or whose file cannot be deleted, are kept and reported with the reason.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import timedelta

from ...backend import dialect
from ...errors import JobFailed
from ...timeutil import fmt_ts
from .fs import FileId, MediaRoot, UnsafePath, path_key, split_media_path

_ATTACHED = """(EXISTS (SELECT 1 FROM post_media pm JOIN posts p ON p.id = pm.post_id
                        WHERE pm.media_id = media.id AND p.deleted_at IS NULL)
             OR EXISTS (SELECT 1 FROM users u
                        WHERE u.avatar_media_id = media.id AND u.deleted_at IS NULL))"""


def _orphan(conn) -> str:
    """Unattached and created before :cutoff (on SQLite julianday() of an unparseable created_at
    is NULL, so such a row is never taken for old)."""
    d = dialect(conn)
    return f"NOT {_ATTACHED} AND {d.instant('media.created_at')} < {d.instant(':cutoff')}"
#: The longest a stray-file transaction keeps the write lock before committing (seconds).
STRAY_TX_SECONDS = 0.05


@dataclass
class Report:
    """The job's result: counts are exact, the lists stop at ``limit`` entries each."""

    dry_run: bool
    cutoff: str
    limit: int
    rows_deleted: int = 0
    files_deleted: int = 0
    stray_files_deleted: int = 0
    bytes_freed: int = 0
    rows_without_file: int = 0
    skipped_count: int = 0
    deleted_rows: list = field(default_factory=list)
    deleted_files: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def row(self, media_id: int, path: str) -> None:
        self.rows_deleted += 1
        if len(self.deleted_rows) < self.limit:
            self.deleted_rows.append({"id": media_id, "path": path})

    def file(self, rel: str, size: int, media_id: int | None) -> None:
        self.files_deleted += 1
        self.bytes_freed += size
        if media_id is None:
            self.stray_files_deleted += 1
        if len(self.deleted_files) < self.limit:
            self.deleted_files.append({"path": rel, "bytes": size, "media_id": media_id})

    def skip(self, path: str, reason: str, media_id: int | None = None) -> None:
        self.skipped_count += 1
        if len(self.skipped) < self.limit:
            entry = {"path": path, "reason": reason}
            if media_id is not None:
                entry["media_id"] = media_id
            self.skipped.append(entry)

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        out.pop("limit")
        out["lists_truncated"] = max(self.rows_deleted, self.files_deleted, self.skipped_count) > self.limit
        return out


@dataclass
class _Planned:
    media_id: int
    path: str
    parts: tuple[str, ...]
    st: os.stat_result | None


def cleanup(ctx, grace_hours: float, dry_run: bool, limit: int) -> dict:
    cutoff_dt = ctx.now - timedelta(hours=grace_hours)
    report = Report(dry_run=dry_run, cutoff=fmt_ts(cutoff_dt), limit=limit)
    conn = ctx.db
    try:
        root = MediaRoot(ctx.media_root, protected=_database_files(conn))
    except UnsafePath as exc:
        raise JobFailed(str(exc)) from None
    with root:
        # Every path the media table names (normalised): those files are never strays.
        max_id = conn.execute("SELECT COALESCE(MAX(id), 0) FROM media").fetchone()[0]
        named: dict[str, int] = {}
        for (p,) in conn.execute("SELECT path FROM media WHERE id <= ?", (max_id,)):
            key = path_key(p)
            if key is not None:
                named[key] = named.get(key, 0) + 1
        strays = _find_strays(root, named, cutoff_dt.timestamp(), report)
        n_rows = conn.execute(f"SELECT COUNT(*) FROM media WHERE {_orphan(conn)}",
                              {"cutoff": report.cutoff}).fetchone()[0]
        ctx.set_total(n_rows + len(strays))
        ctx.log(f"{'dry run: ' if dry_run else ''}{n_rows} unattached media rows and {len(strays)} "
                f"stray files older than {report.cutoff}")
        _delete_rows(ctx, root, named, max_id, report)
        _delete_strays(ctx, root, strays, max_id, report)
    return report.to_dict()


# -- rows ---------------------------------------------------------------------------------------------

def _delete_rows(ctx, root: MediaRoot, named: dict[str, int], max_id: int, report: Report) -> None:
    conn, after = ctx.db, 0
    while True:
        batch = conn.execute(
            f"SELECT id, path FROM media WHERE id > :after AND {_orphan(conn)} ORDER BY id LIMIT :n",
            {"after": after, "cutoff": report.cutoff, "n": ctx.batch_size}).fetchall()
        if not batch:
            return
        after = batch[-1][0]
        planned = [p for p in (_plan_row(root, mid, path, report) for mid, path in batch) if p]
        if report.dry_run:
            gone = [p for p in planned if _still_orphan(conn, p, report.cutoff)]
        else:
            with ctx.transaction():
                gone = [p for p in planned if conn.execute(
                    f"DELETE FROM media WHERE id = :id AND path = :path AND {_orphan(conn)}",
                    {"id": p.media_id, "path": p.path, "cutoff": report.cutoff}).rowcount == 1]
        for p in gone:
            report.row(p.media_id, p.path)
            _remove_row_file(conn, root, p, named, max_id, report)
        ctx.checkpoint(advance=len(batch), cursor={"phase": "rows", "after": after})


def _plan_row(root: MediaRoot, media_id: int, path: str, report: Report) -> _Planned | None:
    try:
        parts = split_media_path(path)
        st = root.examine(parts)
    except UnsafePath as exc:
        report.skip(path, f"{exc}; row kept", media_id)
        return None
    return _Planned(media_id, path, parts, st)


def _still_orphan(conn, p: _Planned, cutoff: str) -> bool:
    return conn.execute(f"SELECT EXISTS(SELECT 1 FROM media WHERE id = :id AND path = :path AND {_orphan(conn)})",
                        {"id": p.media_id, "path": p.path, "cutoff": cutoff}).fetchone()[0] == 1


def _remove_row_file(conn, root: MediaRoot, p: _Planned, named: dict[str, int], max_id: int,
                     report: Report) -> None:
    """After the row's deletion committed: unlink its file unless something else still names it."""
    if p.st is None:
        report.rows_without_file += 1
        return
    key = "/".join(p.parts)
    # Another row naming the same file (written differently, or registered since the scan) keeps it.
    shared = named.get(key, 0) > 1
    named[key] = named.get(key, 1) - 1
    if shared or _named_now(conn, key, max_id, exclude_id=p.media_id):
        report.skip(key, "file still named by another media row; kept", p.media_id)
        return
    if report.dry_run:
        report.file(key, p.st.st_size, p.media_id)
        return
    try:
        root.unlink(p.parts, FileId.of(p.st))
    except FileNotFoundError:
        report.rows_without_file += 1
    except UnsafePath as exc:
        report.skip(key, f"{exc}; row deleted, file left for a later run", p.media_id)
    except OSError as exc:
        report.skip(key, f"cannot delete file: {exc.strerror}; row deleted, file left for a later run",
                    p.media_id)
    else:
        report.file(key, p.st.st_size, p.media_id)


def _named_now(conn, key: str, max_id: int, exclude_id: int | None = None) -> bool:
    """Does a media row name ``key``: exactly, or (for rows newer than the scan) once normalised?"""
    rows = conn.execute("SELECT id, path FROM media WHERE path = :key OR id > :max_id",
                        {"key": key, "max_id": max_id}).fetchall()
    return any(mid != exclude_id and path_key(path) == key for mid, path in rows)


# -- stray files ------------------------------------------------------------------------------------------

def _find_strays(root: MediaRoot, named: dict[str, int], cutoff_ts: float, report: Report) -> list:
    """Regular files no media row names, older than the cutoff; reports what the walk skipped."""
    entries = list(root.walk())
    links = {e.rel for e in entries if e.kind == "symlink"}
    aliased = _aliases(root, named, links) if links else set()
    strays = []
    for entry in entries:
        if entry.kind != "file":
            report.skip(entry.rel, entry.reason)
        elif entry.rel not in named and entry.rel not in aliased and entry.st.st_mtime < cutoff_ts:
            strays.append((entry.rel, entry.st))
    return strays


def _aliases(root: MediaRoot, named: dict[str, int], links: set[str]) -> set[str]:
    """Files that media rows name through a symbolic link inside the root ('alias/x.jpg' naming
    'real/x.jpg'): the job never acts through the link, but such a file is not a stray either."""
    out = set()
    for key in named:
        parts = key.split("/")
        if any("/".join(parts[:i]) in links for i in range(1, len(parts) + 1)):
            real = os.path.realpath(os.path.join(root.path, *parts))
            if os.path.commonpath([real, root.path]) == root.path and real != root.path:
                out.add(os.path.relpath(real, root.path).replace(os.sep, "/"))
    return out


def _delete_strays(ctx, root: MediaRoot, strays: list, max_id: int, report: Report) -> None:
    conn, size = ctx.db, ctx.batch_size
    for i in range(0, len(strays), size):
        batch = strays[i:i + size]
        if report.dry_run:
            for rel, st in batch:
                _remove_stray(conn, root, rel, st, max_id, report)
        else:
            done = 0
            while done < len(batch):
                done = _strays_in_one_transaction(ctx, root, batch, done, max_id, report)
        ctx.checkpoint(advance=len(batch), cursor={"phase": "files", "done": i + len(batch)})


def _strays_in_one_transaction(ctx, root: MediaRoot, batch: list, start: int, max_id: int,
                               report: Report) -> int:
    """Check and unlink ``batch[start:]`` while holding the write lock (so no media row can name a
    file between its check and its unlink), committing after STRAY_TX_SECONDS: a slow disk must not
    hold the platform's writers back. Returns the index of the first file not handled."""
    started = time.monotonic()
    with ctx.transaction():
        for i in range(start, len(batch)):
            rel, st = batch[i]
            _remove_stray(ctx.db, root, rel, st, max_id, report)
            if time.monotonic() - started > STRAY_TX_SECONDS:
                return i + 1
    return len(batch)


def _remove_stray(conn, root: MediaRoot, rel: str, walked: os.stat_result, max_id: int,
                  report: Report) -> None:
    parts = tuple(rel.split("/"))
    try:
        st = root.examine(parts)
        if st is None:
            return
        if FileId.of(st) != FileId.of(walked):
            raise UnsafePath("file changed since the scan; left for a later run")
        if _named_now(conn, rel, max_id):
            raise UnsafePath("a media row now names this file; kept")
        if not report.dry_run:
            root.unlink(parts, FileId.of(st))
    except FileNotFoundError:
        return
    except UnsafePath as exc:
        report.skip(rel, str(exc))
    except OSError as exc:
        report.skip(rel, f"cannot delete file: {exc.strerror}")
    else:
        report.file(rel, st.st_size, None)


def _database_files(conn) -> tuple[str, ...]:
    """The platform database's files (and its journals), which must survive even inside the root."""
    out = []
    for path in dialect(conn).database_files(conn):
        out += [path, path + "-wal", path + "-shm", path + "-journal"]
    return tuple(out)
