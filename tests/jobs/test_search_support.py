"""Shared helpers for the search tests (no tests here): running the jobs, cancelling midway."""

from __future__ import annotations

from jobctl.context import make_context
from jobctl.jobs import search
from builders import CancelAtCheck as CancelAt  # noqa: F401  (used by the search tests)

NOW = "2026-11-29T03:00:00Z"
JOBS = (search.searchable_user, search.profile_search_index, search.user_interest_sets,
        search.interest_relationships)


def run(platform, fn, reporter=None, **params):
    if fn.spec.uses_now:
        params.setdefault("now", NOW)
    ctx = make_context(platform.conn, fn.spec, params, reporter=reporter)
    return fn(ctx)


def build_search(platform, **params):
    """searchable-user, then the index and the interest sets, as the search group runs them."""
    run(platform, search.searchable_user, **params)
    run(platform, search.profile_search_index, **params)
    run(platform, search.user_interest_sets, **params)


def filler(platform, n: int, **kw) -> list[int]:
    """``n`` bland users so that bm25's document frequencies mean something."""
    return [platform.user(display_name=f"Filler Person{i}", username=f"filler{i}", city="Lyon",
                          bio="just here for the coffee", **kw) for i in range(n)]


def table(platform, name: str, order: str) -> list[tuple]:
    return platform.rows(f"SELECT * FROM {name} ORDER BY {order}")
