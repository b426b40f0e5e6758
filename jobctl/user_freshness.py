"""How fresh one user's derived data is: which job built each part, when, and why it may be behind.

Used by :func:`jobctl.inspect_user.inspect_user` (so `jobctl inspect user ID --json` and the panel's
user page say the same). A part is *behind* when its rows are older than its job's last success
(the user was skipped), when an upstream job succeeded after it was built, or when the platform
rows it came from changed after it was built (a profile edit, new quiz answers, new interests).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from .db import table_exists
from .timeutil import parse_iso

#: part → (the job that builds it, its group, the upstream jobs whose newer success makes it stale)
PARTS = {
    "profile snapshot": ("searchable-user", "search", ("build-user-traits",)),
    "interest sets": ("user-interest-sets", "search", ()),
    "traits": ("build-user-traits", "matching", ()),
    "matches": ("match-scores", "matching", ("build-user-traits",)),
    "compatibility": ("compatibility", "matching", ("match-scores",)),
    "affinities": ("affinity", "feed", ("content-features",)),
    "feed": ("feed-presort", "feed", ("match-scores", "trending", "affinity")),
}
#: The guide's troubleshooting questions, the parts they are about, and the group that fixes them.
QUESTIONS = (("Matches seem outdated", "matching", ("traits", "matches", "compatibility")),
             ("Feed not updating", "feed", ("affinities", "feed")),
             ("Profile out of date in search", "search", ("profile snapshot", "interest sets")))
SNAPSHOT_FIELDS = ("username", "display_name", "gender", "city", "country", "bio", "interests", "visibility")


def last_successes(ledger) -> dict[str, dict]:
    """Job name → {"id", "finished_at", "as_of"} of its last success; ``as_of`` is the moment the run
    computed for (its ``now``), which is what it stamps on its rows."""
    out = {}
    for job_id, name, started, finished, result in ledger.conn.execute(
            "SELECT j.id, j.name, j.started_at, j.finished_at, j.result FROM jobs j JOIN "
            "(SELECT name, MAX(id) AS id FROM jobs WHERE status='success' GROUP BY name) l ON l.id = j.id"):
        now = None
        try:
            now = (json.loads(result) or {}).get("now") if result else None
        except (ValueError, AttributeError):
            pass
        out[name] = {"id": job_id, "finished_at": finished, "as_of": now or started}
    return out


def _t(text: str | None) -> datetime | None:
    try:
        return parse_iso(text) if text else None
    except ValueError:
        return None


def _older(a: str | None, b: str | None) -> bool:
    ta, tb = _t(a), _t(b)
    return bool(ta and tb and ta.replace(microsecond=0) < tb.replace(microsecond=0))


def freshness(conn: sqlite3.Connection, user_id: int, data: dict, last: dict[str, dict]) -> list[dict]:
    """One row per part: job, group, built_at (the rows' own time, else the job's last success),
    last_success, and warnings (plain sentences)."""
    built = _built_at(conn, user_id, data, last)
    rows = []
    for part, (job, group, upstream) in PARTS.items():
        ls = last.get(job)
        warnings = []
        if ls is None:
            warnings.append(f"{job} has never succeeded")
        elif built[part] is not None and _older(built[part], ls["as_of"]):
            warnings.append(f"built {built[part]}, before {job}'s last success (job {ls['id']}, as of {ls['as_of']})")
        for up in upstream:
            ref = built[part] or (ls or {}).get("as_of")
            if up in last and ref and _older(ref, last[up]["as_of"]):
                warnings.append(f"{up} succeeded after it was built (job {last[up]['id']}, as of {last[up]['as_of']})")
        warnings += _platform_changes(conn, user_id, part, data, built[part] or (ls or {}).get("as_of"))
        rows.append({"part": part, "job": job, "group": group, "built_at": built[part] or (ls or {}).get("as_of"),
                     "last_success": ls["finished_at"] if ls else None, "warnings": warnings})
    return rows


def _built_at(conn, user_id: int, data: dict, last: dict) -> dict:
    s, t = data.get("searchable") or {}, data.get("traits") or {}
    matches = [m["computed_at"] for m in data.get("matches") or [] if m.get("computed_at")]
    feed = [r["generated_at"] for rows in (data.get("feed") or {}).values() for r in rows if r.get("generated_at")]
    return {"profile snapshot": s.get("updated_at"), "traits": t.get("computed_at"),
            "matches": min(matches) if matches else None, "feed": min(feed) if feed else None,
            "compatibility": None, "affinities": None, "interest sets": None}


def _platform_changes(conn, user_id: int, part: str, data: dict, built: str | None) -> list[str]:
    if part == "profile snapshot" and data.get("searchable"):
        changed = snapshot_drift(conn, user_id, data["searchable"])
        return [f"the profile changed after searchable-user built this snapshot ({', '.join(changed)})"] if changed else []
    if part == "traits" and built and table_exists(conn, "quiz_answers"):
        n = conn.execute("SELECT COUNT(*) FROM quiz_answers WHERE user_id=? AND answered_at > ?",
                         (user_id, built)).fetchone()[0]
        return [f"{n} quiz answer(s) given after the traits were computed"] if n else []
    if part == "interest sets" and table_exists(conn, "interest_members"):
        now = {r[0] for r in conn.execute("SELECT interest_id FROM user_interests WHERE user_id=?", (user_id,))}
        built_set = {r[0] for r in conn.execute("SELECT interest_id FROM interest_members WHERE user_id=?", (user_id,))}
        return ["the user's interests changed after user-interest-sets ran"] if now != built_set else []
    if part == "feed" and built:
        n = conn.execute("SELECT COUNT(*) FROM posts p JOIN follows f ON f.followee_id = p.author_id "
                         "WHERE f.follower_id=? AND p.deleted_at IS NULL AND p.created_at > ?", (user_id, built)).fetchone()[0]
        return [f"{n} post(s) by people they follow are newer than this feed"] if n else []
    return []


def snapshot_drift(conn, user_id: int, snap: dict) -> list[str]:
    """The snapshot fields that differ from what searchable-user would write from the live row now."""
    from datetime import date
    from .jobs.search import snapshot_row
    u = conn.execute("SELECT id, username, display_name, email, birthdate, gender, city, country, latitude, "
                     "longitude, bio, visibility FROM users WHERE id=?", (user_id,)).fetchone()
    if u is None:
        return []
    interests = [r[0] for r in conn.execute("SELECT i.name FROM user_interests ui JOIN interests i ON i.id = ui.interest_id "
                                            "WHERE ui.user_id=? ORDER BY i.name", (user_id,))]
    fresh = snapshot_row(tuple(u), interests, None, date.today(), "")
    cols = ("user_id", "username", "display_name", "age", "gender", "city", "country", "bio", "interests", "traits",
            "visibility", "updated_at")
    now = dict(zip(cols, fresh))
    return [f for f in SNAPSHOT_FIELDS if f in snap and (now.get(f) or "") != (snap.get(f) or "")]


def stale_answers(rows: list[dict]) -> list[dict]:
    """The troubleshooting questions answered for this user: which jobs are behind and the remedy group."""
    by_part = {r["part"]: r for r in rows}
    out = []
    for question, group, parts in QUESTIONS:
        behind = [{"job": by_part[p]["job"], "part": p, "why": w} for p in parts for w in by_part[p]["warnings"]]
        out.append({"question": question, "group": group, "ok": not behind, "behind": behind})
    return out
