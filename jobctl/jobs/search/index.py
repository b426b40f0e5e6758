"""The profile search index: its FTS5 definition, column weights and text folding.

Shared by the profile-search-index job (which builds it) and :mod:`jobctl.jobs.search.query` (which
queries it), so that indexed text and query text are folded by the same function.

Tokenizer choice: ``unicode61`` (Unicode-aware word splitting, so names and free text in any
language that separates words with spaces or punctuation tokenise sensibly) with
``remove_diacritics 2`` (é→e, ü→u, ë→e, also for combining marks) and token categories
``L* N* Co M*`` (combining marks stay inside words, so Devanagari or Thai vowel signs do not
split a word). Before the tokenizer, :func:`fold` applies case folding (ß→ss), compatibility decomposition
(full-width letters, ligatures), drops Latin combining diacritics and maps a few Latin letters that
have no decomposition (ł, ø, æ, œ, đ, þ); queries go through the same function. Prefix indexes on
2 and 3 characters make name prefixes ('ann' → Anna) cheap.

bm25 costs about 1.5 µs per matching profile, so a single common word (a popular interest, 'and')
matching 40,000 profiles would take 60 ms to rank. The heaviest single-word searches are therefore
ranked once when the index is built and kept, top 1,000 each, in ``profile_search_top``, swapped
in with the index; :mod:`jobctl.jobs.search.query` reads those and falls back to FTS5 for anything else.
"""

from __future__ import annotations

import re
import unicodedata

LIVE = "profile_search"
#: Precomputed rankings of the heaviest single-word searches, built and swapped with the index.
TOP = "profile_search_top"
#: How many ranked profiles are kept per precomputed search (the CLI's largest --limit).
TOP_KEEP = 1000

#: FTS columns in order, with their bm25 weights: names far above the rest, bio lowest.
COLUMNS = ("display_name", "username", "city", "interests", "bio")
WEIGHTS = {"display_name": 10.0, "username": 8.0, "city": 2.0, "interests": 3.0, "bio": 1.0}
NAME_COLUMNS = ("display_name", "username")

TOKENIZE = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"
PREFIXES = "2 3"
MAX_WORDS = 32


def _weights() -> str:
    return ", ".join(f"{WEIGHTS[c]:.1f}" for c in COLUMNS)


def rank_sql(table: str) -> str:
    """The weighted bm25 of ``table`` (negative; lower is better)."""
    return f'bm25("{table}", {_weights()})'


def create_sql(table: str) -> str:
    cols = ", ".join(COLUMNS)
    return (f'CREATE VIRTUAL TABLE "{table}" USING fts5({cols}, '
            f'tokenize = "{TOKENIZE}", prefix = \'{PREFIXES}\')')


def configure_sql(table: str) -> str:
    """Store the weighted bm25 as the table's default rank too (for `ORDER BY rank` by hand)."""
    return f"INSERT INTO \"{table}\"(\"{table}\", rank) VALUES ('rank', 'bm25({_weights()})')"


def top_sql(table: str) -> str:
    return (f'CREATE TABLE "{table}" (expr TEXT NOT NULL, pos INTEGER NOT NULL, '
            f'user_id INTEGER NOT NULL, score REAL NOT NULL, matches INTEGER NOT NULL, '
            f'PRIMARY KEY (expr, pos)) WITHOUT ROWID')


def ranked_sql(table: str) -> str:
    """Matches of one expression, best first, ties by user id: (user_id, score > 0)."""
    return (f'SELECT rowid, -{rank_sql(table)} FROM "{table}" WHERE "{table}" MATCH ? '
            f'ORDER BY {rank_sql(table)}, rowid LIMIT ?')


# -- folding: the same for indexed text and for queries ------------------------------------------

_EXTRA_FOLDS = str.maketrans({"ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ð": "d",
                              "þ": "th", "ı": "i", "ħ": "h", "ŀ": "l"})
_LATIN_MARKS = re.compile("[\u0300-\u036f]")


def fold(text: str | None) -> str:
    """Text as it is indexed and queried: case-folded, compatibility forms and Latin diacritics
    removed (NFKD, U+0300–U+036F dropped, NFC), a few undecomposable letters mapped.

    Lone surrogates (which SQLite cannot store) are dropped."""
    if not text:
        return ""
    if text.isascii():
        return text.casefold()
    text = text.encode("utf-8", "ignore").decode("utf-8").casefold()
    text = _LATIN_MARKS.sub("", unicodedata.normalize("NFKD", text))
    return unicodedata.normalize("NFC", text).translate(_EXTRA_FOLDS)


# -- queries: plain words only ------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _word_char(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in "LN" or cat == "Co"


def _strip(word: str) -> str:
    """``word`` without leading and trailing non-word characters (the tokenizer drops them anyway,
    so '"coffee,' and 'coffee' are the same search and share a precomputed ranking)."""
    start, end = 0, len(word)
    while start < end and not _word_char(word[start]):
        start += 1
    while end > start and not _word_char(word[end - 1]):
        end -= 1
    return word[start:end]


def query_words(text: str) -> list[str]:
    """The plain words of ``text``: folded, split on white space and control characters (a NUL
    would end the FTS5 query string early), trimmed of punctuation; at most MAX_WORDS."""
    words = (_strip(w) for w in _CONTROL.sub(" ", fold(text)).split())
    return [w for w in words if w][:MAX_WORDS]


def _quote(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


def _last_word_expr(word: str) -> str:
    """The last word matches as itself, or as the prefix of a name word ('ann' → Anna)."""
    run = 0
    while run < len(word) and _word_char(word[len(word) - 1 - run]):
        run += 1
    if run < 2:                               # a one-letter prefix would match half the index
        return _quote(word)
    return f"({_quote(word)} OR {{{' '.join(NAME_COLUMNS)}}} : {_quote(word)}*)"


def build_queries(text: str) -> list[str]:
    """FTS5 MATCH expressions to try in order: all words (the last one also as a name prefix),
    then, for several words, any of them. Every word is a quoted FTS5 string: never an operator."""
    words = query_words(text)
    if not words:
        return []
    out = [" AND ".join([_quote(w) for w in words[:-1]] + [_last_word_expr(words[-1])])]
    if len(words) > 1:
        out.append(" OR ".join(_quote(w) for w in words))
    return out


# -- the index on each backend: the same build steps and queries, each in its engine's own terms ----

class Fts5Index:
    """SQLite: an FTS5 table (rowid = user_id), bm25 ranking, segments merged after the load and
    the heaviest single-word searches ranked in advance (``profile_search_top``)."""

    key = "rowid"
    precomputes = True

    def ddl(self, table: str) -> list[str]:
        return [create_sql(table), configure_sql(table)]

    def queries(self, text: str) -> list[str]:
        return build_queries(text)

    def ranked(self, conn, table: str, expr: str, limit: int) -> list[tuple]:
        return conn.execute(ranked_sql(table), (expr, limit)).fetchall()

    def count(self, conn, table: str, expr: str) -> int:
        return conn.execute(f'SELECT count(*) FROM "{table}" WHERE "{table}" MATCH ?', (expr,)).fetchone()[0]


#: ts_rank_cd weights {D, C, B, A}: bio, city and interests, username, display name.
TS_WEIGHTS = "{0.1, 0.3, 0.8, 1.0}"
_TS_CLASS = {"display_name": "A", "username": "B", "interests": "C", "city": "C", "bio": "D"}


class TsvectorIndex:
    """PostgreSQL: a table with the folded columns and a generated, weighted tsvector ``doc`` under a
    GIN index; ranked by ``ts_rank_cd``. Every word becomes its own ``phraseto_tsquery('simple', %s)``
    (a bound parameter: never query syntax); the last word also matches as a prefix of a name
    (``'ann':*AB``), and the rank of the exact words is added so an exact word scores above a
    prefix. No precomputed rankings: the GIN index and ts_rank_cd need none at this size.

    A search expression is (match SQL, its parameters, exact-words SQL, its parameters)."""

    key = "user_id"
    precomputes = False

    def ddl(self, table: str) -> list[str]:
        doc = " || ".join(f"setweight(to_tsvector('simple', coalesce({c}, '')), '{_TS_CLASS[c]}')" for c in COLUMNS)
        cols = ", ".join(f"{c} text" for c in COLUMNS)
        return [f'CREATE TABLE "{table}" (user_id bigint PRIMARY KEY, {cols}, '
                f'doc tsvector GENERATED ALWAYS AS ({doc}) STORED)',
                f'CREATE INDEX "{table}_doc" ON "{table}" USING gin (doc)']

    def queries(self, text: str) -> list[tuple[str, list, str, list]]:
        """All words (the last also as a name prefix), then, for several words, any of them."""
        words = query_words(text)
        if not words:
            return []
        phrase = "phraseto_tsquery('simple', %s)"
        exact = " && ".join([phrase] * len(words))
        last = words[-1]
        if len(last) >= 2 and all(_word_char(ch) for ch in last):
            match = " && ".join([phrase] * (len(words) - 1) + [f"({phrase} || to_tsquery('simple', %s))"])
            out = [(match, words + [f"'{last}':*AB"], exact, list(words))]
        else:
            out = [(exact, list(words), exact, list(words))]
        if len(words) > 1:
            any_word = " || ".join([phrase] * len(words))
            out.append((any_word, list(words), any_word, list(words)))
        return out

    def ranked(self, conn, table: str, expr: tuple, limit: int) -> list[tuple]:
        match, match_args, exact, exact_args = expr
        w = f"'{TS_WEIGHTS}'"
        return conn.raw.execute(
            f'SELECT user_id, ts_rank_cd({w}, doc, q) + ts_rank_cd({w}, doc, e) AS score '
            f'FROM "{table}", (SELECT {match} AS q, {exact} AS e) AS query '
            f"WHERE doc @@ q ORDER BY score DESC, user_id LIMIT %s", [*match_args, *exact_args, limit]).fetchall()

    def count(self, conn, table: str, expr: tuple) -> int:
        match, match_args = expr[:2]
        return conn.raw.execute(f'SELECT count(*) FROM "{table}" WHERE doc @@ ({match})', match_args).fetchone()[0]


_INDEXES = {"fts5": Fts5Index(), "tsvector": TsvectorIndex()}


def text_index(conn):
    """The profile index implementation for ``conn``'s backend (chosen by its dialect)."""
    from ...backend import dialect
    return _INDEXES[dialect(conn).fulltext]
