"""The matching engine's running top-k: each user's k best keys so far and the thresholds a pair
must reach to enter them. A mixin of :class:`.engine.TopKEngine` (``self.top``, ``self.thr_key``,
``self.thr_x`` are set up by its ``run``).
"""

from __future__ import annotations

import numpy as np

from . import formulas as mm

_F32 = np.float32


class RunningTopK:
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
