"""The media group: size, displayed width and height, and duration of uploaded files.

Both jobs fill the platform's own ``media`` columns (size_bytes, width, height, duration_ms,
metadata_at, metadata_error); they create no table. Files are read outside any transaction;
each batch's results are written in one short transaction of guarded UPDATEs (a row whose
path or kind changed meanwhile is left alone), so a batch is idempotent and a kill at any
instant leaves every row either as before or as after.

``metadata_at`` is the time of the last extraction, successful or not; ``metadata_error`` is
NULL after a success and says why otherwise (then width, height and duration_ms are NULL and
size_bytes is the file's size when it could be read). Hence the incremental batch does not
retry a failed file every run: ``retry_failed=true`` (or ``full=true``) does.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

from PIL import ImageFile

from ...errors import JobFailed, ParamError
from ...registry import Param, job
from .probing import MediaError, Metadata, probe

UPDATE_SQL = ("UPDATE media SET size_bytes = ?, width = ?, height = ?, duration_ms = ?, "
              "metadata_at = ?, metadata_error = ? WHERE id = ? AND path = ? AND kind = ?")
#: Failures written to the job's log one by one (then only counted).
MAX_LOGGED_ERRORS = 50
#: Failures quoted in the batch's result.
MAX_RESULT_ERRORS = 10


@dataclass(frozen=True)
class Outcome:
    """What reading one media row's file gave: metadata, or the error to record."""

    media_id: int
    path: str
    kind: str
    meta: Metadata | None = None
    error: str | None = None
    size_bytes: int | None = None

    def update_args(self, now: str) -> tuple:
        m = self.meta
        if m is not None:
            return (m.size_bytes, m.width, m.height, m.duration_ms, now, None,
                    self.media_id, self.path, self.kind)
        return (self.size_bytes, None, None, None, now, self.error, self.media_id, self.path, self.kind)


def extract(root_real: str, media_id: int, path: str, kind: str) -> Outcome:
    """Read one row's file; never raises for a bad file (the error is in the outcome)."""
    try:
        return Outcome(media_id, path, kind, meta=probe(root_real, path, kind))
    except MediaError as exc:
        return Outcome(media_id, path, kind, error=str(exc), size_bytes=exc.size_bytes)


def write_outcomes(conn: sqlite3.Connection, outcomes: list[Outcome], now: str) -> list[bool]:
    """UPDATE each row (inside the caller's transaction); whether each row was still there unchanged."""
    return [conn.execute(UPDATE_SQL, o.update_args(now)).rowcount == 1 for o in outcomes]


def media_root_real(ctx) -> str:
    """The real path of the media root; a missing root fails the job before any row is touched."""
    root = ctx.media_root
    if not root.is_dir():
        raise JobFailed(f"media root not found or not a directory: {root} (pass --media-root)")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise JobFailed("PIL.ImageFile.LOAD_TRUNCATED_IMAGES is set in this process: "
                        "truncated images would go unnoticed")
    return os.path.realpath(root)


def _media_exists(conn: sqlite3.Connection, params: dict) -> None:
    media_id = params.get("media_id")
    if media_id is None:
        return  # the required-parameter check reports it
    if conn.execute("SELECT 1 FROM media WHERE id = ?", (int(media_id),)).fetchone() is None:
        raise ParamError(f"media-metadata: media {media_id} does not exist")


@job("media-metadata", group="media",
     writes=["media"], uses_now=True, uses_media=True, bulk=False,
     validate=_media_exists,
     summary="Extracts file information",
     description="Analyzes a single uploaded video, photo or audio file to get its duration, "
                 "resolution (as displayed, after the photo's EXIF rotation) and file size. "
                 "A missing, empty, truncated or corrupt file, or one that is not what its kind "
                 "says, gets a clear error recorded on the media row, and the job fails with it.",
     when="Automatically after each upload.",
     impact="Videos show correct duration, photos display properly.",
     params=[Param("media_id", "int", required=True, min=1, help="id of the media row to read")],
     batch_size=1, pause_ms=0)
def media_metadata(ctx):
    media_id = ctx.params["media_id"]
    row = ctx.db.execute("SELECT id, path, kind FROM media WHERE id = ?", (media_id,)).fetchone()
    if row is None:
        raise JobFailed(f"media {media_id} does not exist")
    root = media_root_real(ctx)
    ctx.set_total(1)
    outcome = extract(root, *row)
    with ctx.transaction() as conn:
        (written,) = write_outcomes(conn, [outcome], ctx.now_str)
    if not written:
        raise JobFailed(f"media {media_id} was changed or deleted while its file was read; run again")
    if outcome.error is not None:
        raise JobFailed(outcome.error)
    ctx.checkpoint(advance=1)
    m = outcome.meta
    return {"media_id": media_id, "kind": outcome.kind, "size_bytes": m.size_bytes,
            "width": m.width, "height": m.height, "duration_ms": m.duration_ms}


@job("media-metadata-batch", group="media",
     writes=["media"], uses_now=True, uses_media=True, resumable=True,
     summary="Processes multiple files at once",
     description="Same as media-metadata, for every media row not read yet (full=true: all rows), "
                 "in id order. A bad file gets its error recorded on its row and the batch goes on; "
                 "the result counts the files read fine and those that failed.",
     when="When you need to process old media files (backfilling old uploads), after bulk uploads "
          "or after system updates.",
     impact="All media has correct metadata.",
     params=[Param("full", "bool", False, help="read every media row again, not only the unread ones"),
             Param("retry_failed", "bool", False,
                   help="also read again the rows whose last extraction failed")],
     batch_size=200, pause_ms=5)
def media_metadata_batch(ctx):
    root = media_root_real(ctx)
    where = _batch_filter(ctx.params["full"], ctx.params["retry_failed"])
    last_id = ctx.cursor if isinstance(ctx.cursor, int) else 0
    ctx.set_total(ctx.db.execute(f"SELECT count(*) FROM media WHERE id > ? {where}", (last_id,)).fetchone()[0])
    ok = failed = skipped = 0
    errors: list[str] = []
    while True:
        rows = ctx.db.execute(f"SELECT id, path, kind FROM media WHERE id > ? {where} ORDER BY id LIMIT ?",
                              (last_id, ctx.batch_size)).fetchall()
        if not rows:
            break
        outcomes = [extract(root, *row) for row in rows]
        with ctx.transaction() as conn:
            written = write_outcomes(conn, outcomes, ctx.now_str)
        for outcome, was_written in zip(outcomes, written):
            if not was_written:
                skipped += 1
            elif outcome.error is None:
                ok += 1
            else:
                failed += 1
                _note_failure(ctx, outcome, failed, errors)
        last_id = rows[-1][0]
        ctx.checkpoint(advance=len(rows), cursor=last_id)
    if failed > MAX_LOGGED_ERRORS:
        ctx.log(f"{failed - MAX_LOGGED_ERRORS} more files failed (see media.metadata_error)", level="warning")
    return {"processed": ok + failed, "ok": ok, "failed": failed, "skipped": skipped, "errors": errors}


def _batch_filter(full: bool, retry_failed: bool) -> str:
    if full:
        return ""
    if retry_failed:
        return "AND (metadata_at IS NULL OR metadata_error IS NOT NULL)"
    return "AND metadata_at IS NULL"


def _note_failure(ctx, outcome: Outcome, failed: int, errors: list[str]) -> None:
    line = f"media {outcome.media_id}: {outcome.error}"
    if len(errors) < MAX_RESULT_ERRORS:
        errors.append(line)
    if failed <= MAX_LOGGED_ERRORS:
        ctx.log(line, level="warning")
