"""Keeping private data out of search snapshots.

Two layers, both plain functions over text:

* :func:`redact_contacts` replaces anything that looks like an e-mail address (including the usual
  obfuscations 'a.b [at] example [dot] com') or a phone number (7+ digits with separators) by
  '[redacted]'. It runs on free text (bios).
* :func:`scrub_own` removes the user's *own* private values (their e-mail, birthdate in common date
  spellings, exact coordinates) from any text, even where the generic patterns would not see them,
  e.g. a birthdate written as '15.06.1995' in a bio, or an e-mail typed as a display name.
"""

from __future__ import annotations

import math
import re
from datetime import date

REDACTED = "[redacted]"

_AT = r"(?:@|\s*[\[\(\{<]\s*at\s*[\]\)\}>]\s*|\s+at\s+)"
_DOT = r"(?:\.|\s*[\[\(\{<]\s*dot\s*[\]\)\}>]\s*|\s+dot\s+)"
# Matches start at a word start only, and the local part never backtracks (possessive ++):
# linear in the text's length.
_LOCAL = r"(?<![\w.+%-])[\w.+%-]++"
_EMAIL_RE = re.compile(rf"{_LOCAL}@[\w-]+(?:\.[\w-]+)+")
#: 'a [at] b [dot] c', 'a (at) b.c', 'a at b dot com' (needs a TLD-like ending).
_OBFUSCATED_RE = re.compile(rf"{_LOCAL}{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[a-z]{{2,12}}\b", re.IGNORECASE)
#: A run of digits with the separators people use in phone numbers; kept as a phone when it has
#: 7 or more digits (see :func:`_phone`).
_PHONE_RE = re.compile(r"(?<![\w.])(?:\+|00)?\(?\d[\d\s().\-/]{4,}\d(?![\w])")
_YEAR_RANGE_RE = re.compile(r"(?:19|20)\d\d\s*[-/]\s*(?:19|20)\d\d")
_DIGITS = "0123456789"


def _phone(match: re.Match) -> str:
    text = match.group(0)
    if sum(map(text.count, _DIGITS)) < 7 or _YEAR_RANGE_RE.fullmatch(text.strip()):
        return text
    return REDACTED


def redact_contacts(text: str | None) -> str:
    """``text`` with e-mail addresses and phone numbers replaced by '[redacted]'."""
    if not text:
        return text or ""
    if "@" in text:
        text = _EMAIL_RE.sub(REDACTED, text)
    low = text.lower()
    if "at" in low and ("dot" in low or "." in text):
        text = _OBFUSCATED_RE.sub(REDACTED, text)
    if sum(map(text.count, _DIGITS)) >= 7:
        text = _PHONE_RE.sub(_phone, text)
    return text


def _date_spellings(birthdate: str) -> list[str]:
    try:
        d = date.fromisoformat(birthdate[:10])
    except ValueError:
        return [birthdate] if birthdate else []
    y, m, dd = d.year, d.month, d.day
    out = {birthdate, d.isoformat(), f"{y}/{m:02d}/{dd:02d}", f"{y}.{m:02d}.{dd:02d}", f"{y}{m:02d}{dd:02d}"}
    for mm, ddd in ((f"{m:02d}", f"{dd:02d}"), (str(m), str(dd))):
        for sep in "./-":
            out.add(f"{ddd}{sep}{mm}{sep}{y}")   # day first (most of the world)
            out.add(f"{mm}{sep}{ddd}{sep}{y}")   # month first (US)
    return sorted(out, key=len, reverse=True)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _coordinate_spellings(value: float | None) -> list[str]:
    if not _finite(value):                     # NULL or NaN: nothing to hide
        return []
    out = {repr(float(value)), str(value)}
    out.update(f"{value:.{n}f}" for n in range(2, 8))
    return sorted(out, key=len, reverse=True)


def scrub_own(text: str | None, *, email: str | None = None, birthdate: str | None = None,
              latitude: float | None = None, longitude: float | None = None) -> str | None:
    """``text`` with this user's e-mail, birthdate and coordinates replaced by '[redacted]'.

    The values exactly as stored are removed wherever they occur, even inside a longer number
    (so no substring of the text equals them); other spellings (07.03.1994, 47.377) are removed
    as whole numbers. Each check starts with a cheap substring test (the '@', the birth year, the
    coordinate's integer part), so clean text, the usual case, costs a few `in` tests."""
    if not text:
        return text
    if email and "@" in text and email.lower() in text.lower():
        text = re.sub(re.escape(email), REDACTED, text, flags=re.IGNORECASE)
    if birthdate and birthdate[:4] in text:
        text = _remove(text, [birthdate], _date_spellings(birthdate), r"(?<!\d)")
    for value in (latitude, longitude):
        if _finite(value) and f"{int(abs(value))}." in text:
            text = _remove(text, [repr(float(value)), str(value)], _coordinate_spellings(value), r"(?<![\d.])")
    return text


def _remove(text: str, exact: list[str], spellings: list[str], before: str) -> str:
    for spelling in exact:
        text = text.replace(spelling, REDACTED)
    for spelling in spellings:
        if spelling in text:
            text = re.sub(rf"{before}{re.escape(spelling)}(?!\d)", REDACTED, text)
    return text
