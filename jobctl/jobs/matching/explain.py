"""Plain-language compatibility explanations and their compact JSON ``details``.

Each function takes the evidence for one pair and one area and returns the ``details`` text:
a JSON object whose ``explanation`` reads like a sentence shown to the user, plus the evidence
it was built from. The text is symmetric in the two users ("you both …"), so one string serves
both (u, v) and (v, u). Keys are short because there is a row per match and area.
"""

from __future__ import annotations

import json

_enc = json.JSONEncoder(ensure_ascii=False).encode


def _and(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def quiz_area(area: str, common: int, agreed_ids: list[int], example: str | None) -> str:
    """A match-question area. ``agreed_ids``: the questions on which each accepts the other's
    answer; ``example``: the text of the one that matters most to them."""
    agreed = len(agreed_ids)
    like = f", like “{example.strip()}”" if agreed and example and example.strip() else ""
    if common == 1:
        text = (f"You accept each other's answer to the one {area} question you both answered{like}."
                if agreed else f"You don't accept each other's answer to the one {area} question you both answered.")
    elif agreed == common:
        text = f"You accept each other's answers on all {common} {area} questions you both answered{like}."
    elif agreed:
        text = f"You accept each other's answers on {agreed} of the {common} {area} questions you both answered{like}."
    else:
        text = f"You don't accept each other's answers on any of the {common} {area} questions you both answered."
    ids = ",".join(map(str, agreed_ids))
    return f'{{"explanation":{_enc(text)},"both_accept":[{ids}],"common":{common}}}'


def personality(score: float, closest: list[str], shared: int) -> str:
    """The traits part. ``closest``: the shared traits, smallest difference first."""
    if score >= 85:
        text = f"Your personalities are very similar, especially in {_and(closest[:2])}."
    elif score >= 70:
        text = f"Your personalities are similar, especially in {_and(closest[:2])}."
    elif score >= 50:
        text = f"Your personalities are somewhat different; you are closest in {_and(closest[:2])}."
    else:
        text = f"Your personalities are quite different; you are closest in {_and(closest[:2])}."
    names = ",".join(_enc(t) for t in closest)
    return f'{{"explanation":{_enc(text)},"closest_traits":[{names}]}}'


def interests(shared: list[str]) -> str:
    """The interests part. ``shared``: the names of the interests both have, most telling first."""
    if not shared:
        text = "You don't share any interests yet."
    elif len(shared) <= 3:
        text = f"You both love {_and(shared)}."
    else:
        more = len(shared) - 2
        text = f"You both love {shared[0]}, {shared[1]} and {more} more interests."
    names = ",".join(_enc(s) for s in shared)
    return f'{{"explanation":{_enc(text)},"shared_interests":[{names}]}}'
