"""Seeded random streams, weighted sampling and vectorised timestamps for the demo generators.

Every generator draws from its own named stream, so that changing one part of the demo does
not reshuffle the others, and the same (seed, name) always gives the same numbers.
"""

from __future__ import annotations

import random
import zlib

import numpy as np

#: Marks a NULL timestamp in an int64 array of epoch seconds.
NO_TS = np.iinfo(np.int64).min

HOUR = 3600
DAY = 86400


def stream(seed: int, name: str) -> np.random.Generator:
    """A numpy generator for one part of the demo, determined by (seed, name) only."""
    return np.random.default_rng([seed % 2**64, zlib.crc32(name.encode())])


def pystream(seed: int, name: str) -> random.Random:
    """A ``random.Random`` for text choices, determined by (seed, name) only."""
    return random.Random(f"jobctl-demo:{seed % 2**64}:{name}")


def weighted(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """``size`` indices drawn with replacement, proportional to ``weights`` (not all zero)."""
    cum = np.cumsum(weights, dtype=np.float64)
    idx = np.searchsorted(cum, rng.random(size) * cum[-1], side="right")
    return np.minimum(idx, len(weights) - 1)


class GroupSampler:
    """Weighted sampling of items restricted to one group per draw (e.g. users of a country).

    Items of group g occupy a run of a flat array whose cumulative weights, normalised within
    the group, are shifted by g, so one ``searchsorted`` serves every group at once.
    """

    def __init__(self, groups: np.ndarray, weights: np.ndarray, n_groups: int):
        order = np.argsort(groups, kind="stable")
        g = groups[order]
        w = weights[order].astype(np.float64)
        self.items = order
        self.sizes = np.bincount(g, minlength=n_groups)
        self.totals = np.bincount(g, weights=w, minlength=n_groups)
        starts = np.concatenate(([0], np.cumsum(self.sizes)[:-1]))
        cum = np.cumsum(w)
        before = np.concatenate(([0.0], cum))[starts]
        with np.errstate(divide="ignore", invalid="ignore"):
            norm = (cum - before[g]) / self.totals[g]
        self.flat = g + np.nan_to_num(norm)
        self.flat[self.flat > g + 1] = g[self.flat > g + 1] + 1  # guard rounding

    def usable(self, group: np.ndarray) -> np.ndarray:
        """Which of ``group`` have at least one item of positive weight."""
        ok = group >= 0
        ok[ok] = self.totals[group[ok]] > 0
        return ok

    def sample(self, rng: np.random.Generator, group: np.ndarray) -> np.ndarray:
        """One item per entry of ``group``; every group must be :meth:`usable`."""
        pos = np.searchsorted(self.flat, group + rng.random(len(group)) * 0.999999, side="right")
        return self.items[np.minimum(pos, len(self.items) - 1)]


def truncated_delay(rng: np.random.Generator, scale: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Exponential delays with mean ``scale``, conditioned to fall within [0, span]."""
    span = np.maximum(span, 0).astype(np.float64)
    cap = -np.expm1(-span / scale)
    return np.minimum(-scale * np.log1p(-rng.random(len(span)) * cap), span)


_TIME_OF_DAY: list[np.ndarray] = []


def ts_strings(secs: np.ndarray) -> list:
    """Epoch seconds -> ['2026-11-29T03:00:00Z', ...] (the format of ``timeutil.fmt_ts``);
    :data:`NO_TS` -> None. Built from a day table and a time-of-day table: numpy's own string
    formatting is several times slower for millions of values."""
    if not _TIME_OF_DAY:
        _TIME_OF_DAY.append(np.array([f"T{h:02d}:{m:02d}:{s:02d}Z" for h in range(24)
                                      for m in range(60) for s in range(60)], dtype=object))
    secs = np.asarray(secs, dtype=np.int64)
    null = secs == NO_TS
    days, second = np.divmod(np.where(null, 0, secs), 86400)
    uniq, inv = np.unique(days, return_inverse=True)
    day_text = np.array(np.datetime_as_string(uniq.astype("datetime64[D]"), unit="D").tolist(), dtype=object)
    out = day_text[inv] + _TIME_OF_DAY[0][second]
    if null.any():
        out[null] = None
    return out.tolist()


def date_strings(days: np.ndarray) -> list[str]:
    """datetime64[D] -> ['1994-05-17', ...]."""
    return np.datetime_as_string(days.astype("datetime64[D]"), unit="D").tolist()


def csr(keys: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(ptr, vals): ``vals[ptr[k]:ptr[k+1]]`` are the values whose key is k."""
    order = np.argsort(keys, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    return ptr, values[order]


def pick_from_csr(rng: np.random.Generator, ptr: np.ndarray, vals: np.ndarray,
                  keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A uniform value from each key's list; returns (values, ok) where ok is False for empty lists."""
    start, size = ptr[keys], ptr[keys + 1] - ptr[keys]
    ok = size > 0
    idx = start + np.floor(rng.random(len(keys)) * np.maximum(size, 1)).astype(np.int64)
    out = np.full(len(keys), -1, dtype=vals.dtype if len(vals) else np.int64)
    out[ok] = vals[idx[ok]]
    return out, ok


class ActiveSampler:
    """Weighted draws among items whose key is at least a threshold, e.g. users still active
    at time t (key = their last activity): a suffix of the items sorted by key."""

    def __init__(self, keys: np.ndarray, weights: np.ndarray):
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        self.cum = np.cumsum(weights[self.order], dtype=np.float64)

    def sample(self, rng: np.random.Generator, threshold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(items, ok): one item per threshold; ok is False where no item qualifies."""
        if not len(self.cum):
            return np.zeros(len(threshold), dtype=np.int64), np.zeros(len(threshold), dtype=bool)
        start = np.searchsorted(self.keys, threshold, side="left")
        base = np.where(start > 0, self.cum[np.maximum(start - 1, 0)], 0.0)
        total = self.cum[-1] - base
        pos = np.searchsorted(self.cum, base + rng.random(len(threshold)) * total, side="right")
        return self.order[np.minimum(pos, len(self.cum) - 1)], total > 0
