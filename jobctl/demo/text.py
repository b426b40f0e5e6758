"""Free text as users write it: bios, post bodies with hashtags, comments."""

from __future__ import annotations

import re

import numpy as np

from .content import Posts
from .interests import NAMES, Interests
from .people import CITIES, COUNTRY_CODES, CULTURE_NAMES, Users, fold
from .rand import NO_TS, pystream
from . import vocab as V

_NON_WORD = re.compile(r"\W")
_INDEX = {name: i for i, name in enumerate(NAMES)}


def hashtag(name: str, camel: bool = False) -> str:
    """'board games' -> '#boardgames' (or '#BoardGames'), as people tag them."""
    words = name.split() if not camel else [w[:1].upper() + w[1:] for w in name.split()]
    return "#" + _NON_WORD.sub("", "".join(words))


def phone_number(r, country: str) -> str:
    fmt = r.choice(V.PHONE_FORMATS.get(country, V.PHONE_FORMATS["US"]))
    return "".join(str(r.randrange(10)) if ch == "#" else ch for ch in fmt)


def bios(seed: int, users: Users, interests: Interests) -> list[str]:
    r = pystream(seed, "bios")
    out = []
    for u in range(users.n):
        if r.random() < .07:
            out.append("")
            continue
        mine = [NAMES[i] for i in interests.of(u)]
        city = CITIES[users.city[u]][1] if users.city[u] >= 0 else "the city"
        lines = []
        if mine and r.random() < .85:
            picks = r.sample(mine, min(3, len(mine))) + ["good food", "long walks", "travel"]
            a, b, c = picks[:3]
            lines.append(r.choice(V.BIO_INTEREST_LINES).format(a=a, b=b, c=c, A=a.capitalize()))
        if r.random() < .6:
            lines.append(r.choice(V.BIO_ABOUT_LINES).format(occ=r.choice(V.OCCUPATIONS), city=city))
        extraversion = users.latents[u, 2]
        if abs(extraversion) > 1 and r.random() < .5:
            lines.append(r.choice(V.BIO_EXTRAVERT if extraversion > 0 else V.BIO_INTROVERT))
        local = V.BIO_LOCAL.get(CULTURE_NAMES[users.culture[u]])
        if local and r.random() < .2:
            lines.append(r.choice(local))
        if r.random() < .5:
            lines.append(r.choice(V.BIO_LOOKING_LINES))
        contact = r.random()
        if contact < .04:                       # people do paste their e-mail address...
            email = users.email[u] if r.random() < .6 else (
                f"{fold(users.first[u])}.{r.randint(10, 99)}@{r.choice(V.EMAIL_DOMAINS)}")
            lines.append(r.choice(V.BIO_CONTACT_EMAIL).format(email=email))
        elif contact < .07:                     # ...and their phone number
            code = COUNTRY_CODES[users.country[u]] if users.country[u] >= 0 else "US"
            lines.append(r.choice(V.BIO_CONTACT_PHONE).format(phone=phone_number(r, code)))
        out.append(" ".join(lines) if lines else r.choice(V.BIO_LOOKING_LINES))
    return out


def post_bodies(seed: int, posts: Posts, users: Users, interests: Interests,
                popular: np.ndarray) -> tuple[list[str], list[int]]:
    """(bodies, main topic per post as an interest index or -1)."""
    r = pystream(seed, "posts")
    fallback = popular.tolist()
    bodies, topics = [], []
    for author, edited in zip(posts.author.tolist(), (posts.edited != NO_TS).tolist()):
        mine = interests.of(author).tolist()
        city = CITIES[users.city[author]][1] if users.city[author] >= 0 else "town"
        want = r.choices((0, 1, 2, 3), (.12, .45, .3, .13))[0]
        chosen: list[str] = []
        while len(chosen) < want:
            i = r.choice(mine) if mine and r.random() < .85 else r.choice(fallback)
            if NAMES[i] not in chosen:
                chosen.append(NAMES[i])
        day, feel = r.choice(V.DAYS), r.choice(V.FEELINGS)
        if not chosen:
            body = r.choice(V.POST_PLAIN).format(day=day, city=city)
            topics.append(-1)
        else:
            a = chosen[0]
            b = chosen[1] if len(chosen) > 1 else NAMES[r.choice(fallback)]
            tags = [hashtag(t, camel=r.random() < .15) for t in chosen if r.random() < .55]
            if r.random() < .25:
                tags.append(r.choice(V.EXTRA_TAGS))
            if tags and r.random() < .03:
                tags.append(tags[0])
            if len(chosen) > 2 and r.random() < .5:
                tags.append(hashtag(chosen[2]))
            body = r.choice(V.POST_TEMPLATES).format(a=a, b=b, A=a.capitalize(), day=day,
                                                      city=city, feel=feel, tags=" ".join(tags))
            topics.append(_INDEX[a])
        if edited and r.random() < .5:
            body += " EDIT: " + r.choice(["typo.", "thanks for all the tips!", "found one, thanks!",
                                          "it's on Saturday, not Sunday."])
        bodies.append(" ".join(body.split()))
    return bodies, topics


def comment_bodies(seed: int, post_of: np.ndarray, topics: list[int], popular: np.ndarray) -> list[str]:
    r = pystream(seed, "comments")
    fallback = popular.tolist()
    out = []
    for p in post_of.tolist():
        t = topics[p] if topics[p] >= 0 else r.choice(fallback)
        out.append(r.choice(V.COMMENT_TEMPLATES).format(a=NAMES[t]))
    return out
