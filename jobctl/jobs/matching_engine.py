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
   recomputed with :mod:`.matching_math`'s formulas — the same operations as a plain per-pair
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

import ctypes
import glob
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import sparse

from . import matching_math as mm

EARTH_RADIUS_KM = 6371.0
#: Sort users with an age range wider than this into their own blocks (they match nearly anyone).
WIDE_RANGE_YEARS = 35
_F32 = np.float32


@dataclass
class EngineInput:
    """Per-user arrays in user-index order (ids ascending), as :mod:`matching_data` loads them."""

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
    tile_shapes: list = field(default_factory=list)
    compute_s: float = 0.0


# ----------------------------------------------------------------------------- BLAS threads
def _openblas_setter() -> tuple[Callable[[int], None], Callable[[], int]] | None:
    """numpy's bundled OpenBLAS thread setter/getter, or None when not found."""
    libdir = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libdir, "libscipy_openblas*.so*"))
                       + glob.glob(os.path.join(libdir, "libopenblas*.so*"))):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    setter.argtypes, setter.restype = [ctypes.c_int], None
                    getter.argtypes, getter.restype = [], ctypes.c_int
                    return setter, getter
    return None


@contextmanager
def blas_threads(n: int):
    """Run the block with BLAS limited to ``n`` threads; yields False when that is not possible."""
    found = _openblas_setter()
    if found is None:
        yield False
        return
    setter, getter = found
    before = getter()
    setter(n)
    try:
        yield True
    finally:
        setter(before)


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# ----------------------------------------------------------------------------- the engine
class TopKEngine:
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
        with blas_threads(1) if workers > 1 else _nullcontext(True) as limited:
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

    # -- one tile ----------------------------------------------------------------------------
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
            a, b = self.uidx[pu], self.uidx[pv]
            c = np.minimum(a, b) * self.d.n + np.maximum(a, b)
            at = np.minimum(np.searchsorted(codes, c), len(codes) - 1)
            ok &= codes[at] != c
        if self.max_distance_km is not None:
            ok &= haversine_km(self.lat_r[pu], self.lon_r[pu], self.lat_r[pv], self.lon_r[pv]) <= self.max_distance_km
        return ok

    # -- merging -----------------------------------------------------------------------------
    def _merge(self, parts: list[tuple[np.ndarray, np.ndarray]], pairs: int = 0, candidates: int = 0) -> None:
        """Fold a tile's (owner, key) offers into the running top-k and raise the thresholds."""
        st = self.stats
        st.pairs += pairs
        st.candidates += candidates
        if not parts:
            return
        owner = np.concatenate([p[0] for p in parts])
        key = np.concatenate([p[1] for p in parts])
        keep = key > self.thr_key[owner]
        owner, key = owner[keep], key[keep]
        st.kept += len(owner)
        if len(owner) == 0:
            return
        order = np.argsort(owner, kind="stable")
        owner, key = owner[order], key[order]
        new = np.r_[True, owner[1:] != owner[:-1]]
        starts = np.flatnonzero(new)
        group = np.cumsum(new) - 1
        rank = np.arange(len(owner)) - starts[group]
        counts = np.diff(np.r_[starts, len(owner)])
        owners = owner[starts]
        single = counts == 1          # most owners get one new key: replace their worst entry
        if single.any():
            self._replace_worst(owners[single], key[starts[single]])
        # owners with a few offers share one narrow buffer; the rest get a wide one
        for lo, hi in ((1, 8), (8, 1 << 62)):
            sel = (counts > lo) & (counts <= hi)
            if not sel.any():
                continue
            gid = np.full(len(starts), -1, dtype=np.int64)
            gid[sel] = np.arange(int(sel.sum()))
            g = gid[group]
            mine = g >= 0
            self._fold(owners[sel], g[mine], rank[mine], key[mine], int(counts[sel].max()))

    def _replace_worst(self, owners: np.ndarray, key: np.ndarray) -> None:
        """One new key per owner, each better than the owner's k-th (or filling an empty slot)."""
        cur = self.top[owners]
        rows = np.arange(len(owners))
        cur[rows, np.argmin(cur, axis=1)] = key
        self.top[owners] = cur
        self._thresholds_from(owners, cur.min(axis=1))

    def _fold(self, owners: np.ndarray, group: np.ndarray, rank: np.ndarray, key: np.ndarray, width: int) -> None:
        k = self.k
        buf = np.full((len(owners), k + width), -1, dtype=np.int64)
        buf[:, :k] = self.top[owners]
        buf[group, k + rank] = key
        best = np.partition(buf, width, axis=1)[:, width:]
        self.top[owners] = best
        self._thresholds_from(owners, best.min(axis=1))

    def _thresholds_from(self, owners: np.ndarray, kth: np.ndarray) -> None:
        """Raise the owners' thresholds to their new k-th best keys (−1: fewer than k yet)."""
        full = kth >= 0
        self.thr_key[owners] = np.where(full, kth, -1)
        thr_score = mm.key_score(np.maximum(kth, 0))
        # X ≥ thr: the approximate score of a pair that could still beat the k-th
        x = thr_score / (100.0 * self.norm) - self.ct - self.delta - self.round_margin
        newthr = np.where(full, x, -np.inf).astype(_F32)
        self.thr_x[owners] = np.maximum(self.thr_x[owners], newthr)


def _rows(pos: np.ndarray):
    """An index for the rows at engine positions ``pos``: a slice when they are consecutive."""
    if len(pos) and pos[-1] - pos[0] + 1 == len(pos):
        return slice(int(pos[0]), int(pos[-1]) + 1)
    return pos


@contextmanager
def _nullcontext(value):
    yield value


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km between points given in radians (haversine formula)."""
    dlat = lat2 - lat1
    dlon = lon2 - lon1
    h = np.sin(dlat / 2.0) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin(dlon / 2.0) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(h, 1.0)))


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
