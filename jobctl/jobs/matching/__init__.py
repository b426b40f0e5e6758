"""The matching group: build-user-traits, match-scores and compatibility.

All three tables are rebuilt wholesale through :meth:`~jobctl.context.JobContext.rebuild`: built
aside in batches of short transactions and swapped in at once, so readers see the previous table
or the new one, never a missing or half-built one, and a re-run after a kill gives exactly what a
clean run gives. Nothing is computed from half-read state: every input is read before the build.

The maths lives beside this module: :mod:`.formulas` (formulas), :mod:`.engine`
(match-scores as blocked matrix products with a running top-k), :mod:`.compat` and
:mod:`.explain` (compatibility areas and sentences); reading the platform is
:mod:`.data`. Choices the contract leaves open are listed there and here:

* compatibility writes reports only for match_scores rows whose two users are still active and
  not blocked either way (a block hides them from each other in compatibility too);
* the interests area always has a row (0 when nothing is shared); the quiz areas and personality
  have none without evidence, as the contract says.
"""

from __future__ import annotations

import numpy as np

from ...db import table_exists
from ...errors import JobFailed, ParamError
from ...registry import Param, job
from ..shared import ACTIVE_USER, TRAITS, sorted_position
from . import data as data
from . import formulas as mm
from .compat import Reports
from .engine import EngineInput, TopKEngine

AREAS = mm.AREAS

TRAITS_TABLE = "user_traits"
SCORES_TABLE = "match_scores"
REPORTS_TABLE = "compatibility_reports"

TRAITS_DDL = """CREATE TABLE "{name}" (
    user_id           INTEGER PRIMARY KEY,
    openness          REAL,
    conscientiousness REAL,
    extraversion      REAL,
    agreeableness     REAL,
    neuroticism       REAL,
    answered_items    INTEGER NOT NULL,
    computed_at       TEXT NOT NULL
)"""

SCORES_DDL = """CREATE TABLE "{name}" (
    user_id      INTEGER NOT NULL,
    candidate_id INTEGER NOT NULL,
    score        REAL NOT NULL,
    rank         INTEGER NOT NULL,
    computed_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, candidate_id)
) WITHOUT ROWID"""

REPORTS_DDL = """CREATE TABLE "{name}" (
    user_id      INTEGER NOT NULL,
    candidate_id INTEGER NOT NULL,
    area         TEXT NOT NULL,
    score        REAL NOT NULL,
    details      TEXT NOT NULL,
    PRIMARY KEY (user_id, candidate_id, area)
) WITHOUT ROWID"""


def _write_batches(new, ctx, columns: str, batches) -> int:
    """Insert each batch of rows into the rebuilt table, checkpointing after each."""
    cols = [c.strip() for c in columns.split(",")]
    written = 0
    for rows in batches:
        if rows:
            written += new.insert(rows, cols)
        ctx.checkpoint(advance=1)
    return written


# ============================================================================ build-user-traits
@job("build-user-traits", group="matching",
     writes=["user_traits"], rebuilds=True, uses_now=True,
     summary="Analyzes quiz answers to understand each user's personality",
     description="Looks at how users answered the personality (likert) quiz questions and builds a "
                 "Big Five profile for each active user: openness, conscientiousness, extraversion, "
                 "agreeableness and neuroticism on a 0-100 scale (POMP). Reverse-worded items are "
                 "scored the other way round; a trait stays empty when fewer than half of its "
                 "questions were answered.",
     when="After users complete quizzes, or when you update the quiz algorithm.",
     impact="Better match recommendations for everyone.",
     batch_size=1000, pause_ms=5)
def build_user_traits(ctx):
    conn = ctx.db
    items = conn.execute("SELECT trait, count(*) FROM quiz_questions WHERE kind = 'likert' GROUP BY trait").fetchall()
    items_per_trait = np.array([dict(items).get(t, 0) for t in TRAITS], dtype=np.int64)
    ids = np.array([r[0] for r in conn.execute(f"SELECT id FROM users WHERE {ACTIVE_USER} ORDER BY id")],
                   dtype=np.int64)
    # item scores summed per user and trait in SQL (millions of answers, a few rows per user)
    agg = conn.execute(
        "SELECT a.user_id, q.trait, sum(CASE WHEN q.reverse_keyed THEN 6 - o.position ELSE o.position END), count(*) "
        "FROM quiz_answers a NOT INDEXED CROSS JOIN quiz_questions q CROSS JOIN quiz_options o "
        "WHERE q.id = a.question_id AND q.kind = 'likert' AND o.id = a.option_id AND o.question_id = a.question_id "
        "GROUP BY a.user_id, q.trait").fetchall()
    sums = np.zeros((len(ids), len(TRAITS)))
    counts = np.zeros((len(ids), len(TRAITS)), dtype=np.int64)
    answered = np.zeros(len(ids), dtype=np.int64)
    if agg and len(ids):
        cols = list(zip(*agg))
        uid = np.array(cols[0], dtype=np.int64)
        u, ok = sorted_position(ids, uid)
        t = np.array([TRAITS.index(x) if x in TRAITS else -1 for x in cols[1]], dtype=np.int64)
        c = np.array(cols[3], dtype=np.int64)
        np.add.at(answered, u[ok], c[ok])
        known = ok & (t >= 0)
        sums[u[known], t[known]] = np.array(cols[2], dtype=np.float64)[known]
        counts[u[known], t[known]] = c[known]
    scores = mm.pomp_from_sums(sums, counts, items_per_trait)
    has = np.flatnonzero(answered > 0)
    ctx.set_total(max(1, -(-len(has) // ctx.batch_size)) if len(has) else 1)
    now = ctx.now_str

    def batches():
        if not len(has):
            yield []
        for start in range(0, len(has), ctx.batch_size):
            chunk = has[start:start + ctx.batch_size]
            vals = scores[chunk]
            yield [(int(ids[i]), *[None if np.isnan(x) else float(x) for x in row], int(answered[i]), now)
                   for i, row in zip(chunk.tolist(), vals)]

    with ctx.rebuild(TRAITS_TABLE, TRAITS_DDL) as new:
        rows = _write_batches(new, ctx, "user_id, openness, conscientiousness, extraversion, agreeableness, "
                                        "neuroticism, answered_items, computed_at", batches())
    complete = int((~np.isnan(scores[has])).all(axis=1).sum()) if len(has) else 0
    ctx.log(f"{rows} users profiled, {complete} with all five traits")
    return {"users": rows, "complete_profiles": complete, "active_users": int(len(ids))}


# ============================================================================ match-scores
def _check_weights(conn, params) -> None:
    if params.get("w_quiz", 0) + params.get("w_traits", 0) + params.get("w_interests", 0) <= 0:
        raise ParamError("match-scores: w_quiz + w_traits + w_interests must be positive")


def load_engine_input(conn, today, *, with_coordinates: bool, need_traits: bool):
    """Everything match-scores reads, as arrays (users by ascending id)."""
    users = data.load_users(conn, today, with_coordinates=with_coordinates)
    quiz = data.load_quiz(conn, users)
    interests = data.load_interests(conn, users)
    if table_exists(conn, TRAITS_TABLE):
        traits = data.load_traits(conn, users)
    elif need_traits:
        raise JobFailed("match-scores needs user_traits, which does not exist yet: run build-user-traits first")
    else:
        traits = np.full((users.n, len(TRAITS)), np.nan)
    blocks = data.load_block_pairs(conn, users)
    inp = EngineInput(gender=users.gender, seeks=users.seeks, age=users.age, age_min=users.age_min,
                      age_max=users.age_max, opt=quiz.opt, acc=quiz.acc, weight=quiz.weight,
                      n_options=quiz.n_options, member=interests.member, traits=traits,
                      block_codes=blocks, lat=users.lat, lon=users.lon)
    return users, inp


@job("match-scores", group="matching",
     writes=["match_scores"], rebuilds=True, depends_on=["build-user-traits"], uses_now=True,
     summary="Calculates compatibility between users",
     description="Compares every pair of active users who are looking for each other (gender, age "
                 "range, no block, optionally distance) and scores how compatible they are, 0-100: "
                 "mostly from how well their matching-question answers fit what the other accepts "
                 "(OkCupid-style), plus how close their personality traits are and how many "
                 "interests they share. Keeps each user's best candidates, ranked.",
     when="After building user traits, or when you want to refresh match recommendations.",
     impact="Users see updated match percentages and recommendations.",
     params=[Param("top_k", "int", 50, min=1, max=10_000, help="candidates kept per user"),
             Param("w_quiz", "float", 0.6, min=0, help="weight of the matching-question part"),
             Param("w_traits", "float", 0.2, min=0, help="weight of the personality-trait part"),
             Param("w_interests", "float", 0.2, min=0, help="weight of the shared-interests part"),
             Param("max_distance_km", "float", None, min=0,
                   help="only pair users within this great-circle distance (default: no limit)")],
     batch_size=512, pause_ms=5, validate=_check_weights)
def match_scores(ctx):
    p, conn = ctx.params, ctx.db
    weights = (p["w_quiz"], p["w_traits"], p["w_interests"])
    _check_weights(conn, p)
    users, inp = load_engine_input(conn, ctx.now.date(), with_coordinates=p["max_distance_km"] is not None,
                                   need_traits=p["w_traits"] > 0)
    engine = TopKEngine(inp, weights=weights, top_k=p["top_k"], max_distance_km=p["max_distance_km"],
                        block_size=ctx.batch_size)
    tiles = engine.tiles()
    n_batches = max(1, -(-users.n // ctx.batch_size))
    ctx.set_total(len(tiles) + n_batches)
    ctx.log(f"{users.n} active users in {len(engine.blocks)} blocks: {len(tiles)} block pairs to score "
            f"({engine.stats.tiles_skipped} skipped as ineligible)")
    keys = engine.run(lambda done, total: ctx.checkpoint(done=done), tiles=tiles)
    st = engine.stats
    ctx.log(f"scored {st.pairs} pairs in {st.compute_s:.1f}s; {st.candidates} re-scored exactly")

    now = ctx.now_str
    ids = users.ids

    def batches():
        for start in range(0, max(users.n, 1), ctx.batch_size):
            yield score_rows(keys[start:start + ctx.batch_size], ids[start:start + ctx.batch_size], ids, now)

    with ctx.rebuild(SCORES_TABLE, SCORES_DDL) as new:
        rows = _write_batches(new, ctx, "user_id, candidate_id, score, rank, computed_at", batches())
    with_matches = int((keys >= 0).any(axis=1).sum()) if keys.size else 0
    return {"users": int(users.n), "users_with_matches": with_matches, "rows": rows,
            "pairs_scored": int(st.pairs), "block_pairs": int(st.tiles), "block_pairs_skipped": int(st.tiles_skipped),
            "rescored_exactly": int(st.candidates)}


def score_rows(keys: np.ndarray, owners: np.ndarray, ids: np.ndarray, now: str) -> list[tuple]:
    """match_scores rows for a batch: ``keys`` (users × k, −1 empty) of users ``owners``;
    ranked by key descending, returned in (user_id, candidate_id) order."""
    if keys.size == 0:
        return []
    ranked = -np.sort(-keys, axis=1)
    valid = ranked >= 0
    rank = np.broadcast_to(np.arange(1, keys.shape[1] + 1), keys.shape)[valid]
    user = np.broadcast_to(owners[:, None], keys.shape)[valid]
    k = ranked[valid]
    cand = ids[mm.key_candidate(k)]
    score = mm.key_score(k)
    order = np.lexsort((cand, user))
    return list(zip(user[order].tolist(), cand[order].tolist(), score[order].tolist(), rank[order].tolist(),
                    [now] * len(order)))


# ============================================================================ compatibility
@job("compatibility", group="matching",
     writes=["compatibility_reports"], rebuilds=True, depends_on=["match-scores"], uses_now=True,
     summary="Creates detailed compatibility reports",
     description="Goes deeper than match scores: for every kept match it scores each area of "
                 "compatibility (communication, lifestyle, values, intimacy, future, personality, "
                 "interests) and writes a short explanation built from the evidence, such as the "
                 "questions on which both accept the other's answer, the interests they share and "
                 "their closest personality traits.",
     when="Alongside match scores for complete compatibility analysis.",
     impact="Users get detailed \"why you match\" explanations.",
     batch_size=512, pause_ms=5)
def compatibility(ctx):
    conn = ctx.db
    if not table_exists(conn, SCORES_TABLE):
        raise JobFailed("compatibility needs match_scores, which does not exist yet: run match-scores first")
    users = data.load_users(conn, ctx.now.date())
    quiz = data.load_quiz(conn, users)
    interests = data.load_interests(conn, users)
    traits = (data.load_traits(conn, users) if table_exists(conn, TRAITS_TABLE)
              else np.full((users.n, len(TRAITS)), np.nan))
    blocks = data.load_block_pairs(conn, users)
    owners = np.array([r[0] for r in conn.execute(f"SELECT DISTINCT user_id FROM {SCORES_TABLE} ORDER BY user_id")],
                      dtype=np.int64)
    batches_of_owners = [owners[i:i + ctx.batch_size] for i in range(0, len(owners), ctx.batch_size)]
    ctx.set_total(max(1, len(batches_of_owners)))
    reporter = Reports(users, quiz, interests, traits, blocks)

    def batches():
        if not batches_of_owners:
            yield []
        for chunk in batches_of_owners:
            rows = conn.execute(f"SELECT user_id, candidate_id FROM {SCORES_TABLE} WHERE user_id BETWEEN ? AND ? "
                                "ORDER BY user_id, candidate_id", (int(chunk[0]), int(chunk[-1]))).fetchall()
            yield reporter.rows(np.array(rows, dtype=np.int64).reshape(-1, 2))

    with ctx.rebuild(REPORTS_TABLE, REPORTS_DDL) as new:
        written = _write_batches(new, ctx, "user_id, candidate_id, area, score, details", batches())
    return {"reports": written, "matches": reporter.pairs_seen, "matches_skipped": reporter.skipped}
