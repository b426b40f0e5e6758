"""Telling a PostgreSQL URL from an SQLite path, and printing either without its password."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ..errors import DatabaseError

SCHEMES = ("postgresql://", "postgres://")
# the password runs to the last '@' before the host (it may itself contain '@')
_PASSWORD = re.compile(r"(?i)((?:postgres|postgresql)://[^:/@\s?#]*:)([^\s/?#]*)(@)")
_PASSWORD_PARAM = re.compile(r"(?i)(\bpassword=)([^&\s]*)")


def is_url(target) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL, False for anything else (a file path)."""
    return isinstance(target, str) and target.strip().lower().startswith(SCHEMES)


def as_target(value) -> Path | str:
    """What ``--db`` names: the URL itself (a Path would fold its '//'), or a file path."""
    text = str(value)
    return text.strip() if is_url(text) else Path(text)


def redact(text) -> str:
    """``text`` with every URL password (user:PASSWORD@ and password=PASSWORD) replaced by ***.

    Use it for every printed form of a platform target: errors, titles, logs."""
    text = str(text)
    return _PASSWORD_PARAM.sub(r"\1***", _PASSWORD.sub(r"\1***\3", text))


def check_url(url: str) -> dict:
    """The parts of a PostgreSQL URL as libpq reads them; DatabaseError (one line, redacted) when
    it is malformed. Percent-escapes are decoded; ``host`` may be a socket directory
    (``postgresql:///db?host=/var/run/postgresql``)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port                     # raises ValueError for a non-numeric port
    except ValueError as exc:
        raise DatabaseError(f"malformed PostgreSQL URL {redact(url)}: {exc}") from None
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise DatabaseError(f"malformed PostgreSQL URL {redact(url)}")
    if parts.netloc.count("@") > 1:   # libpq would cut at the first '@' and show the rest as a host
        raise DatabaseError(f"malformed PostgreSQL URL {redact(url)}: more than one '@' "
                            "(write an '@' in the password as %40)")
    if parts.fragment:
        raise DatabaseError(f"malformed PostgreSQL URL {redact(url)}: unexpected '#'")
    query = {}
    for item in filter(None, parts.query.split("&")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise DatabaseError(f"malformed PostgreSQL URL {redact(url)}: bad parameter {redact(item)!r}")
        query[unquote(key)] = unquote(value)
    dbname = unquote(parts.path.lstrip("/")) or query.get("dbname") or ""
    return {"user": unquote(parts.username) if parts.username else None,
            "host": unquote(parts.hostname or "") or query.get("host"),
            "port": port, "dbname": dbname, "params": query}
