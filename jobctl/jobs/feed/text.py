"""Text features of posts: hashtags, topics (interest names) and TF-IDF keywords.

Plain functions over strings, separate from the SQL that feeds them, so that known-answer tests
can call them directly.

Definitions (the contract's "feed" section, made precise):

* **hashtags** -- every ``#`` followed by a run of Unicode word characters (``\\w+``: letters, digits,
  underscore) and not preceded by a word character, lower-cased, unique, in order of first appearance.
  ``"Hi #Hiking #hiking #Café"`` → ``["hiking", "café"]``.
* **topics** -- an interest name occurs in the body as a whole word or phrase, case-insensitively: not
  preceded nor followed by a word character, the name's spaces matching any run of whitespace
  ('art' never matches inside 'party'; 'board games' matches 'Board  Games'); or a hashtag equals the
  name with its spaces removed ('#boardgames' → 'board games'). Sorted by name.
* **terms** -- the lower-cased body's maximal runs of letters (``[^\\W\\d_]+``) of length 3 or more,
  minus :data:`STOP_WORDS`. Digits, underscores and punctuation split runs: "hike2day" → "hike", "day".
* **TF-IDF** of term t in post d, over the corpus of N non-deleted posts:
  ``tf(t, d) = count of t in d / number of terms in d``, ``idf(t) = ln(N / df(t))`` with df(t) = number
  of corpus posts containing t; ``tfidf = tf · idf``. A post's **keywords** are its terms with
  tfidf > 0 (a term found in every post says nothing about this one), highest first, ties broken by
  term ascending; the top 5.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Iterable, Mapping

HASHTAG_RE = re.compile(r"(?<!\w)#(\w+)")
WORD_RE = re.compile(r"\w+")
LETTER_RUN_RE = re.compile(r"[^\W\d_]+")
MIN_TERM_LEN = 3
KEYWORDS_PER_POST = 5

#: A fixed English stop-word list (terms of 3+ letters only matter; shorter ones never become terms).
#: Includes the stems contractions leave behind once the apostrophe splits them ("don't" → "don").
STOP_WORDS = frozenset("""
about above after again against ain all also although always among and another any anyone anything
are aren around because been before being below between both but can cannot could couldn did didn
does doesn doing don down during each either else even ever every few for from further get gets getting
got had hadn has hasn have haven having her here hers herself him himself his how however isn its itself
just let lets like made make many may maybe might mightn more most much must mustn myself need needn
neither never nor not now off often once one only other others ought our ours ourselves out over own
per quite rather really said same say says shan she should shouldn since some something still such
than that the their theirs them themselves then there these they thing things this those though through
thus too under until upon very via was wasn way well were weren what whatever when where whether which
while who whom whose why will with within without won would wouldn yet you your yours yourself
yourselves ive youre youve weve theyre thats
""".split())


def hashtags(body: str) -> list[str]:
    """The post's hashtags: lower-cased, unique, in order of first appearance."""
    return list(dict.fromkeys(m.lower() for m in HASHTAG_RE.findall(body)))


def terms(body: str) -> list[str]:
    """The post's TF-IDF terms, in order, with repetitions (see the module docstring)."""
    return [t for t in LETTER_RUN_RE.findall(body.lower())
            if len(t) >= MIN_TERM_LEN and t not in STOP_WORDS]


def tfidf(post_terms: list[str], df: Mapping[str, int], n_docs: int) -> dict[str, float]:
    """{term: tf·idf} for one post's terms (``tf = count / len(post_terms)``, ``idf = ln(N / df)``).

    A term missing from ``df`` (the post changed after the corpus was counted) counts as df = 1.
    """
    if not post_terms:
        return {}
    total = len(post_terms)
    n = max(n_docs, 1)
    out = {}
    for term, count in Counter(post_terms).items():
        d = min(max(df.get(term, 0), 1), n)
        out[term] = count / total * math.log(n / d)
    return out


def keywords(post_terms: list[str], df: Mapping[str, int], n_docs: int,
             k: int = KEYWORDS_PER_POST) -> list[str]:
    """The top ``k`` terms by TF-IDF (score > 0), score descending then term ascending."""
    scores = tfidf(post_terms, df, n_docs)
    # Rounding keeps mathematically equal scores equal (2·ln 2 vs ln 4) so the term decides.
    ranked = sorted((t for t, s in scores.items() if s > 1e-12), key=lambda t: (-round(scores[t], 12), t))
    return ranked[:k]


def document_frequencies(bodies: Iterable[str]) -> tuple[Counter, int]:
    """(df Counter over each body's distinct terms, number of bodies)."""
    df: Counter = Counter()
    n = 0
    for body in bodies:
        df.update(set(terms(body)))
        n += 1
    return df, n


class TopicMatcher:
    """Finds which interest names a post is about (see the module docstring).

    A name's word tokens must appear consecutively among the post's word tokens (a cheap set and
    dict test); the exact whole-word regex then confirms the hit. That keeps the cost per post
    proportional to its length, not to the number of interests.
    """

    def __init__(self, names: Iterable[str]):
        self._first: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        self._regex: dict[str, re.Pattern] = {}
        self._by_tag: dict[str, list[str]] = {}
        for name in names:
            toks = tuple(WORD_RE.findall(name.lower()))
            if not toks:
                continue  # a name without word characters can never be a whole word
            self._first.setdefault(toks[0], []).append((toks, name))
            self._regex[name] = _phrase_regex(name)
            self._by_tag.setdefault(name.lower().replace(" ", ""), []).append(name)
        self._firsts = frozenset(self._first)

    def topics(self, body: str, tags: Iterable[str] | None = None) -> list[str]:
        """Sorted interest names found in ``body`` (``tags``: its hashtags, computed when omitted)."""
        found: set[str] = set()
        checked: set[str] = set()
        words = WORD_RE.findall(body.lower())
        if not self._firsts.isdisjoint(words):
            for i, w in enumerate(words):
                for toks, name in self._first.get(w, ()):
                    if name not in checked and tuple(words[i:i + len(toks)]) == toks:
                        checked.add(name)
                        if self._regex[name].search(body):
                            found.add(name)
        for tag in (hashtags(body) if tags is None else tags):
            found.update(self._by_tag.get(tag, ()))
        return sorted(found)


def _phrase_regex(name: str) -> re.Pattern:
    parts = [re.escape(p) for p in name.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(parts) + r"(?!\w)", re.IGNORECASE)
