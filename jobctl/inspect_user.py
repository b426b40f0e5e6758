"""`jobctl inspect user ID`: one user as the derived tables see them, for an operator's spot check.

It reads whichever derived tables exist (searchable_users, user_traits, match_scores,
compatibility_reports, feed_presort) and names the job that builds a missing one. It never
returns e-mail addresses, birthdates or coordinates: the profile is read column by column,
any derived column of those names is dropped, and free text has e-mail addresses redacted.
"""

from __future__ import annotations

import json
import re
import sqlite3

from .db import table_exists
from .errors import NotFound
from .jobs.shared import TRAITS  # noqa: F401  (re-exported: render shows traits in this order)
from .registry import load_catalogue

#: the derived tables shown; the job that builds each comes from the catalogue's ``writes``
SHOWN = ("searchable_users", "user_traits", "match_scores", "compatibility_reports", "feed_presort",
         "user_affinities", "interest_members")
PRIVATE = {"email", "birthdate", "latitude", "longitude", "lat", "lon", "lng"}
PROFILE_COLUMNS = ("id", "username", "display_name", "gender", "seeking", "age_min", "age_max", "city", "country",
                   "visibility", "created_at", "last_active_at", "deleted_at", "follower_count",
                   "following_count", "post_count")
SECTIONS = ("matches", "following", "trending", "for_you")
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
TITLE_CHARS = 60


def inspect_user(conn: sqlite3.Connection, user_id: int, *, top: int = 10, items: int = 10, ledger=None) -> dict:
    """The user's profile, searchable snapshot, traits, top matches with their explanations,
    presorted feed sections, affinities and interest sets; with a ``ledger``, also how fresh each
    part is and the troubleshooting answers (``freshness``, ``stale``). Users this one blocked or
    was blocked by never appear in its lists. Raises NotFound for an unknown user."""
    row = conn.execute(f"SELECT {', '.join(PROFILE_COLUMNS)} FROM users WHERE id=?", (user_id,)).fetchone()
    if row is None:
        raise NotFound(f"no user with id {user_id} in the platform database")
    profile = dict(zip(PROFILE_COLUMNS, row))
    profile["state"] = "deleted" if profile["deleted_at"] else ("hidden" if profile["visibility"] == "hidden"
                                                                 else "active")
    out = {"user": profile, "searchable": None, "traits": None, "matches": None, "feed": None, "affinities": None,
           "interest_sets": None, "missing": [], "notes": [], "freshness": None, "stale": None}
    if profile["state"] != "active":
        out["notes"].append(f"this user is {profile['state']}: they appear in no search, match or feed of others")
    present = {t: table_exists(conn, t) for t in SHOWN}
    out["missing"] = [_built_by(t) for t, ok in present.items() if not ok]
    if present["searchable_users"]:
        out["searchable"] = _one(conn, "searchable_users", user_id)
        if out["searchable"] is None and profile["state"] == "active":
            out["notes"].append("not in searchable_users: run searchable-user (search group) to add them")
    if present["user_traits"]:
        out["traits"] = _one(conn, "user_traits", user_id)
    blocked = _blocked(conn, user_id)
    if present["match_scores"]:
        out["matches"] = [m for m in _matches(conn, user_id, top + len(blocked), present["compatibility_reports"])
                          if m["candidate_id"] not in blocked][:top]
    if present["feed_presort"]:
        out["feed"] = _feed(conn, user_id, items, blocked)
    if present["user_affinities"]:
        out["affinities"] = _affinities(conn, user_id, items, blocked)
    if present["interest_members"]:
        out["interest_sets"] = [{"interest": name, "members": n} for name, n in conn.execute(
            "SELECT i.name, (SELECT COUNT(*) FROM interest_members x WHERE x.interest_id = m.interest_id) "
            "FROM interest_members m JOIN interests i ON i.id = m.interest_id WHERE m.user_id=? ORDER BY i.name",
            (user_id,))]
    if ledger is not None:
        from .user_freshness import freshness, last_successes, stale_answers
        out["freshness"] = freshness(conn, user_id, out, last_successes(ledger))
        out["stale"] = stale_answers(out["freshness"])
    return out


def _blocked(conn: sqlite3.Connection, user_id: int) -> set[int]:
    if not table_exists(conn, "blocks"):
        return set()
    return {r[0] for r in conn.execute("SELECT blocked_id FROM blocks WHERE blocker_id=? UNION "
                                       "SELECT blocker_id FROM blocks WHERE blocked_id=?", (user_id, user_id))}


def _affinities(conn: sqlite3.Connection, user_id: int, items: int, blocked: set[int]) -> list[dict]:
    out = []
    for kind, target, weight in conn.execute("SELECT target_type, target, weight FROM user_affinities WHERE user_id=? "
                                             "ORDER BY weight DESC, target_type, target", (user_id,)):
        label = target
        if kind == "creator":
            if target.isdigit() and int(target) in blocked:
                continue
            row = conn.execute("SELECT display_name, deleted_at, visibility FROM users WHERE id=?",
                               (int(target) if target.isdigit() else -1,)).fetchone()
            label = _name(*row) if row else "(no such user)"
        out.append({"target_type": kind, "target": target, "label": redact(label), "weight": weight})
        if len(out) >= items:
            break
    return out


def _built_by(table: str) -> dict:
    """The table with the first job (in catalogue order) that writes it, and that job's group."""
    first = load_catalogue().writers(table)[0]
    return {"table": table, "job": first.name, "group": first.group}


def _one(conn: sqlite3.Connection, table: str, user_id: int) -> dict | None:
    cur = conn.execute(f'SELECT * FROM "{table}" WHERE user_id=?', (user_id,))
    row = cur.fetchone()
    if row is None:
        return None
    out = {}
    for (name, *_), value in zip(cur.description, row):
        if name.lower() in PRIVATE:
            continue
        out[name] = redact(value) if isinstance(value, str) else value
    return out


def _matches(conn: sqlite3.Connection, user_id: int, top: int, with_reports: bool) -> list[dict]:
    rows = conn.execute(
        "SELECT m.rank, m.candidate_id, m.score, m.computed_at, u.display_name, u.deleted_at, u.visibility "
        "FROM match_scores m LEFT JOIN users u ON u.id = m.candidate_id WHERE m.user_id=? "
        "ORDER BY m.rank, m.candidate_id LIMIT ?", (user_id, top)).fetchall()
    out = []
    for rank, cid, score, computed_at, name, deleted, visibility in rows:
        m = {"rank": rank, "candidate_id": cid, "display_name": _name(name, deleted, visibility),
             "score": score, "computed_at": computed_at, "areas": []}
        if with_reports:
            for area, a_score, details in conn.execute(
                    "SELECT area, score, details FROM compatibility_reports WHERE user_id=? AND candidate_id=? "
                    "ORDER BY score DESC, area", (user_id, cid)):
                m["areas"].append({"area": area, "score": a_score, "explanation": _explanation(details)})
        out.append(m)
    return out


def _feed(conn: sqlite3.Connection, user_id: int, items: int, blocked: set[int] = frozenset()) -> dict:
    out: dict[str, list] = {}
    rows = conn.execute("SELECT section, position, item_type, item_id, score, generated_at FROM feed_presort "
                        "WHERE user_id=? AND position <= ? ORDER BY section, position",
                        (user_id, items + len(blocked))).fetchall()
    for section, position, item_type, item_id, score, generated_at in rows:
        if blocked and _involves(conn, item_type, item_id, blocked):
            continue
        if len(out.get(section, [])) >= items:
            continue
        out.setdefault(section, []).append({"position": position, "item_type": item_type, "item_id": item_id,
                                            "title": _title(conn, item_type, item_id), "score": score,
                                            "generated_at": generated_at})
    order = {s: i for i, s in enumerate(SECTIONS)}
    return dict(sorted(out.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def _involves(conn: sqlite3.Connection, item_type: str, item_id: int, blocked: set[int]) -> bool:
    if item_type == "user":
        return item_id in blocked
    if item_type == "post":
        row = conn.execute("SELECT author_id FROM posts WHERE id=?", (item_id,)).fetchone()
        return bool(row and row[0] in blocked)
    return False


def _title(conn: sqlite3.Connection, item_type: str, item_id: int) -> str:
    if item_type == "user":
        row = conn.execute("SELECT display_name, deleted_at, visibility FROM users WHERE id=?", (item_id,)).fetchone()
        return _name(*row) if row else "(no such user)"
    if item_type == "post":
        row = conn.execute("SELECT p.body, p.deleted_at, u.display_name FROM posts p "
                           "LEFT JOIN users u ON u.id = p.author_id WHERE p.id=?", (item_id,)).fetchone()
        if row is None:
            return "(no such post)"
        body, deleted, author = row
        text = " ".join(redact(body or "").split())
        text = text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"
        return ("(deleted) " if deleted else "") + f"{text} — {author or '?'}"
    return f"({item_type} {item_id})"


def _name(name: str | None, deleted: str | None, visibility: str | None) -> str:
    if name is None:
        return "(no such user)"
    return name + (" (deleted)" if deleted else " (hidden)" if visibility == "hidden" else "")


def _explanation(details: str | None) -> str:
    if not details:
        return ""
    try:
        data = json.loads(details)
    except ValueError:
        return redact(details)[:200]
    return redact(str(data.get("explanation", ""))) if isinstance(data, dict) else ""


def redact(text: str) -> str:
    return EMAIL_RE.sub("[redacted]", text)
