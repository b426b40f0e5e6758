"""SQL that means different things on SQLite and PostgreSQL, as hooks of a dialect object.

A job asks ``dialect(conn)`` (see :mod:`jobctl.backend`) for a fragment instead of writing it,
so each job has one code path. This module is the SQLite side and the documentation of every
hook; :class:`jobctl.backend.postgres.PostgresDialect` overrides them.
"""

from __future__ import annotations


class Dialect:
    name = "sqlite"
    #: SQLite has one write lock for the whole file: after each job transaction, pause so the
    #: app's writers get their turn (``jobctl.db.yielding_transaction``).
    yields_lock = True
    #: Which full-text index the profile search builds (see jobctl.jobs.search_index.text_index).
    fulltext = "fts5"

    def database_files(self, conn) -> list[str]:
        """The files the platform database lives in (none for a server)."""
        return [path for _, _, path in conn.execute("PRAGMA database_list") if path]

    def analyze(self, conn, table: str) -> None:
        """Give the planner statistics of a table just filled (a temporary one, which nothing else
        analyzes on PostgreSQL); nothing to do on SQLite, whose planner needs none here."""

    def in_ids(self, column: str, param: str) -> str:
        """``column`` is one of the integers of the JSON array ``param`` (a placeholder)."""
        return f"{column} IN (SELECT value FROM json_each({param}))"

    def json_items(self, expr: str) -> str:
        """A table function of the elements of the JSON array ``expr``, column ``value`` (text)."""
        return f"json_each({expr})"

    def epoch(self, expr: str) -> str:
        """Whole Unix seconds of the timestamp ``expr``."""
        return f"CAST(strftime('%s', {expr}) AS INTEGER)"

    def instant(self, expr: str) -> str:
        """``expr`` as something that compares as an instant (NULL when unparseable on SQLite)."""
        return f"julianday({expr})"

    def age_years(self, birthdate: str, on: str) -> str:
        """Whole years from the date ``birthdate`` to the literal date ``on`` ('YYYY-MM-DD')."""
        return (f"(CAST(substr('{on}', 1, 4) AS INTEGER) - CAST(substr({birthdate}, 1, 4) AS INTEGER)"
                f" - (substr('{on}', 6, 5) < substr({birthdate}, 6, 5)))")

    def valid_date(self, expr: str) -> str:
        """True when ``expr`` holds a date (on SQLite: text shaped like one)."""
        return f"({expr} GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]*')"

    def upsert(self, table: str, columns: list[str], key: list[str]) -> str:
        """An insert of one row (``?`` placeholders) replacing the row with the same ``key``."""
        return f"INSERT OR REPLACE INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

    def nocase(self, expr: str) -> str:
        """``expr`` for case-insensitive ordering."""
        return f"{expr} COLLATE NOCASE"

    def text_order(self, expr: str) -> str:
        """``expr`` ordered by code point (SQLite's own order), whatever the server's collation."""
        return expr


SQLITE = Dialect()
