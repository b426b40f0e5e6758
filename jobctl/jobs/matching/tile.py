"""One tile of the matching engine: a block pair scored approximately (dense float32 matrix
products), its candidates re-scored exactly (float64, :mod:`.formulas`'s formulas) and offered to the
running top-k as (owner, key) pairs. A mixin of :class:`.engine.TopKEngine`, which prepares the
operands it reads (``self.W``, ``self.A_csr``, the age tables, the thresholds …).
"""

from __future__ import annotations

import numpy as np

from ..shared import is_blocked
from . import formulas as mm

EARTH_RADIUS_KM = 6371.0
_F32 = np.float32


class TileScoring:
    def _buffers(self, shape: tuple[int, int]) -> dict:
        loc = self._local
        size = shape[0] * shape[1]
        if getattr(loc, "size", 0) < size:
            loc.size = size
            loc.f = [np.empty(size, dtype=_F32) for _ in range(9)]
            loc.b = [np.empty(size, dtype=bool) for _ in range(2)]
        return {"f": [a[:size].reshape(shape) for a in loc.f], "b": [a[:size].reshape(shape) for a in loc.b]}

    def _active(self, bi: int, bj: int) -> tuple[np.ndarray, np.ndarray]:
        """Engine positions of the tile's rows (block bi) and columns (block bj) that have at least
        one mutually age-eligible partner on the other side (from the blocks' age tables)."""
        def side(own: int, other: int) -> np.ndarray:
            s, e = self.blocks[own]
            G, a, lo, hi = self.age_prefix[other], self.age_rel[s:e], self.range_lo[s:e], self.range_hi[s:e]
            return s + np.flatnonzero(G[hi, a] > G[lo, a])
        rows = side(bi, bj)
        return rows, (rows if bi == bj else side(bj, bi))

    def _tile(self, bi: int, bj: int):
        diag = bi == bj
        ru, cv = self._active(bi, bj)
        nr, nc = len(ru), len(cv)
        if nr == 0 or nc == 0 or (diag and nr < 2):
            return [], 0, 0
        U, V = _rows(ru), _rows(cv)
        buf = self._buffers((nr, nc))
        N1, D1, D2, NN, TS, TC, X, Y, DOT = buf["f"]
        MB, MB2 = buf["b"]
        mm_ = np.matmul
        N2 = IN = None
        partial = self.use_t and bool(self.block_partial[bi] or self.block_partial[bj])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.use_q:
                mm_(self.W[U], self.A[V].T, out=N1)
                N2 = self.A_csr[U] @ self.WT[:, V]        # one-hot rows: a sparse product
                mm_(self.Dx[U], self.Hx[V].T, out=D1)
                mm_(self.Hx[U], self.Dx[V].T, out=D2)
                mm_(self.H[U], self.H[V].T, out=NN)
                np.multiply(N1, N2, out=X)
                np.multiply(D1, D2, out=Y)
                np.divide(X, Y, out=X)
                np.sqrt(X, out=X)
                np.divide(_F32(self.cq), NN, out=Y)
                np.subtract(X, Y, out=X)
                np.maximum(X, _F32(0), out=X)
            else:
                X.fill(0)
            if self.use_t:
                if partial:
                    mm_(self.TLp[U], self.TRp[V].T, out=TS)
                    mm_(self.CL[U], self.CR[V].T, out=TC)
                    np.divide(TS, TC, out=TS)
                else:
                    mm_(self.TL[U], self.TR[V].T, out=TS)
                np.sqrt(TS, out=TS)
                np.subtract(X, TS, out=X)
            if self.use_i:
                IN = self.I_csr[U] @ self.IT[:, V]         # a few interests each: sparse
                np.add.outer(self.asz[U], self.asz[V], out=Y)
                np.subtract(Y, IN, out=Y)
                np.divide(IN, Y, out=Y)
                if self.ci != 1.0:
                    np.multiply(Y, _F32(self.ci), out=Y)
                np.add(X, Y, out=X)
            dist = self.max_distance_km is not None
            if dist:
                mm_(self.E[U], self.E[V].T, out=DOT)

            blocked = self._tile_blocked(bi, bj, ru, cv)
            sure = (DOT if dist else None, TC if partial else None)
            rthr, rcold, relig = self._thresholds(X, sure, ru, cv, blocked, diag, rows=True)
            np.greater_equal(X, rthr[:, None], out=MB)
            if len(rcold):
                MB[rcold] &= relig
            if not diag:
                cthr, ccold, celig = self._thresholds(X, sure, ru, cv, blocked, diag, rows=False)
                np.greater_equal(X, cthr[None, :], out=MB2)
                if len(ccold):
                    MB2[:, ccold] &= celig.T
                np.logical_or(MB, MB2, out=MB)
            if dist:
                np.greater_equal(DOT, self.cos_lo, out=MB2)
                np.logical_and(MB, MB2, out=MB)
            flat = np.flatnonzero(MB)
        pairs = nr * (nr - 1) // 2 if diag else nr * nc
        parts = self._exact(flat, ru, cv, diag, blocked is not None, N1, N2, D1, D2, NN, IN)
        return parts, pairs, len(flat)

    def _tile_blocked(self, bi, bj, ru, cv):
        """Blocked pairs of the tile as (row, column) positions in the compacted tile, or None."""
        blocked = self.tile_blocks.get((bi, bj))
        if blocked is None:
            return None
        s0, e0 = self.blocks[bi]
        s1, e1 = self.blocks[bj]
        rpos = np.full(e0 - s0, -1, dtype=np.int64)
        rpos[ru - s0] = np.arange(len(ru))
        cpos = np.full(e1 - s1, -1, dtype=np.int64)
        cpos[cv - s1] = np.arange(len(cv))
        r, c = rpos[blocked[0]], cpos[blocked[1]]
        hit = (r >= 0) & (c >= 0)
        return r[hit], c[hit]

    def _thresholds(self, X, sure, ru, cv, blocked, diag, *, rows: bool):
        """Per row (or column) of the tile: the approximate score a pair needs to be a candidate.

        Returns (thresholds, cold positions, exact eligibility of the cold users' pairs). For a
        cold user the bound comes from this tile: k pairs that are certainly eligible and whose
        approximation cannot overestimate (``sure``: distance products, and the shared trait
        counts of a partial tile, where pairs sharing no trait are overestimated) have
        approximate scores ≥ kth, so the user's final k-th best is ≥ kth − delta, and a pair
        that can reach it has an approximate score ≥ kth − 2·delta. A cold user's candidates
        are also limited to eligible pairs (their threshold is often −∞).
        """
        DOT, TC = sure
        own, oth = (ru, cv) if rows else (cv, ru)
        thr = self.thr_x[own]
        cold = np.flatnonzero(self.thr_key[own] < 0)
        if len(cold) == 0:
            return thr, cold, None
        pu, pv = own[cold][:, None], oth[None, :]
        elig = ((self.age[pv] >= self.amin[pu]) & (self.age[pv] <= self.amax[pu])
                & (self.age[pu] >= self.amin[pv]) & (self.age[pu] <= self.amax[pv]))
        if diag:
            elig[np.arange(len(cold)), cold] = False
        if blocked is not None:
            b_own, b_oth = blocked if rows else (blocked[1], blocked[0])
            where = np.full(len(own), -1, dtype=np.int64)
            where[cold] = np.arange(len(cold))
            r = where[b_own]
            hit = r >= 0
            elig[r[hit], b_oth[hit]] = False
        other = len(oth)
        if other < self.k:
            return thr, cold, elig
        ok = elig
        if DOT is not None:
            ok = ok & ((DOT[cold] if rows else DOT[:, cold].T) >= self.cos_hi)
        if TC is not None:
            ok = ok & ((TC[cold] if rows else TC[:, cold].T) >= 0.5)
        xs = np.where(ok, X[cold] if rows else X[:, cold].T, -np.inf)
        kth = np.partition(xs, other - self.k, axis=1)[:, other - self.k]
        thr[cold] = kth - 2 * self.delta - self.round_margin
        return thr, cold, elig

    def _exact(self, flat, ru, cv, diag, any_blocked, N1, N2, D1, D2, NN, IN):
        if len(flat) == 0:
            return []
        i, j = np.divmod(flat, len(cv))
        pu, pv = ru[i], cv[j]
        ok = self._eligible(pu, pv, any_blocked)
        if not ok.all():
            flat, pu, pv = flat[ok], pu[ok], pv[ok]
        if len(flat) == 0:
            return []
        m = len(flat)
        if self.use_q:
            quiz = mm.quiz_part(N1.ravel()[flat], np.rint(D1.ravel()[flat].astype(np.float64) * self.cq),
                                N2.ravel()[flat], np.rint(D2.ravel()[flat].astype(np.float64) * self.cq),
                                NN.ravel()[flat])
        else:
            quiz = np.zeros(m)
        if self.weights[1] > 0:
            traits, _ = mm.traits_part(self.traits[pu], self.traits[pv])
        else:
            traits = np.zeros(m)
        if self.use_i:
            jac = mm.jaccard(IN.ravel()[flat], self.isize[pu], self.isize[pv])
        else:
            jac = np.zeros(m)
        score = mm.blend(quiz, traits, jac, self.weights)
        out = []
        sides = ((pu, pv),) if diag else ((pu, pv), (pv, pu))
        for owner, cand in sides:
            key = mm.score_key(score, self.uidx[cand])
            better = key > self.thr_key[owner]     # may be stale (lower): merging re-checks
            out.append((owner[better], key[better]))
        return out

    def _eligible(self, pu: np.ndarray, pv: np.ndarray, any_blocked: bool = True) -> np.ndarray:
        """Exact mutual eligibility of engine positions pu, pv (gender, ages, self, blocks, distance)."""
        ok = ((self.age[pv] >= self.amin[pu]) & (self.age[pv] <= self.amax[pu])
              & (self.age[pu] >= self.amin[pv]) & (self.age[pu] <= self.amax[pv]))
        ok &= (((self.seeks[pu] >> self.gender[pv]) & 1) == 1) & (((self.seeks[pv] >> self.gender[pu]) & 1) == 1)
        ok &= pu != pv
        codes = self.d.block_codes
        if any_blocked and len(codes):
            ok &= ~is_blocked(codes, self.uidx[pu], self.uidx[pv], self.d.n)
        if self.max_distance_km is not None:
            ok &= haversine_km(self.lat_r[pu], self.lon_r[pu], self.lat_r[pv], self.lon_r[pv]) <= self.max_distance_km
        return ok


def _rows(pos: np.ndarray):
    """An index for the rows at engine positions ``pos``: a slice when they are consecutive."""
    if len(pos) and pos[-1] - pos[0] + 1 == len(pos):
        return slice(int(pos[0]), int(pos[-1]) + 1)
    return pos


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in radians (haversine formula)."""
    dlat = lat2 - lat1
    dlon = lon2 - lon1
    h = np.sin(dlat / 2.0) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))
