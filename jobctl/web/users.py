"""The user page (/admin/users/{id}) and the user search: filled in by issue 19."""

from __future__ import annotations


def routes() -> list:
    return []
