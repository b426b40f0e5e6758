"""Known-answer and property tests for the feed's text features (jobctl/jobs/feed_text.py)."""

import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from jobctl.jobs.feed import text as ft


# -- hashtags -------------------------------------------------------------------------------------

def test_hashtags_lower_unique_in_order_of_first_appearance():
    body = "Sunny! #Hiking with #friends then #hiking again #HIKING #Friends"
    assert ft.hashtags(body) == ["hiking", "friends"]


def test_hashtags_unicode_word_characters():
    body = "#Café au lait, #日本 trip, #été_2026 and #Ünïcödé."
    assert ft.hashtags(body) == ["café", "日本", "été_2026", "ünïcödé"]


def test_hashtags_need_a_word_and_no_word_before_the_hash():
    assert ft.hashtags("email a#b, price # 5, #, (#ok)") == ["ok"]
    assert ft.hashtags("##double") == ["double"]
    assert ft.hashtags("no tags here") == []


# -- terms and TF-IDF ----------------------------------------------------------------------------

def test_terms_are_lowercased_letter_runs_of_three_or_more_without_stop_words():
    body = "Hiking2day, the BEST café-hopping!! I'm ok with it"
    assert ft.terms(body) == ["hiking", "day", "best", "café", "hopping"]


def test_stop_words_are_lowercase_and_at_least_three_letters():
    assert all(w == w.lower() and len(w) >= 3 and w.isalpha() for w in ft.STOP_WORDS)
    assert {"the", "and", "with", "don"} <= ft.STOP_WORDS


def test_tfidf_by_hand():
    corpus = ["hiking hiking mountains", "mountains lake", "city lights"]
    df, n = ft.document_frequencies(corpus)
    assert n == 3 and df == {"hiking": 1, "mountains": 2, "lake": 1, "city": 1, "lights": 1}
    scores = ft.tfidf(ft.terms(corpus[0]), df, n)
    assert math.isclose(scores["hiking"], 2 / 3 * math.log(3))
    assert math.isclose(scores["mountains"], 1 / 3 * math.log(3 / 2))
    assert ft.keywords(ft.terms(corpus[0]), df, n) == ["hiking", "mountains"]
    assert ft.keywords(ft.terms(corpus[1]), df, n) == ["lake", "mountains"]


def test_term_in_every_post_is_no_keyword():
    corpus = ["common apple", "common pear"]
    df, n = ft.document_frequencies(corpus)
    assert ft.keywords(ft.terms(corpus[0]), df, n) == ["apple"]


def test_keywords_ties_by_term_and_top_five():
    corpus = ["zebra mango apple kiwi lemon grape melon", "other words"]
    df, n = ft.document_frequencies(corpus)
    assert ft.keywords(ft.terms(corpus[0]), df, n) == ["apple", "grape", "kiwi", "lemon", "mango"]


def test_equal_scores_computed_differently_still_tie_by_term():
    # 'bbb' twice with df 2 and 'aaa' once with df 1 in N = 4: 2/3·ln 2 == 1/3·ln 4
    corpus = ["bbb bbb aaa", "bbb", "ccc", "ddd"]
    df, n = ft.document_frequencies(corpus)
    assert ft.keywords(ft.terms(corpus[0]), df, n) == ["aaa", "bbb"]


def test_keywords_of_empty_post():
    assert ft.keywords([], {}, 10) == []


# -- topics --------------------------------------------------------------------------------------

NAMES = ["art", "board games", "hiking", "sci-fi", "rock climbing"]


def test_topics_whole_words_not_inside_other_words():
    m = ft.TopicMatcher(NAMES)
    assert m.topics("What a party! Smart start.") == []
    assert m.topics("Modern ART, at the gallery") == ["art"]
    assert m.topics("art.") == ["art"]


def test_topics_multi_word_and_case_and_whitespace():
    m = ft.TopicMatcher(NAMES)
    assert m.topics("Board  Games night and\nrock climbing") == ["board games", "rock climbing"]
    assert m.topics("board-games and boardgames") == []
    assert m.topics("a board, games later") == []


def test_topics_hashtag_form_without_spaces():
    m = ft.TopicMatcher(NAMES)
    assert m.topics("Tonight: #BoardGames and #RockClimbing") == ["board games", "rock climbing"]
    assert m.topics("#hiking!") == ["hiking"]
    assert m.topics("#hikingtrip") == []


def test_topics_with_punctuation_in_the_name():
    m = ft.TopicMatcher(NAMES)
    assert m.topics("I love Sci-Fi movies") == ["sci-fi"]
    assert m.topics("sci fi") == []


def test_topics_sorted_and_unique():
    m = ft.TopicMatcher(NAMES)
    assert m.topics("hiking, art, hiking and #art and more art") == ["art", "hiking"]


# -- properties ----------------------------------------------------------------------------------

TEXT = st.lists(st.sampled_from(list("abcAB éÉ#_1 .,日") + ["art", "party", "#Tag", "hiking "]),
                max_size=25).map("".join)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_hashtags_properties(body):
    tags = ft.hashtags(body)
    assert len(tags) == len(set(tags))
    assert all(t == t.lower() and re.fullmatch(r"\w+", t) for t in tags)
    lowered = body.lower()
    # each is a whole '#word' of the body, in order of first appearance
    firsts = [re.search(rf"(?<!\w)#{re.escape(t)}(?!\w)", lowered).start() for t in tags]
    assert firsts == sorted(firsts)


@settings(max_examples=200, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=6))
def test_keywords_properties(corpus):
    df, n = ft.document_frequencies(corpus)
    for body in corpus:
        post_terms = ft.terms(body)
        kws = ft.keywords(post_terms, df, n)
        assert len(kws) <= 5 and len(set(kws)) == len(kws)
        assert set(kws) <= set(post_terms)
        assert not set(kws) & ft.STOP_WORDS
        scores = ft.tfidf(post_terms, df, n)
        assert all(scores[a] >= scores[b] - 1e-12 for a, b in zip(kws, kws[1:]))


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_topics_agree_with_a_plain_regex(body):
    names = ["art", "party", "hiking", "ab"]
    m = ft.TopicMatcher(names)
    tags = set(ft.hashtags(body))
    expected = sorted(n for n in names
                      if re.search(rf"(?<!\w){re.escape(n)}(?!\w)", body, re.IGNORECASE) or n.replace(" ", "") in tags)
    assert m.topics(body) == expected
