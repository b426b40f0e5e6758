"""Shared builders for the search tests: the search group's jobs run in order, filler users."""

from __future__ import annotations

from builders import run_job
from jobctl.jobs import search

JOBS = (search.searchable_user, search.profile_search_index, search.user_interest_sets,
        search.interest_relationships)


def build_search(platform, **params):
    """searchable-user, then the index and the interest sets, as the search group runs them."""
    run_job(platform, search.searchable_user, **params)
    run_job(platform, search.profile_search_index, **params)
    run_job(platform, search.user_interest_sets, **params)


def filler(platform, n: int, **kw) -> list[int]:
    """``n`` bland users so that bm25's document frequencies mean something."""
    return [platform.user(display_name=f"Filler Person{i}", username=f"filler{i}", city="Lyon",
                          bio="just here for the coffee", **kw) for i in range(n)]


def table(platform, name: str, order: str) -> list[tuple]:
    return platform.rows(f"SELECT * FROM {name} ORDER BY {order}")
