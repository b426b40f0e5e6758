"""Quiz questions, options and answers that follow each user's latent traits.

Likert answers come from a graded-response model of the Big-Five latents and the items'
keying; matching answers from a per-question mix of latents, so that personality, answers,
acceptable answers and importance are correlated and match scores carry signal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from .people import Users
from .quizdata import IPIP_ITEMS, LATENTS, LIKERT_OPTIONS, MATCH_QUESTIONS, TRAITS
from .rand import stream

N_LIKERT, N_MATCH = len(IPIP_ITEMS), len(MATCH_QUESTIONS)
N_QUESTIONS = N_LIKERT + N_MATCH
N_OPTIONS = np.array([5] * N_LIKERT + [len(q[2]) for q in MATCH_QUESTIONS])
FIRST_OPTION = np.concatenate(([1], 1 + np.cumsum(N_OPTIONS)[:-1]))   # option id of position 1
NULL_MASK, EMPTY_MASK = -1, 0


@dataclass
class Answers:
    """quiz_answers rows in (user, question) order; masks are accepted-option bit sets."""

    user: np.ndarray            # user index
    question: np.ndarray        # question index (id - 1)
    position: np.ndarray        # chosen option position, 0-based
    accepted: np.ndarray        # bit mask over positions; NULL_MASK for NULL (and likert)
    importance: np.ndarray      # 0..4, -1 for NULL (likert)
    answered: np.ndarray        # epoch seconds

    def option_ids(self) -> np.ndarray:
        return FIRST_OPTION[self.question] + self.position

    def accepted_json(self) -> np.ndarray:
        """accepted_option_ids as JSON text (None for NULL), via a per-question lookup table."""
        width = 1 << int(N_OPTIONS.max())
        table = np.empty(N_QUESTIONS * width + 1, dtype=object)   # last slot: NULL
        for q in range(N_QUESTIONS):
            for mask in range(1 << int(N_OPTIONS[q])):
                ids = [int(FIRST_OPTION[q]) + p for p in range(N_OPTIONS[q]) if mask >> p & 1]
                table[q * width + mask] = json.dumps(ids)
        slot = np.where(self.accepted == NULL_MASK, len(table) - 1, self.question * width + self.accepted)
        return table[slot]


def question_rows() -> list[tuple]:
    rows = [(i + 1, text, "likert", trait, int(key < 0), None) for i, (text, trait, key) in enumerate(IPIP_ITEMS)]
    rows += [(N_LIKERT + j + 1, q[1], "match", None, 0, q[0]) for j, q in enumerate(MATCH_QUESTIONS)]
    return rows


def option_rows() -> list[tuple]:
    texts = [LIKERT_OPTIONS] * N_LIKERT + [q[2] for q in MATCH_QUESTIONS]
    return [(int(FIRST_OPTION[q]) + p, q + 1, p + 1, text)
            for q, opts in enumerate(texts) for p, text in enumerate(opts)]


def make_answers(seed: int, users: Users, now_s: int) -> Answers:
    rng = stream(seed, "quiz")
    n = users.n
    takes = rng.random(n) < .88
    takes[users.spotlight] = True
    likert_pos, likert_done = _likert(rng, users, takes)
    match_pos, accepted, importance, match_done = _match(rng, users, takes)

    # timing: the personality quiz in one sitting (mostly soon after signup), matching
    # questions from then on, bunched at the start
    lo, hi = users.created, np.maximum(users.active_until, users.created)
    soon = lo + rng.exponential(1.5 * 86400, n)
    start = np.where(rng.random(n) < .7, soon, lo + rng.random(n) * (hi - lo)).astype(np.int64)
    start = np.maximum(lo, np.minimum(start, hi - N_LIKERT * 15))
    likert_t = start[:, None] + np.cumsum(rng.integers(3, 25, (n, N_LIKERT)), axis=1)
    span = np.maximum(hi - likert_t[:, -1], 0)
    match_t = (likert_t[:, -1:] + 30 + rng.random((n, N_MATCH)) ** 3 * span[:, None]).astype(np.int64)
    times = np.minimum(np.hstack([likert_t, match_t]), hi[:, None])

    done = np.hstack([likert_done, match_done])
    pos = np.hstack([likert_pos, match_pos])
    acc = np.hstack([np.full((n, N_LIKERT), NULL_MASK), accepted])
    imp = np.hstack([np.full((n, N_LIKERT), -1), importance])
    user, question = np.nonzero(done)
    return Answers(user, question, pos[done], acc[done], imp[done], times[done])


def _likert(rng, users, takes):
    n = users.n
    trait = np.array([TRAITS.index(t) for _, t, _ in IPIP_ITEMS])
    key = np.array([k for _, _, k in IPIP_ITEMS])
    loading = rng.uniform(.75, 1.1, N_LIKERT) * key
    intercept = rng.normal(0, .35, N_LIKERT)
    acquiescence = rng.normal(0, .25, n)
    y = (users.latents[:, trait] * loading + intercept + acquiescence[:, None]
         + rng.normal(0, 1.0, (n, N_LIKERT)))
    pos = np.digitize(y, [-1.6, -.55, .45, 1.45])
    mode = rng.choice(3, n, p=[.68, .26, .06])        # everything, most items, gave up early
    done = np.ones((n, N_LIKERT), dtype=bool)
    most = mode == 1
    done[most] = rng.random((most.sum(), N_LIKERT)) < rng.uniform(.8, .99, most.sum())[:, None]
    quit_ = mode == 2
    done[quit_] = np.arange(N_LIKERT) < rng.integers(4, 30, quit_.sum())[:, None]
    return pos, done & takes[:, None]


def _match(rng, users, takes):
    n = users.n
    z = users.latents
    noise_sd = .7
    pos = np.zeros((n, N_MATCH), dtype=np.int64)
    accepted = np.zeros((n, N_MATCH), dtype=np.int64)
    importance = np.zeros((n, N_MATCH), dtype=np.int64)
    tolerance = .9 + .45 * z[:, 3] + .35 * z[:, 0] - .2 * z[:, 5] + rng.normal(0, .4, n)
    for j, (_area, _text, options, loads, skew, base_importance, nominal) in enumerate(MATCH_QUESTIONS):
        k = len(options)
        w = np.array([loads.get(name, 0.0) for name in LATENTS])
        sd = np.sqrt(w @ w + noise_sd ** 2)
        s = (z @ w + rng.normal(0, noise_sd, n)) / sd + skew
        cuts = [NormalDist().inv_cdf(i / k) for i in range(1, k)]
        own = np.digitize(s, cuts)
        if nominal:                                    # order means little: more random picks
            shuffle = rng.random(n) < .3
            own[shuffle] = rng.integers(0, k, shuffle.sum())
        extremity = np.abs(own - (k - 1) / 2) / ((k - 1) / 2)
        latent_imp = (base_importance + .9 * extremity + .35 * z[:, 1] + .25 * z[:, 4]
                      + rng.normal(0, .9, n))
        imp = np.digitize(latent_imp, [1.0, 1.8, 2.9, 3.9])
        positions = np.arange(k)
        if nominal:
            others = rng.random((n, k)) < 1 / (1 + np.exp(-(tolerance[:, None] - 1.8)))
            acc_bits = others | (positions == own[:, None])
        else:
            width = np.clip(np.round(tolerance + rng.normal(0, .6, n) - .35 * (imp - 2)), 0, k - 1)
            acc_bits = np.abs(positions - own[:, None]) <= width[:, None]
        mask = (acc_bits * (1 << positions)).sum(axis=1)
        full = (1 << k) - 1
        special = rng.random(n)
        not_self = (special >= .11) & (special < .14) & (mask != (1 << own))
        mask[not_self] &= ~(1 << own[not_self])            # wants a partner unlike themselves
        mask[(special >= .05) & (special < .11)] = full     # anything goes...
        imp = np.where((special >= .05) & (special < .11), np.minimum(imp, 1), imp)
        mask[(special >= .04) & (special < .05)] = EMPTY_MASK
        mask[special < .04] = NULL_MASK                      # ...or never said
        imp = np.where(special < .05, np.minimum(imp, rng.integers(0, 3, n)), imp)
        pos[:, j], accepted[:, j], importance[:, j] = own, mask, imp

    area_rank = np.array([[q[0] for q in MATCH_QUESTIONS][:j].count(MATCH_QUESTIONS[j][0])
                          for j in range(N_MATCH)])
    popularity = 1.0 - .045 * area_rank + rng.uniform(-.08, .08, N_MATCH)
    share = rng.beta(1.0, .9, n)                           # some answer a few, some nearly all
    takes_match = takes & (rng.random(n) < .93)
    done = rng.random((n, N_MATCH)) < np.clip(share[:, None] * (.45 + .65 * popularity), 0, 1)
    return pos, accepted, importance, done & takes_match[:, None]
