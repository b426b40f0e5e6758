"""match-scores as linear algebra: every user's top-k candidates without a loop over pairs.

Users are sorted by (gender, seeking) class, then by whether they have a very wide age range or
partial traits, then by age, and cut into blocks. A *tile* is an unordered pair of blocks
(I ≤ J); tiles whose classes do not seek each other, or in which no pair is mutually
age-eligible, are skipped whole, and inside a tile only the rows and columns that have an
age-eligible partner on the other side are kept (per-block age tables). Because the score is
symmetric, a tile is computed once and feeds the running top-k of its row and column users.

Each tile runs in two stages:

1. *approximate, dense* (float32): the OkCupid sums (importance-weighted accepted answers ×
   one-hot answers, both directions; the one-hot side as a sparse product), common-question
   counts, the trait distance (masked, expanded into matrix products) and interest
   intersections (sparse) are matrix products; a dozen in-place element-wise passes turn them
   into the score up to a positive factor. A pair is a *candidate* when its approximate score
   reaches the row's (or column's) threshold minus a proven error bound (``delta``), so no pair
   that could enter a top-k is ever dropped.
2. *exact* (float64, candidates only): the integer sums are read back from the products,
   eligibility (ages both ways, blocks, self, distance) is checked exactly and the score is
   recomputed with :mod:`.formulas`'s formulas — the same operations as a plain per-pair
   reference — then rounded and packed into a key (score, then candidate id).

Keys are merged into a per-user top-k; a user's threshold is their k-th best key. A user with
fewer than k kept candidates ("cold") gets a per-tile threshold from the k-th best approximate
score among that tile's certainly eligible pairs.

Tiles run on a small thread pool (BLAS single-threaded inside, one tile per core, nearest
blocks first); merging happens on the calling thread, which reports progress after each
block's worth of tiles. Memory is bounded by the per-user operands and top-k, plus a few
tile-sized buffers per thread, whatever the number of users.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy import sparse

from . import formulas as mm
from .threads import available_cores, blas_threads
from .tile import EARTH_RADIUS_KM, TileScoring, _rows, haversine_km  # noqa: F401  (re-exported)
from .topk import RunningTopK

#: Sort users with an age range wider than this into their own blocks (they match nearly anyone).
WIDE_RANGE_YEARS = 35
_F32 = np.float32


@dataclass
class EngineInput:
    """Per-user arrays in user-index order (ids ascending), as :mod:`.data` loads them."""

    gender: np.ndarray
    seeks: np.ndarray
    age: np.ndarray
    age_min: np.ndarray
    age_max: np.ndarray
    opt: np.ndarray               # (N, Q) own option position, −1 unanswered
    acc: np.ndarray               # (N, Q) accepted positions bit mask
    weight: np.ndarray            # (N, Q) importance weight
    n_options: np.ndarray         # (Q,)
    member: np.ndarray            # (N, M) bool interests
    traits: np.ndarray            # (N, 5) float64, NaN missing
    block_codes: np.ndarray       # sorted lo·N + hi of blocked pairs
    lat: np.ndarray | None = None  # degrees; required with max_distance_km
    lon: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.age)


@dataclass
class EngineStats:
    tiles: int = 0
    tiles_skipped: int = 0
    pairs: int = 0                # unordered pairs scored approximately
    candidates: int = 0           # pairs re-scored exactly
    kept: int = 0                 # keys offered to the merge after exact eligibility
    compute_s: float = 0.0


# ----------------------------------------------------------------------------- the engine
class TopKEngine(TileScoring, RunningTopK):
    """Each user's ``top_k`` best mutually eligible candidates by blended match score."""

    def __init__(self, data: EngineInput, *, weights: tuple[float, float, float], top_k: int,
                 max_distance_km: float | None = None, block_size: int = 512, workers: int | None = None):
        self.d = data
        self.k = int(top_k)
        self.weights = mm.normalise_weights(*weights)
        self.max_distance_km = max_distance_km
        self.block_size = max(1, int(block_size))
        self.workers = workers or min(available_cores(), 4)
        self.stats = EngineStats()
        self._prepare()

    # -- set-up ------------------------------------------------------------------------------
    def _prepare(self) -> None:
        d, n = self.d, self.d.n
        wq, wt, wi = self.weights
        nq, nm = d.opt.shape[1], d.member.shape[1]
        self.use_q, self.use_t, self.use_i = wq > 0 and nq > 0, wt > 0, wi > 0 and nm > 0
        # The approximate score is the score divided by 100·norm; the interests part keeps
        # coefficient 1 when it can (saves a pass), else the largest weight is the unit.
        if self.use_i and wi >= 1e-3 * max(wq, wt):
            norm = wi
        else:
            norm = max(wq if self.use_q else 0.0, wt if self.use_t else 0.0, wi if self.use_i else 0.0) or 1.0
        self.norm = norm
        self.cq, self.ct, self.ci = wq / norm, wt / norm, wi / norm
        # proven bound on |approximate − exact| in approximate units (see _trait_operands)
        tmax = float(np.nanmax(np.abs(d.traits - 50.0))) if n and not np.isnan(d.traits).all() else 50.0
        self.trait_beta = max(0.12, 20.0 * tmax * tmax * 20 * 1.2e-7)
        self.delta = (1e-5 * self.cq if self.use_q else 0.0) \
            + (2.0 * np.sqrt(2 * self.trait_beta) / 100.0 * self.ct if self.use_t else 0.0) \
            + (1e-5 * self.ci if self.use_i else 0.0) + 1e-6
        self.round_margin = 2e-6 / (100.0 * norm)

        hopeless = (d.age < -1000) | (d.seeks == 0)
        if self.max_distance_km is not None:
            hopeless |= np.isnan(d.lat) | np.isnan(d.lon)
        wide = (d.age_max - d.age_min) > WIDE_RANGE_YEARS
        n_traits = (~np.isnan(d.traits)).sum(axis=1)
        partial = (n_traits > 0) & (n_traits < d.traits.shape[1])
        cls = d.gender * (1 << 32) + d.seeks
        _, cls_code = np.unique(cls, return_inverse=True) if n else (None, np.zeros(0, dtype=np.int64))
        live = np.flatnonzero(~hopeless)
        order = np.lexsort((d.age[live], partial[live], wide[live], cls_code[live]))
        self.perm = perm = live[order]                   # engine position -> user index
        self.ne = ne = len(perm)
        seg_key = (cls_code[perm] * 4 + wide[perm] * 2 + partial[perm]) if ne else np.zeros(0, np.int64)
        starts = np.flatnonzero(np.r_[True, seg_key[1:] != seg_key[:-1]]) if ne else np.zeros(0, np.int64)
        bounds = []
        for s, e in zip(starts, np.r_[starts[1:], ne].astype(np.int64)):
            for b0 in range(int(s), int(e), self.block_size):
                bounds.append((b0, min(b0 + self.block_size, int(e))))
        self.blocks = bounds
        self.block_of = np.zeros(ne, dtype=np.int64)
        for b, (s, e) in enumerate(bounds):
            self.block_of[s:e] = b
        self.block_partial = np.array([bool(partial[perm[s:e]].any()) for s, e in bounds], dtype=bool)

        # per engine position
        self.age = d.age[perm]
        self.amin = d.age_min[perm]
        self.amax = d.age_max[perm]
        self.gender = d.gender[perm]
        self.seeks = d.seeks[perm]
        self.uidx = perm.astype(np.int64)
        self.isize = d.member.sum(axis=1)[perm] if nm else np.zeros(ne, dtype=np.int64)
        self.traits = d.traits[perm]
        self._quiz_operands(perm)
        self._trait_operands(perm)
        self._age_tables()
        if self.use_i:
            member = d.member[perm].astype(_F32)
            self.I_csr = sparse.csr_matrix(member)        # a few interests each: sparse rows
            self.IT = np.ascontiguousarray(member.T)
            self.asz = (self.isize + 5e-8).astype(_F32)  # both empty: 0 / 1e-7 instead of 0 / 0
        if self.max_distance_km is not None:
            self._distance_operands(perm)
        self._block_pairs_by_tile()

    def _quiz_operands(self, perm: np.ndarray) -> None:
        if not self.use_q:
            return
        d = self.d
        opt, acc, w = d.opt[perm], d.acc[perm], d.weight[perm]
        nopt = d.n_options.astype(np.int64)
        offset = np.r_[0, np.cumsum(nopt)[:-1]].astype(np.int64)
        n_all = int(nopt.sum())
        ne, nq = opt.shape
        answered = opt >= 0
        A = np.zeros((ne, n_all), dtype=_F32)
        rows, qs = np.nonzero(answered)
        A[rows, offset[qs] + opt[rows, qs]] = 1.0
        W = np.zeros((ne, n_all), dtype=_F32)
        for q in range(nq):
            for p in range(int(nopt[q])):
                col = ((acc[:, q] >> p) & 1).astype(bool) & answered[:, q]
                W[col, offset[q] + p] = w[col, q]
        H = answered.astype(_F32)
        # den operands carry a tiny τ column so that a product of denominators is never 0
        # (0 / τ² = 0 instead of 0 / 0), and are divided by cq so that √ yields cq·√(s·s).
        self.tau = 1e-7 / self.cq
        Dx = np.empty((ne, nq + 1), dtype=_F32)
        Dx[:, :nq] = np.where(answered, w, 0.0) / self.cq
        Dx[:, nq] = self.tau
        Hx = np.ones((ne, nq + 1), dtype=_F32)
        Hx[:, :nq] = H
        self.A, self.W, self.H, self.Dx, self.Hx = A, W, H, Dx, Hx
        self.A_csr = sparse.csr_matrix(A)
        self.WT = np.ascontiguousarray(W.T)

    def _trait_operands(self, perm: np.ndarray) -> None:
        """Operands whose product is cq-scaled (mean squared trait distance + β), see below.

        Σ_shared (t_u − t_v)² = Σ_t M_u M_v (T_u² + T_v² − 2 T_u T_v) with T centred on 50.
        float32 products of these terms (|T| ≤ 50: at most 4·2500 per trait, 18 terms) err by
        at most 18·2⁻²⁴·5·10⁴ ≈ 0.054 in sum-of-squares units, plus ~0.01 from rounding the
        operands; β ≥ 0.12 per shared trait (more when scores lie outside 0..100) is added so
        that the approximate value never goes negative, and √ then moves by at most √(2β),
        i.e. ct·√(2β)/100 after the /100 — twice that is the traits share of ``delta``. Pairs
        where one user has no traits get exactly ct² (their traits part is 0); pairs of partial
        users sharing no trait get 0 (an overestimate, which only costs an exact re-check).
        """
        if not self.use_t:
            return
        T = self.traits
        M = (~np.isnan(T)).astype(np.float64)
        Tc = np.where(M > 0, T - 50.0, 0.0)
        noT = (M.sum(axis=1) == 0).astype(np.float64)
        beta = self.trait_beta
        scale = (self.ct / 100.0) ** 2
        ct2 = self.ct ** 2
        ne = len(T)
        ones = np.ones(ne)

        def build(alpha: float, fix: float) -> tuple[np.ndarray, np.ndarray]:
            L = np.column_stack([alpha * (Tc * Tc + beta) * M, alpha * M, -2.0 * alpha * Tc,
                                 fix * noT, fix * ones, -fix * noT])
            R = np.column_stack([M, Tc * Tc * M, Tc, ones, noT, noT])
            return L.astype(_F32), R.astype(_F32)

        n_tr = T.shape[1]
        self.TL, self.TR = build(scale / n_tr, ct2)             # complete traits: count is 5
        self.TLp, self.TRp = build(scale, ct2)                  # partial: divided by the count
        self.CL = np.column_stack([M, noT, ones, -noT, np.full(ne, 1e-6)]).astype(_F32)
        self.CR = np.column_stack([M, ones, noT, noT, ones]).astype(_F32)

    def _distance_operands(self, perm: np.ndarray) -> None:
        lat = np.radians(self.d.lat[perm])
        lon = np.radians(self.d.lon[perm])
        self.lat_r, self.lon_r = lat, lon
        self.E = np.column_stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)]).astype(_F32)
        ang = self.max_distance_km / EARTH_RADIUS_KM
        cos_d = np.cos(ang) if ang < np.pi else -2.0
        self.cos_lo = _F32(cos_d - 1e-5)     # superset: every pair within the distance passes
        self.cos_hi = _F32(cos_d + 1e-5)     # subset: only pairs certainly within it pass

    def _block_pairs_by_tile(self) -> None:
        """Blocked pairs as local (i, j) coordinates per tile (both orientations on diagonals)."""
        self.tile_blocks: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}
        codes = self.d.block_codes
        if len(codes) == 0 or self.ne == 0:
            return
        n = self.d.n
        pos_of = np.full(n, -1, dtype=np.int64)
        pos_of[self.perm] = np.arange(self.ne)
        a, b = pos_of[codes // n], pos_of[codes % n]
        ok = (a >= 0) & (b >= 0)
        a, b = a[ok], b[ok]
        a, b = np.r_[a, b], np.r_[b, a]
        ba, bb = self.block_of[a], self.block_of[b]
        keep = ba <= bb
        acc: dict[tuple[int, int], list] = {}
        for x, y, bx, by in zip(a[keep].tolist(), b[keep].tolist(), ba[keep].tolist(), bb[keep].tolist()):
            acc.setdefault((bx, by), []).append((x - self.blocks[bx][0], y - self.blocks[by][0]))
        for key, pairs in acc.items():
            arr = np.array(pairs, dtype=np.int64)
            self.tile_blocks[key] = (arr[:, 0], arr[:, 1])

    def _age_tables(self) -> None:
        """Per block b: F[b, a_v, a_u] = some user of b aged a_v accepts age a_u, and its prefix
        over a_v, so that "does anyone of block b accept me, and do I accept them" is two lookups."""
        nb = len(self.blocks)
        lo = int(self.age.min()) if self.ne else 0
        hi = int(self.age.max()) if self.ne else 0
        span = hi - lo + 1
        diff = np.zeros((nb, span, span + 1), dtype=np.int32)
        row = self.age - lo
        c0 = np.clip(self.amin - lo, 0, span)
        c1 = np.clip(self.amax - lo + 1, 0, span)
        good = c1 > c0
        np.add.at(diff, (self.block_of[good], row[good], c0[good]), 1)
        np.add.at(diff, (self.block_of[good], row[good], c1[good]), -1)
        self.age_table = F = np.cumsum(diff, axis=2)[:, :, :span] > 0
        self.age_prefix = np.concatenate([np.zeros((nb, 1, span), dtype=np.int32),
                                          np.cumsum(F, axis=1, dtype=np.int32)], axis=1)
        self.age_rel, self.range_lo, self.range_hi = row, c0, c1

    # -- which tiles -------------------------------------------------------------------------
    def tiles(self) -> list[tuple[int, int]]:
        """Unordered block pairs (I ≤ J) that may hold a mutually eligible pair."""
        nb = len(self.blocks)
        if nb == 0:
            return []
        first = np.array([s for s, _ in self.blocks])
        g, sk = self.gender[first], self.seeks[first]
        seeks_other = ((sk[:, None] >> g[None, :]) & 1).astype(bool)
        gender_ok = seeks_other & seeks_other.T
        F = self.age_table
        FT = np.ascontiguousarray(F.transpose(0, 2, 1)).reshape(nb, -1)
        Ff = F.reshape(nb, -1)
        out = []
        sizes = np.array([e - s for s, e in self.blocks])
        for i in range(nb):
            cand = np.flatnonzero(gender_ok[i, i:]) + i
            if len(cand) == 0:
                continue
            age_ok = (Ff[i][None, :] & FT[cand]).any(axis=1)
            for j in cand[age_ok].tolist():
                if j == i and sizes[i] < 2:
                    continue
                out.append((i, j))
        self.stats.tiles_skipped = nb * (nb + 1) // 2 - len(out)
        # nearest blocks first, and consecutive tiles on different blocks: thresholds warm up
        # early, and tiles in flight together rarely read the same users' stale thresholds
        out.sort(key=lambda t: (t[1] - t[0], t[0]))
        return out

    # -- running -----------------------------------------------------------------------------
    def run(self, on_progress: Callable[[int, int], None] | None = None,
            tiles: list[tuple[int, int]] | None = None) -> np.ndarray:
        """Compute every engine user's top-k keys; returns (N_users, k) int64 (−1 = empty).

        ``on_progress(tiles_done, tiles_total)`` is called on this thread after each block's
        worth of tiles is merged (progress, heartbeat, cancellation may raise from it).
        """
        t0 = time.perf_counter()
        ne, k = self.ne, self.k
        self.top = np.full((ne, k), -1, dtype=np.int64)
        self.thr_key = np.full(ne, -1, dtype=np.int64)
        self.thr_x = np.full(ne, -np.inf, dtype=_F32)
        tiles = self.tiles() if tiles is None else tiles
        self.stats.tiles = len(tiles)
        self._local = threading.local()
        workers = max(1, self.workers)
        with blas_threads(1) if workers > 1 else nullcontext(True) as limited:
            if not limited:
                workers = 1
            self._run_tiles(tiles, workers, on_progress)
        out = np.full((self.d.n, k), -1, dtype=np.int64)
        out[self.perm] = self.top
        self.stats.compute_s = time.perf_counter() - t0
        return out

    def _run_tiles(self, tiles, workers, on_progress) -> None:
        total = len(tiles)
        every = max(1, len(self.blocks))
        done = 0
        if workers == 1:
            for tile in tiles:
                self._merge(*self._tile(*tile))
                done += 1
                if on_progress and (done % every == 0 or done == total):
                    on_progress(done, total)
            return
        ex = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="match-tile")
        try:
            pending: deque = deque()
            nxt = 0
            while nxt < total or pending:
                while nxt < total and len(pending) < 2 * workers:
                    pending.append((nxt, ex.submit(self._tile, *tiles[nxt])))
                    nxt += 1
                _pos, fut = pending.popleft()
                self._merge(*fut.result())
                done += 1
                if on_progress and (done % every == 0 or done == total):
                    on_progress(done, total)
        finally:
            ex.shutdown(wait=True, cancel_futures=True)


def matrix_products_floor(engine: TopKEngine, tiles: list[tuple[int, int]], workers: int = 1) -> float:
    """Seconds that numpy (and scipy.sparse) alone take for the matrix products of ``tiles``:
    the same products on the same compacted shapes as the engine, without any element-wise
    work — the floor a benchmark compares to. ``workers`` > 1 runs tiles on that many threads
    with single-threaded BLAS, as the engine does; 1 uses numpy's default threading."""
    def products(tile):
        bi, bj = tile
        ru, cv = engine._active(bi, bj)
        if len(ru) == 0 or len(cv) == 0:
            return
        U, V = _rows(ru), _rows(cv)
        shape = (len(ru), len(cv))
        if engine.use_q:
            np.matmul(engine.W[U], engine.A[V].T, out=np.empty(shape, _F32))
            engine.A_csr[U] @ engine.WT[:, V]
            np.matmul(engine.Dx[U], engine.Hx[V].T, out=np.empty(shape, _F32))
            np.matmul(engine.Hx[U], engine.Dx[V].T, out=np.empty(shape, _F32))
            np.matmul(engine.H[U], engine.H[V].T, out=np.empty(shape, _F32))
        if engine.use_t:
            if engine.block_partial[bi] or engine.block_partial[bj]:
                np.matmul(engine.TLp[U], engine.TRp[V].T, out=np.empty(shape, _F32))
                np.matmul(engine.CL[U], engine.CR[V].T, out=np.empty(shape, _F32))
            else:
                np.matmul(engine.TL[U], engine.TR[V].T, out=np.empty(shape, _F32))
        if engine.use_i:
            engine.I_csr[U] @ engine.IT[:, V]
        if engine.max_distance_km is not None:
            np.matmul(engine.E[U], engine.E[V].T, out=np.empty(shape, _F32))

    t0 = time.perf_counter()
    if workers <= 1:
        for tile in tiles:
            products(tile)
    else:
        with blas_threads(1), ThreadPoolExecutor(max_workers=workers) as ex:
            list(ex.map(products, tiles, chunksize=8))
    return time.perf_counter() - t0
