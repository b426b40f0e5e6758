"""Reading the platform into arrays for the matching jobs (set-based SQL, no per-pair queries).

Users are indexed by position in ascending id order (``Population.ids``); every per-user array
follows that order. Choices the contract leaves open, made here:

* a match answer with a NULL importance counts as importance 0 (irrelevant); importances outside
  0..4 are clipped into it;
* an answer whose option does not belong to its question is ignored, and so are accepted ids
  that are not options of the question; a non-empty accepted list of only such ids accepts
  nothing, while an empty or NULL list accepts every option;
* a user whose birthdate cannot be read has no age and is eligible for nobody;
* with ``max_distance_km`` given, a user without coordinates is eligible for nobody.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import date

import numpy as np

from ...timeutil import age_on
from ..shared import ACTIVE_USER, TRAITS, blocked_pairs, sorted_position
from .formulas import AREAS, IMPORTANCE_WEIGHTS

NO_AGE = -10_000


@dataclass
class Users:
    ids: np.ndarray           # int64, ascending
    gender: np.ndarray        # int code into genders
    seeks: np.ndarray         # int bit mask over gender codes
    genders: list[str]
    age: np.ndarray           # whole years at now's date (NO_AGE when unknown)
    age_min: np.ndarray
    age_max: np.ndarray
    lat: np.ndarray | None    # degrees, NaN when unknown (only loaded for a distance limit)
    lon: np.ndarray | None

    @property
    def n(self) -> int:
        return len(self.ids)

    def index_of(self, ids: np.ndarray) -> np.ndarray:
        """Positions of ``ids`` (−1 for ids of no active user)."""
        pos, ok = sorted_position(self.ids, np.asarray(ids, dtype=np.int64))
        return np.where(ok, pos, -1)


@dataclass
class Quiz:
    """Match questions and every active user's answers to them."""

    question_ids: np.ndarray  # (Q,) ascending
    area: np.ndarray          # (Q,) index into AREAS, −1 for another area
    text: list[str]
    n_options: np.ndarray     # (Q,)
    opt: np.ndarray           # (N, Q) int8: own option position 0-based, −1 unanswered
    acc: np.ndarray           # (N, Q) int32: bit mask of accepted positions
    weight: np.ndarray        # (N, Q) float64: importance weight (0 where unanswered)

    @property
    def n_questions(self) -> int:
        return len(self.question_ids)


@dataclass
class Interests:
    ids: np.ndarray           # (M,) interest ids ascending
    names: list[str]
    member: np.ndarray        # (N, M) bool
    size: np.ndarray          # (N,) int


def load_users(conn: sqlite3.Connection, today: date, with_coordinates: bool = False) -> Users:
    """Active users (not deleted, not hidden) in ascending id order."""
    cols = "id, gender, seeking, age_min, age_max, birthdate" + (", latitude, longitude" if with_coordinates else "")
    rows = conn.execute(f"SELECT {cols} FROM users WHERE {ACTIVE_USER} ORDER BY id").fetchall()
    n = len(rows)
    genders: list[str] = []
    code: dict[str, int] = {}

    def gcode(g: str) -> int:
        if g not in code:
            code[g] = len(genders)
            genders.append(g)
        return code[g]

    gender = np.empty(n, dtype=np.int64)
    seeks = np.zeros(n, dtype=np.int64)
    age = np.empty(n, dtype=np.int64)
    seek_cache: dict[str, int] = {}
    for i, row in enumerate(rows):
        gender[i] = gcode((row[1] or "").strip())
        s = row[2] or ""
        if s not in seek_cache:
            bits = 0
            for part in s.split(","):
                part = part.strip()
                if part:
                    bits |= 1 << gcode(part)
            seek_cache[s] = bits
        seeks[i] = seek_cache[s]
        try:
            age[i] = age_on(row[5], today)
        except (TypeError, ValueError):
            age[i] = NO_AGE
    if len(genders) > 62:
        raise ValueError("more than 62 distinct genders")
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    amin = np.fromiter((r[3] if r[3] is not None else 18 for r in rows), dtype=np.int64, count=n)
    amax = np.fromiter((r[4] if r[4] is not None else 99 for r in rows), dtype=np.int64, count=n)
    lat = lon = None
    if with_coordinates:
        lat = np.array([r[6] if r[6] is not None else np.nan for r in rows], dtype=np.float64)
        lon = np.array([r[7] if r[7] is not None else np.nan for r in rows], dtype=np.float64)
    return Users(ids, gender, seeks, genders, age, amin, amax, lat, lon)


def load_quiz(conn: sqlite3.Connection, users: Users) -> Quiz:
    """The match questions (by id) and the active users' answers as dense arrays."""
    qrows = conn.execute("SELECT id, area, text FROM quiz_questions WHERE kind = 'match' ORDER BY id").fetchall()
    qids = np.array([r[0] for r in qrows], dtype=np.int64)
    area = np.array([AREAS.index(r[1]) if r[1] in AREAS else -1 for r in qrows], dtype=np.int64)
    texts = [r[2] or "" for r in qrows]
    q_of = {int(q): i for i, q in enumerate(qids)}
    # option id -> (question index, 0-based position)
    orows = conn.execute("SELECT o.id, o.question_id, o.position FROM quiz_options o "
                         "JOIN quiz_questions q ON q.id = o.question_id WHERE q.kind = 'match' "
                         "ORDER BY o.question_id, o.position").fetchall()
    option: dict[int, tuple[int, int]] = {}
    n_options = np.zeros(len(qids), dtype=np.int64)
    for oid, qid, _pos in orows:
        qi = q_of[qid]
        option[oid] = (qi, int(n_options[qi]))      # positions renumbered 0.. in order
        n_options[qi] += 1
    if n_options.size and n_options.max() > 30:
        raise ValueError("a match question has more than 30 options")
    n, nq = users.n, len(qids)
    opt = np.full((n, nq), -1, dtype=np.int8)
    acc = np.zeros((n, nq), dtype=np.int32)
    weight = np.zeros((n, nq), dtype=np.float64)
    if n == 0 or nq == 0:
        return Quiz(qids, area, texts, n_options, opt, acc, weight)

    # one sequential scan: looking answers up per question through an index is slower at scale
    rows = conn.execute(
        "SELECT user_id, question_id, option_id, importance, accepted_option_ids FROM quiz_answers NOT INDEXED "
        "WHERE question_id IN (SELECT id FROM quiz_questions WHERE kind = 'match')").fetchall()
    if not rows:
        return Quiz(qids, area, texts, n_options, opt, acc, weight)
    cols = list(zip(*rows))
    uidx = users.index_of(np.array(cols[0], dtype=np.int64))
    qi = np.searchsorted(qids, np.array(cols[1], dtype=np.int64))
    oid = np.array(cols[2], dtype=np.int64)
    imp = np.array([-1 if x is None else x for x in cols[3]], dtype=np.int64)
    # own option: position within the question, −1 when the option is not one of its own
    o_ids = np.array(sorted(option), dtype=np.int64)
    o_q = np.array([option[o][0] for o in o_ids.tolist()], dtype=np.int64)
    o_pos = np.array([option[o][1] for o in o_ids.tolist()], dtype=np.int64)
    at, found = sorted_position(o_ids, oid)
    own_ok = found & (o_q[at] == qi) if len(o_ids) else found
    keep = (uidx >= 0) & own_ok
    # accepted lists: parse each distinct (question, text) once
    text_codes: dict = {}
    tcode = np.fromiter((text_codes.setdefault(t, len(text_codes)) for t in cols[4]), dtype=np.int64, count=len(rows))
    texts_by_code = list(text_codes)
    pair = np.unique(np.column_stack([qi[keep], tcode[keep]]), axis=0) if keep.any() else np.zeros((0, 2), np.int64)
    mask_of = {(int(q), int(c)): _accepted_mask(texts_by_code[c], int(q), option, int(n_options[q]))
               for q, c in pair.tolist()}
    u, q, c = uidx[keep], qi[keep], tcode[keep]
    key = q * len(texts_by_code) + c
    uniq, inv = np.unique(key, return_inverse=True)
    masks = np.array([mask_of[(int(k // len(texts_by_code)), int(k % len(texts_by_code)))] for k in uniq.tolist()],
                     dtype=np.int64)
    opt[u, q] = o_pos[at[keep]]
    acc[u, q] = masks[inv.ravel()] if len(uniq) else 0
    weight[u, q] = np.asarray(IMPORTANCE_WEIGHTS)[np.clip(np.where(imp[keep] < 0, 0, imp[keep]), 0, 4)]
    return Quiz(qids, area, texts, n_options, opt, acc, weight)


def _accepted_mask(text: str | None, qi: int, option: dict, n_opts: int) -> int:
    everything = (1 << n_opts) - 1
    if text is None:
        return everything
    try:
        ids = json.loads(text)
    except (TypeError, ValueError):
        return everything
    if not isinstance(ids, list) or not ids:
        return everything
    mask = 0
    for oid in ids:
        if isinstance(oid, bool) or not isinstance(oid, int):
            continue
        hit = option.get(oid)
        if hit is not None and hit[0] == qi:
            mask |= 1 << hit[1]
    return mask


def load_interests(conn: sqlite3.Connection, users: Users) -> Interests:
    rows = conn.execute("SELECT id, name FROM interests ORDER BY id").fetchall()
    iids = np.array([r[0] for r in rows], dtype=np.int64)
    names = [r[1] for r in rows]
    member = np.zeros((users.n, len(iids)), dtype=bool)
    links = conn.execute("SELECT user_id, interest_id FROM user_interests").fetchall()
    if links and len(iids) and users.n:
        arr = np.array(links, dtype=np.int64)
        u = users.index_of(arr[:, 0])
        col = np.searchsorted(iids, arr[:, 1])
        col = np.minimum(col, len(iids) - 1)
        ok = (u >= 0) & (iids[col] == arr[:, 1])
        member[u[ok], col[ok]] = True
    return Interests(iids, names, member, member.sum(axis=1))


def load_traits(conn: sqlite3.Connection, users: Users) -> np.ndarray:
    """(N, 5) trait scores from user_traits, NaN where NULL or the user has no row."""
    out = np.full((users.n, len(TRAITS)), np.nan)
    rows = conn.execute(f"SELECT user_id, {', '.join(TRAITS)} FROM user_traits").fetchall()
    if rows and users.n:
        u = users.index_of(np.array([r[0] for r in rows], dtype=np.int64))
        vals = np.array([[np.nan if v is None else v for v in r[1:]] for r in rows], dtype=np.float64)
        ok = u >= 0
        out[u[ok]] = vals[ok]
    return out


def load_block_pairs(conn: sqlite3.Connection, users: Users) -> np.ndarray:
    """Blocked pairs between active users as sorted unique codes lo·N + hi (lo < hi positions)."""
    return blocked_pairs(conn, users.index_of, users.n)
