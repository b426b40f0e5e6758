"""compatibility_reports rows for batches of match_scores rows, vectorised over pairs.

For a batch of (user, candidate) rows the area scores and the evidence are computed with numpy
over the distinct unordered pairs (every area score is symmetric). The evidence of one area
takes few distinct values (which of the area's questions both accept, the order of the
closest traits, the set of shared interests), so each distinct ``details`` text is written
once and reused: the per-row work left in Python is building the row tuples.
"""

from __future__ import annotations

import numpy as np

from . import explain as explain
from ..shared import TRAITS, is_blocked
from . import formulas as mm
from .data import Interests, Quiz, Users

AREAS = mm.AREAS
#: report areas in the order rows are written (alphabetical, as the primary key sorts them)
ALL_AREAS = tuple(sorted(AREAS + ("personality", "interests")))
_CACHE_LIMIT = 500_000


class Reports:
    """Builds compatibility_reports rows (user_id, candidate_id, area, score, details)."""

    def __init__(self, users: Users, quiz: Quiz, interests: Interests, traits: np.ndarray, blocks: np.ndarray):
        self.users, self.quiz, self.interests, self.traits, self.blocks = users, quiz, interests, traits, blocks
        self.pairs_seen = 0
        self.skipped = 0
        self._cache: dict[object, dict[tuple, str]] = {}
        # rarer interests first: they say more about a pair; then by name
        popularity = interests.member.sum(axis=0)
        names = np.array(interests.names, dtype=str) if interests.names else np.zeros(0, dtype=str)
        self.interest_order = np.lexsort((names, popularity)) if len(names) else np.zeros(0, dtype=np.int64)
        self.area_questions = [np.flatnonzero(quiz.area == a) for a in range(len(AREAS))]

    # -- rows ------------------------------------------------------------------------------
    def rows(self, pairs: np.ndarray) -> list[tuple]:
        """Rows for match_scores rows ``pairs`` (n × 2 user ids), sorted by (user, candidate, area)."""
        if len(pairs) == 0:
            return []
        self.pairs_seen += len(pairs)
        users = self.users
        u, v = users.index_of(pairs[:, 0]), users.index_of(pairs[:, 1])
        ok = (u >= 0) & (v >= 0) & (u != v)
        if len(self.blocks) and ok.any():
            ok &= ~is_blocked(self.blocks, u, v, users.n)
        self.skipped += int((~ok).sum())
        pairs, u, v = pairs[ok], u[ok], v[ok]
        if len(pairs) == 0:
            return []
        lo, hi = np.minimum(u, v), np.maximum(u, v)
        _, first, back = np.unique(lo * users.n + hi, return_index=True, return_inverse=True)
        parts = self.area_parts(lo[first], hi[first])       # area name -> (valid, score, details)
        cols = []
        for rank, area in enumerate(ALL_AREAS):
            valid, score, text = parts[area]
            take = valid[back]
            idx = back[take]
            cols.append((pairs[take, 0], pairs[take, 1], np.full(len(idx), rank), score[idx], text[idx]))
        user = np.concatenate([c[0] for c in cols])
        cand = np.concatenate([c[1] for c in cols])
        arank = np.concatenate([c[2] for c in cols])
        score = np.concatenate([c[3] for c in cols])
        text = np.concatenate([c[4] for c in cols])
        order = np.lexsort((arank, cand, user))
        area_names = np.array(ALL_AREAS, dtype=object)
        return list(zip(user[order].tolist(), cand[order].tolist(), area_names[arank[order]].tolist(),
                        score[order].tolist(), text[order].tolist()))

    def area_parts(self, a: np.ndarray, b: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """For unordered pairs (a, b): per area, (has a row, score, details text as object array)."""
        if sum(map(len, self._cache.values())) > _CACHE_LIMIT:
            self._cache.clear()
        out = self._quiz_areas(a, b)
        out["personality"] = self._personality(a, b)
        out["interests"] = self._interests(a, b)
        return out

    def _texts(self, kind, keys: np.ndarray, make) -> np.ndarray:
        """details text for each row of integer ``keys`` (pairs × fields), built once per distinct
        key (and cached across batches, per ``kind``)."""
        out = np.empty(len(keys), dtype=object)
        if len(keys) == 0:
            return out
        cache = self._cache.setdefault(kind, {})
        first, inverse = distinct_rows(keys)
        texts = np.empty(len(first), dtype=object)
        for i, key in enumerate(map(tuple, keys[first].tolist())):
            text = cache.get(key)
            if text is None:
                text = cache[key] = make(key)
            texts[i] = text
        out[:] = texts[inverse]
        return out

    # -- the areas -----------------------------------------------------------------------------
    def _quiz_areas(self, a, b) -> dict:
        qz, m = self.quiz, len(a)
        empty = (np.zeros(m, dtype=bool), np.zeros(m), np.empty(m, dtype=object))
        if qz.n_questions == 0:
            return {area: empty for area in AREAS}
        oa, ob = qz.opt[a], qz.opt[b]
        sat_ab, w_ab, both = mm.satisfaction(oa, qz.acc[a], qz.weight[a], ob)
        sat_ba, w_ba, _ = mm.satisfaction(ob, qz.acc[b], qz.weight[b], oa)
        agree = sat_ab & sat_ba
        importance = np.where(agree, qz.weight[a] + qz.weight[b] + 1.0, 0.0)
        qids = qz.question_ids.tolist()
        out = {}
        for ai, area in enumerate(AREAS):
            cols = self.area_questions[ai]
            if len(cols) == 0:
                out[area] = empty
                continue
            w1, w2 = w_ab[:, cols], w_ba[:, cols]
            num_ab, den_ab = np.where(sat_ab[:, cols], w1, 0.0).sum(axis=1), w1.sum(axis=1)
            num_ba, den_ba = np.where(sat_ba[:, cols], w2, 0.0).sum(axis=1), w2.sum(axis=1)
            common = both[:, cols].sum(axis=1)
            valid = (common > 0) & (den_ab > 0) & (den_ba > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                score = mm.round_score(100.0 * np.sqrt((num_ab / den_ab) * (num_ba / den_ba)))
            ag = agree[:, cols]
            example = np.where(ag.any(axis=1), np.argmax(importance[:, cols], axis=1), -1)
            keys = np.column_stack([common, example, ag.astype(np.int64)])[valid]
            area_qids = [qids[q] for q in cols.tolist()]

            def make(key, area=area, area_qids=area_qids, cols=cols):
                agreed = [area_qids[i] for i, flag in enumerate(key[2:]) if flag]
                text = qz.text[cols[key[1]]] if key[1] >= 0 else None
                return explain.quiz_area(area, key[0], agreed, text)

            texts = np.empty(m, dtype=object)
            texts[valid] = self._texts(area, keys, make)
            out[area] = (valid, np.where(valid, score, 0.0), texts)
        return out

    def _personality(self, a, b):
        ta, tb = self.traits[a], self.traits[b]
        part, shared = mm.traits_part(ta, tb)
        score = mm.round_score(100.0 * part)
        gap = np.abs(ta - tb)
        order = np.argsort(np.where(np.isnan(gap), np.inf, gap), axis=1, kind="stable")
        valid = shared > 0
        order = np.where(np.arange(len(TRAITS))[None, :] < shared[:, None], order, -1)
        feel = np.searchsorted([50.0, 70.0, 85.0], score, side="right")
        keys = np.column_stack([feel, shared, order])[valid]
        feel_score = {0: 0.0, 1: 50.0, 2: 70.0, 3: 85.0}

        def make(key):
            closest = [TRAITS[t] for t in key[2:] if t >= 0]
            return explain.personality(feel_score[key[0]], closest, key[1])

        texts = np.empty(len(a), dtype=object)
        texts[valid] = self._texts("personality", keys, make)
        return valid, np.where(valid, score, 0.0), texts

    def _interests(self, a, b):
        it = self.interests
        m = len(a)
        if not it.names:
            return np.ones(m, dtype=bool), np.zeros(m), np.full(m, explain.interests([]), dtype=object)
        both = it.member[a] & it.member[b]
        jac = mm.jaccard(both.sum(axis=1), it.size[a], it.size[b])
        score = mm.round_score(100.0 * jac)
        packed = np.packbits(both[:, self.interest_order], axis=1)
        width = -(-packed.shape[1] // 8) * 8
        words = np.zeros((m, width), dtype=np.uint8)
        words[:, :packed.shape[1]] = packed
        words = words.view(np.uint64)
        names = [it.names[i] for i in self.interest_order.tolist()]

        def make(key):
            bits = np.unpackbits(np.array(key, dtype=np.uint64).view(np.uint8))[:len(names)]
            return explain.interests([names[i] for i in np.flatnonzero(bits).tolist()])

        return np.ones(m, dtype=bool), score, self._texts("interests", words, make)


def distinct_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of one row per distinct row, inverse: each row's distinct number) of a 2-D array."""
    if keys.shape[1] == 1:
        _, first, inverse = np.unique(keys[:, 0], return_index=True, return_inverse=True)
        return first, inverse.ravel()
    order = np.lexsort(keys.T[::-1])
    ordered = keys[order]
    new = np.r_[True, (ordered[1:] != ordered[:-1]).any(axis=1)]
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return order[new], inverse
