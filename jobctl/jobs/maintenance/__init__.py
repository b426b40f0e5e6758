"""The maintenance group: jobs that keep the platform's data clean.

- stats-reconcile: counter caches on users and posts set back to the truth;
- media-orphan-cleanup: old unattached media rows and stray files deleted (see .orphans);
- feed-presort-cleanup: aged-out and deleted users' feed_presort rows deleted.

All three work in short write transactions and are safe to kill at any instant: each batch is
idempotent, so a re-run converges to what one clean run gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from ...backend import dialect
from ...db import table_exists
from ...registry import Param, job
from ...timeutil import fmt_ts
from . import orphans


# -- stats-reconcile ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Counters:
    """A table's counter-cache columns and, for each, the SQL that counts its true value for row t."""

    table: str
    columns: tuple[str, ...]
    truths: tuple[str, ...]

    def drift_sql(self) -> str:
        """The rows of the id range (lo, hi] whose counters differ, with their true values."""
        cached = ", ".join(f"t.{c}" for c in self.columns)
        truths = ", ".join(f"{sql} AS true_{c}" for c, sql in zip(self.columns, self.truths))
        differs = " OR ".join(f"{c} IS DISTINCT FROM true_{c}" for c in self.columns)
        return (f"SELECT * FROM (SELECT t.id, {cached}, {truths} FROM {self.table} t "
                f"WHERE t.id > :lo AND t.id <= :hi) AS counted WHERE {differs}")

    def update_sql(self) -> str:
        sets = ", ".join(f"{c} = ?" for c in self.columns)
        return f"UPDATE {self.table} SET {sets} WHERE id = ?"


USER_COUNTERS = Counters("users", ("follower_count", "following_count", "post_count"), (
    "(SELECT COUNT(*) FROM follows f WHERE f.followee_id = t.id)",
    "(SELECT COUNT(*) FROM follows f WHERE f.follower_id = t.id)",
    "(SELECT COUNT(*) FROM posts p WHERE p.author_id = t.id AND p.deleted_at IS NULL)",
))
POST_COUNTERS = Counters("posts", ("like_count", "comment_count", "share_count"), (
    "(SELECT COUNT(*) FROM post_likes l WHERE l.post_id = t.id)",
    "(SELECT COUNT(*) FROM comments c WHERE c.post_id = t.id AND c.deleted_at IS NULL)",
    "(SELECT COUNT(*) FROM shares s WHERE s.post_id = t.id)",
))


@job("stats-reconcile", group="maintenance",
     writes=["users", "posts"],
     summary="Fixes counting errors",
     description="Recalculates the counters shown in the app (followers, following and posts of each "
                 "user; likes, comments and shares of each post) from the underlying rows, and corrects "
                 "only the ones that drifted. The result says how many users and posts were fixed and "
                 "shows the first few corrections.",
     when="Daily or weekly to keep stats accurate.",
     impact="Correct numbers throughout the app.",
     params=[Param("max_examples", "int", 10, min=0,
                   help="how many corrections to show in the result (table, id, column, was, now)")],
     batch_size=1000, pause_ms=5)
def stats_reconcile(ctx):
    conn = ctx.db
    ctx.set_total(sum(conn.execute(f"SELECT COUNT(*) FROM {c.table}").fetchone()[0]
                      for c in (USER_COUNTERS, POST_COUNTERS)))
    examples: list[dict] = []
    fixed = {}
    for counters in (USER_COUNTERS, POST_COUNTERS):
        fixed[counters.table] = _reconcile(ctx, counters, examples, ctx.params["max_examples"])
    return {"users_fixed": fixed["users"], "posts_fixed": fixed["posts"], "examples": examples}


def _reconcile(ctx, counters: Counters, examples: list[dict], max_examples: int) -> int:
    """Walk the table in id ranges of ``batch_size`` rows; fix each range in one short transaction."""
    conn, lo, fixed = ctx.db, 0, 0
    drift, update, k = counters.drift_sql(), counters.update_sql(), len(counters.columns)
    while True:
        hi, n = conn.execute(f"SELECT MAX(id), COUNT(*) FROM (SELECT id FROM {counters.table} "
                             f"WHERE id > ? ORDER BY id LIMIT ?) AS page", (lo, ctx.batch_size)).fetchone()
        if hi is None:
            return fixed
        wrote = False
        # A read first: most ranges have no drift and need no write lock at all.
        if conn.execute(drift + " LIMIT 1", {"lo": lo, "hi": hi}).fetchone():
            with ctx.transaction():
                # Counted again inside the transaction, so a concurrent platform write is not undone.
                rows = conn.execute(drift, {"lo": lo, "hi": hi}).fetchall()
                conn.executemany(update, [(*r[1 + k:], r[0]) for r in rows])
            wrote = bool(rows)
            fixed += len(rows)
            for r in rows:
                for i, col in enumerate(counters.columns):
                    if len(examples) < max_examples and r[1 + i] != r[1 + k + i]:
                        examples.append({"table": counters.table, "id": r[0], "column": col,
                                         "was": r[1 + i], "now": r[1 + k + i]})
        ctx.checkpoint(advance=n, cursor={"table": counters.table, "after": hi}, pause=wrote)
        lo = hi


# -- media-orphan-cleanup ---------------------------------------------------------------------------------

@job("media-orphan-cleanup", group="maintenance",
     writes=["media"], uses_now=True, uses_media=True,
     summary="Removes abandoned files",
     description="Finds uploaded images, videos and audio that were never attached to a post or a "
                 "profile (or whose post or user was deleted) and deletes them with their files, and "
                 "deletes files in the media folder that no media record knows. Recent uploads are "
                 "protected by a grace period. It never follows symbolic links, never touches anything "
                 "outside the media folder and never deletes a folder. Use dry_run to see the list first.",
     when="Daily to save storage space.",
     impact="Reduced storage costs, faster backups.",
     params=[Param("grace_hours", "float", 24, min=0, max=24 * 365 * 100,
                   help="leave uploads younger than this alone (media rows by created_at, files by mtime)"),
             Param("dry_run", "bool", False, help="only report what would be deleted; delete nothing"),
             Param("max_listed", "int", 1000, min=0,
                   help="how many deleted rows, files and skips to list in the result (counts are exact)")],
     batch_size=500, pause_ms=5)
def media_orphan_cleanup(ctx):
    p = ctx.params
    return orphans.cleanup(ctx, p["grace_hours"], p["dry_run"], p["max_listed"])


# -- feed-presort-cleanup -----------------------------------------------------------------------------

_OF_DELETED_USER = ("EXISTS (SELECT 1 FROM users u WHERE u.id = feed_presort.user_id "
                    "AND u.deleted_at IS NOT NULL)")


def _aged(conn) -> str:
    """Compares instants, whatever the text form (julianday on SQLite, where an unparseable
    generated_at is never aged out; timestamptz on PostgreSQL)."""
    d = dialect(conn)
    return f"{d.instant('generated_at')} < {d.instant(':cutoff')}"


@job("feed-presort-cleanup", group="maintenance",
     writes=["feed_presort"], uses_now=True,
     summary="Clears old feed cache",
     description="Deletes pre-sorted feed entries that are too old to be useful (generated more than "
                 "retention_days ago) and every feed entry of deleted users.",
     when="Daily to keep the database lean.",
     impact="Faster database queries, reduced storage.",
     params=[Param("retention_days", "float", 3, min=0, max=365 * 100,
                   help="delete feed rows generated more than this many days before now")],
     batch_size=10000, pause_ms=5)
def feed_presort_cleanup(ctx):
    conn = ctx.db
    cutoff = fmt_ts(ctx.now - timedelta(days=ctx.params["retention_days"]))
    result = {"rows_deleted": 0, "aged_rows_deleted": 0, "deleted_user_rows_deleted": 0,
              "users_affected": 0, "cutoff": cutoff}
    if not table_exists(conn, "feed_presort"):
        ctx.log("feed_presort does not exist yet: nothing to clean")
        return result
    aged, deleted = _users_to_clean(conn, cutoff)
    todo = sorted({**aged, **deleted}.items())
    ctx.set_total(sum(n for _, n in todo))
    batch: list[int] = []
    rows = 0
    for i, (uid, n) in enumerate(todo):
        batch.append(uid)
        rows += n
        if rows >= ctx.batch_size or i == len(todo) - 1:
            _clean_users(ctx, [u for u in batch if u in deleted], [u for u in batch if u not in deleted],
                         cutoff, result)
            ctx.checkpoint(advance=rows, cursor={"after_user": uid})
            batch, rows = [], 0
    return result


def _users_to_clean(conn, cutoff: str) -> tuple[dict[int, int], dict[int, int]]:
    """{user_id: aged rows} and {user_id: rows} of deleted users (read-only scans)."""
    aged = dict(conn.execute(
        f"SELECT user_id, COUNT(*) FROM feed_presort WHERE {_aged(conn)} GROUP BY user_id", {"cutoff": cutoff}))
    deleted = dict(conn.execute(
        "SELECT user_id, COUNT(*) FROM feed_presort WHERE user_id IN "
        "(SELECT id FROM users WHERE deleted_at IS NOT NULL) GROUP BY user_id"))
    return aged, deleted


def _clean_users(ctx, deleted: list[int], others: list[int], cutoff: str, result: dict) -> None:
    """One short transaction. Each user's condition is checked again in it, so rows regenerated
    since the scan stay, and a deleted user's rows go whatever their age."""
    conn = ctx.db
    with ctx.transaction():
        gone = conn.executemany(f"DELETE FROM feed_presort WHERE user_id = ? AND {_OF_DELETED_USER}",
                                [(u,) for u in deleted]).rowcount if deleted else 0
        aged = conn.executemany(f"DELETE FROM feed_presort WHERE user_id = :u AND {_aged(conn)}",
                                [{"u": u, "cutoff": cutoff} for u in others]).rowcount if others else 0
    result["deleted_user_rows_deleted"] += gone
    result["aged_rows_deleted"] += aged
    result["rows_deleted"] += gone + aged
    result["users_affected"] += len(deleted) + len(others)
