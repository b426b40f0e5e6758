"""The matching group's formulas as plain functions over numpy arrays (JOBS.md, section matching).

Everything here is exact float64 arithmetic in a fixed order of operations, so that a per-pair
reference written with Python floats in the same order gives bit-identical scores:

* :func:`pomp_traits` — Big Five POMP scores from likert answers;
* :func:`quiz_part`, :func:`traits_part`, :func:`jaccard`, :func:`blend` — the parts of a match
  score for arrays of pairs, and :func:`score_key` — the rounded score packed with the candidate
  so that one integer orders "score descending, then candidate_id ascending";
* :func:`satisfaction` and :func:`area_sums` — per-question and per-area OkCupid sums used by
  compatibility.
"""

from __future__ import annotations

import numpy as np

from ..shared import TRAITS  # noqa: F401  (re-exported: the formulas' trait order)

AREAS = ("communication", "lifestyle", "values", "intimacy", "future")
#: OkCupid importance weights for importance 0 (irrelevant) … 4 (mandatory).
IMPORTANCE_WEIGHTS = (0.0, 1.0, 10.0, 50.0, 250.0)

#: Scores are rounded to this many decimals; ranks are taken on the rounded value.
SCORE_DECIMALS = 6
_SCALE = 10.0 ** SCORE_DECIMALS
#: Low bits of a key hold the candidate's position (ids sorted ascending), complemented.
IDX_BITS = 32
_IDX_MASK = (1 << IDX_BITS) - 1


# ----------------------------------------------------------------------------- traits
def pomp_traits(user: np.ndarray, item: np.ndarray, position: np.ndarray, item_trait: np.ndarray,
                item_reverse: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """POMP trait scores from likert answers.

    ``user``, ``item``, ``position``: one entry per answer (user index, item index, option
    position 1..5). ``item_trait``: each item's trait index 0..4; ``item_reverse``: reverse keyed.
    An item scores its position, or 6 − position when reverse keyed; a trait is
    100 × (mean − 1) / 4 over the user's answered items of that trait, NaN when fewer than half of
    the trait's items are answered. Returns (scores n_users × 5 with NaN, answered items per user).
    """
    n_traits = len(TRAITS)
    item_score = np.where(item_reverse[item], 6 - position, position).astype(np.float64)
    trait = item_trait[item]
    key = user.astype(np.int64) * n_traits + trait
    sums = np.bincount(key, weights=item_score, minlength=n_users * n_traits).reshape(n_users, n_traits)
    counts = np.bincount(key, minlength=n_users * n_traits).reshape(n_users, n_traits)
    items_per_trait = np.bincount(item_trait[item_trait < n_traits], minlength=n_traits)
    return pomp_from_sums(sums, counts, items_per_trait), np.bincount(user, minlength=n_users)


def pomp_from_sums(sums: np.ndarray, counts: np.ndarray, items_per_trait: np.ndarray) -> np.ndarray:
    """POMP scores 100 × (mean − 1) / 4 from per user × trait item-score sums and answer counts;
    NaN where fewer than half of the trait's items (``items_per_trait``) are answered."""
    enough = (counts > 0) & (2 * counts >= items_per_trait[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = sums / counts
        scores = 100.0 * (mean - 1.0) / 4.0
    scores[~enough] = np.nan
    return scores


# ----------------------------------------------------------------------------- match score parts
def quiz_part(num_uv, den_uv, num_vu, den_vu, n) -> np.ndarray:
    """max(0, √(s(u,v)·s(v,u)) − 1/n) with s = num/den; 0 when n = 0 or a denominator is 0."""
    num_uv, den_uv, num_vu, den_vu, n = (np.asarray(a, dtype=np.float64)
                                         for a in (num_uv, den_uv, num_vu, den_vu, n))
    valid = (n > 0) & (den_uv > 0) & (den_vu > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (num_uv / den_uv) * (num_vu / den_vu)
        q = np.sqrt(s) - 1.0 / n
    q = np.maximum(q, 0.0)
    return np.where(valid, q, 0.0)


def traits_part(tu: np.ndarray, tv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1 − √(mean over shared traits of (t_u − t_v)²) / 100, 0 when no trait is shared.

    ``tu``, ``tv``: pairs × 5 trait scores, NaN where missing. Returns (part, shared count).
    The squares are summed trait by trait in TRAITS order (the reference does the same).
    """
    acc = np.zeros(len(tu), dtype=np.float64)
    cnt = np.zeros(len(tu), dtype=np.int64)
    for t in range(tu.shape[1]):
        d = tu[:, t] - tv[:, t]
        both = ~np.isnan(d)
        acc = acc + np.where(both, d * d, 0.0)
        cnt += both
    with np.errstate(divide="ignore", invalid="ignore"):
        part = 1.0 - np.sqrt(acc / cnt) / 100.0
    return np.where(cnt > 0, part, 0.0), cnt


def jaccard(inter, size_u, size_v) -> np.ndarray:
    """|a ∩ b| / |a ∪ b|, 0 when both sets are empty."""
    inter = np.asarray(inter, dtype=np.float64)
    union = np.asarray(size_u, dtype=np.float64) + np.asarray(size_v, dtype=np.float64) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        j = inter / union
    return np.where(union > 0, j, 0.0)


def normalise_weights(w_quiz: float, w_traits: float, w_interests: float) -> tuple[float, float, float]:
    """The three blend weights divided by their sum (which must be positive)."""
    total = w_quiz + w_traits + w_interests
    return w_quiz / total, w_traits / total, w_interests / total


def blend(quiz, traits, interests, weights: tuple[float, float, float]) -> np.ndarray:
    """100 × (wq·quiz + wt·traits + wi·interests), weights already normalised."""
    wq, wt, wi = weights
    return 100.0 * (wq * np.asarray(quiz) + wt * np.asarray(traits) + wi * np.asarray(interests))


def round_score(score) -> np.ndarray:
    """The stored score: rounded half-even to SCORE_DECIMALS decimals (as rint(x·1e6)/1e6)."""
    return np.rint(np.asarray(score, dtype=np.float64) * _SCALE) / _SCALE


def score_key(score, candidate_pos) -> np.ndarray:
    """One int64 per pair ordering by rounded score descending, then candidate ascending.

    ``candidate_pos``: the candidate's position among all users sorted by id (< 2**32).
    Larger key = better. Keys are unique per candidate, so top-k is a total order.
    """
    units = np.rint(np.asarray(score, dtype=np.float64) * _SCALE).astype(np.int64)
    return (units << IDX_BITS) | (_IDX_MASK - np.asarray(candidate_pos, dtype=np.int64))


def key_score(key) -> np.ndarray:
    """The rounded score held in a key."""
    return (np.asarray(key) >> IDX_BITS).astype(np.float64) / _SCALE


def key_candidate(key) -> np.ndarray:
    """The candidate position held in a key."""
    return _IDX_MASK - (np.asarray(key) & _IDX_MASK)


# ----------------------------------------------------------------------------- OkCupid sums
def satisfaction(opt_u, acc_u, w_u, opt_v) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair and question: whether v's answer is one u accepts, u's weight, both answered.

    ``opt_*``: pairs × questions own option position (0-based, −1 unanswered); ``acc_u``:
    bit mask of the positions u accepts (every position when u's accepted list is empty or
    NULL); ``w_u``: u's importance weight. Returns (satisfied bool, weight where both
    answered else 0, both answered bool).
    """
    both = (opt_u >= 0) & (opt_v >= 0)
    shift = np.where(opt_v >= 0, opt_v, 0).astype(np.int64)
    sat = both & (((acc_u.astype(np.int64) >> shift) & 1) == 1)
    return sat, np.where(both, w_u, 0.0), both


def area_sums(values: np.ndarray, area_of_question: np.ndarray, n_areas: int) -> np.ndarray:
    """Sum pairs × questions ``values`` into pairs × areas (question q adds to area_of_question[q])."""
    onehot = np.zeros((len(area_of_question), n_areas), dtype=np.float64)
    ok = area_of_question >= 0
    onehot[np.flatnonzero(ok), area_of_question[ok]] = 1.0
    return values.astype(np.float64) @ onehot
