"""Synthetic users: demographics, places, activity history, latent personality and names."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from datetime import date

import numpy as np

from .rand import DAY, HOUR, NO_TS, pystream, stream, weighted
from .vocab import COUNTRIES, CULTURES, EMAIL_DOMAINS, UNISEX

GENDERS = ("woman", "man", "nonbinary")
WOMAN, MAN, NONBINARY = 0, 1, 2
VISIBILITY = ("public", "members", "hidden")
#: activity classes: recently active, lapsed for months, dormant
RECENT, LAPSED, DORMANT = 0, 1, 2

# seeking as a bit set over GENDERS (bit g set = seeks gender g), with probabilities per gender
_SEEKING = {
    WOMAN: ([0b010, 0b001, 0b011, 0b111, 0b101], [.84, .07, .06, .02, .01]),
    MAN: ([0b001, 0b010, 0b011, 0b111, 0b101], [.87, .07, .035, .015, .01]),
    NONBINARY: ([0b111, 0b101, 0b110, 0b100, 0b011], [.40, .20, .15, .10, .15]),
}
COUNTRY_CODES = list(COUNTRIES)
CITIES = [(c, name, lat, lon, w) for c, (_, _, cities) in COUNTRIES.items() for name, lat, lon, w in cities]
CULTURE_NAMES = list(CULTURES)


@dataclass
class Users:
    """Column arrays for users 1..n (index i is user id i + 1)."""

    n: int
    gender: np.ndarray          # int: index into GENDERS
    seek_bits: np.ndarray       # int: bit g set when seeking GENDERS[g]
    age: np.ndarray
    birth: np.ndarray           # datetime64[D]
    age_min: np.ndarray
    age_max: np.ndarray
    country: np.ndarray         # index into COUNTRY_CODES, -1 = no location
    city: np.ndarray            # index into CITIES, -1 = no location
    lat: np.ndarray
    lon: np.ndarray
    visibility: np.ndarray      # index into VISIBILITY
    created: np.ndarray         # epoch seconds
    last_active: np.ndarray     # epoch seconds or NO_TS
    active_until: np.ndarray    # last moment the user did anything (last_active, else created)
    deleted: np.ndarray         # epoch seconds or NO_TS
    activity: np.ndarray        # RECENT | LAPSED | DORMANT
    latents: np.ndarray         # n x 8: Big Five, tradition, family, standardised age
    spotlight: np.ndarray       # a few public, very recently active users (indices)
    culture: np.ndarray
    first: list[str]
    last: list[str]
    display_name: list[str]
    username: list[str]
    email: list[str]

    @property
    def ids(self) -> np.ndarray:
        return np.arange(1, self.n + 1, dtype=np.int64)

    def seeks(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Whether each user u seeks the gender of the matching user v."""
        return ((self.seek_bits[u] >> self.gender[v]) & 1).astype(bool)


def seeking_text(bits: int) -> str:
    return ",".join(g for g in sorted(GENDERS) if bits >> GENDERS.index(g) & 1)


def exact_age(birth: np.ndarray, on: date) -> np.ndarray:
    """Whole years from datetime64[D] birthdates to ``on`` (as ``timeutil.age_on``)."""
    year = birth.astype("datetime64[Y]").astype(np.int64) + 1970
    month = birth.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (birth - birth.astype("datetime64[M]")).astype(np.int64) + 1
    later = (month > on.month) | ((month == on.month) & (day > on.day))
    return on.year - year - later


def make_users(seed: int, n: int, now_s: int) -> Users:
    rng = stream(seed, "users")
    now_day = np.datetime64(now_s, "s").astype("datetime64[D]")
    today = now_day.astype(date)

    gender = rng.choice(3, n, p=[.48, .48, .04])
    seek_bits = np.zeros(n, dtype=np.int64)
    for g, (bits, p) in _SEEKING.items():
        m = gender == g
        seek_bits[m] = rng.choice(bits, m.sum(), p=p)

    age = 18 + rng.gamma(2.0, 6.5, n)                  # skewed young, mean ~31
    older = rng.random(n) < .08
    age[older] = rng.uniform(36, 76, older.sum())
    age = np.clip(np.floor(age), 18, 75).astype(np.int64)
    birth = now_day - np.floor(age * 365.2425 + rng.uniform(0, 364, n)).astype("timedelta64[D]")
    for _ in range(60):                                 # walk off calendar rounding, day by day
        off = exact_age(birth, today) - age
        if not off.any():
            break
        birth = birth + np.sign(off).astype("timedelta64[D]")

    age_min, age_max = _age_ranges(rng, gender, age)
    country, city, lat, lon = _places(rng, n)
    visibility = rng.choice(3, n, p=[.85, .12, .03])

    # signup over the past two years, growing towards now; ids follow signup order
    created = np.sort(now_s - (730 * DAY * (1 - np.sqrt(rng.random(n)))).astype(np.int64) - 600)
    activity = rng.choice(3, n, p=[.58, .24, .18])
    ago = np.select([activity == RECENT, activity == LAPSED],
                    [np.minimum(rng.exponential(4 * DAY, n), 30 * DAY),
                     rng.uniform(30 * DAY, 180 * DAY, n)],
                    rng.uniform(180 * DAY, 730 * DAY, n))
    last_active = np.maximum(created, now_s - ago.astype(np.int64))
    never = rng.random(n) < .005                        # signed up and never came back
    deleted_mask = rng.random(n) < .02

    spotlight = rng.choice(n, min(n, 6), replace=False)
    activity[spotlight] = RECENT
    visibility[spotlight] = 0
    never[spotlight] = deleted_mask[spotlight] = False
    last_active[spotlight] = np.maximum(created[spotlight],
                                        now_s - rng.integers(60, HOUR, len(spotlight)))
    created[spotlight] = np.minimum(created[spotlight], now_s - 4 * DAY)
    order = np.argsort(created, kind="stable")          # keep ids in signup order
    inv = np.empty(n, dtype=np.int64)
    inv[order] = np.arange(n)
    created, last_active, activity = created[order], last_active[order], activity[order]
    never, deleted_mask, spotlight = never[order], deleted_mask[order], inv[spotlight]
    active_until = np.where(never, created, last_active)
    last_active = np.where(never, NO_TS, last_active)
    deleted = np.full(n, NO_TS, dtype=np.int64)
    deleted[deleted_mask] = active_until[deleted_mask] + (
        rng.random(deleted_mask.sum()) * np.minimum(now_s - active_until[deleted_mask], 20 * DAY)
    ).astype(np.int64)

    latents = _latents(rng, gender, age)
    culture = _cultures(rng, country)
    names = _names(seed, gender, culture, birth, city)
    return Users(n, gender, seek_bits, age, birth, age_min, age_max, country, city, lat, lon,
                 visibility, created, last_active, active_until, deleted, activity, latents,
                 np.sort(spotlight), culture, *names)


def _age_ranges(rng, gender, age):
    n = len(age)
    spread = 1 + (age - 18) / 35
    below = np.array([1.6, 3.0, 2.2])[gender]           # women look a bit older, men younger
    above = np.array([3.0, 1.4, 2.2])[gender]
    lo = np.round(age - 1 - rng.gamma(2.0, below, n) * spread)
    hi = np.round(age + 1 + rng.gamma(2.0, above, n) * spread)
    age_min = np.clip(lo, 18, 99).astype(np.int64)
    age_max = np.clip(np.maximum(hi, age_min + 2), 18, 99).astype(np.int64)
    wide = rng.random(n) < .04                           # never touched the defaults
    age_min[wide], age_max[wide] = 18, 99
    return age_min, age_max


def _places(rng, n):
    cw = np.array([COUNTRIES[c][0] for c in COUNTRY_CODES])
    country = weighted(rng, cw, n)
    city = np.empty(n, dtype=np.int64)
    city_country = np.array([COUNTRY_CODES.index(c[0]) for c in CITIES])
    for k in range(len(COUNTRY_CODES)):
        members = np.flatnonzero(city_country == k)
        m = country == k
        city[m] = members[weighted(rng, np.array([CITIES[i][4] for i in members]), m.sum())]
    lat = np.round(np.array([c[2] for c in CITIES])[city] + rng.normal(0, .04, n), 5)
    lon = np.round(np.array([c[3] for c in CITIES])[city] + rng.normal(0, .06, n), 5)
    nowhere = rng.random(n) < .01                        # never shared a location
    country[nowhere] = city[nowhere] = -1
    lat[nowhere] = lon[nowhere] = np.nan
    return country, city, lat, lon


def _latents(rng, gender, age):
    """Big Five (O, C, E, A, N) with their usual small correlations, tradition, family, age."""
    corr = np.array([
        [1, .0, .2, .05, -.1, -.3, -.05],
        [.0, 1, .1, .2, -.25, .15, .15],
        [.2, .1, 1, .1, -.2, 0, .1],
        [.05, .2, .1, 1, -.2, .1, .2],
        [-.1, -.25, -.2, -.2, 1, 0, 0],
        [-.3, .15, 0, .1, 0, 1, .35],
        [-.05, .15, .1, .2, 0, .35, 1]])
    z = rng.standard_normal((len(age), 7)) @ np.linalg.cholesky(corr).T
    z[:, 3] += np.where(gender == WOMAN, .2, np.where(gender == MAN, -.15, 0))
    z[:, 4] += np.where(gender == WOMAN, .2, np.where(gender == MAN, -.15, 0))
    agez = (age - 33) / 11
    z[:, 5] += .25 * agez
    return np.column_stack([z, agez])


def _cultures(rng, country):
    culture = np.empty(len(country), dtype=np.int64)
    for k, code in enumerate(COUNTRY_CODES + [None]):
        m = country == (k if code else -1)
        mix = COUNTRIES[code][1] if code else {c: 1.0 for c in CULTURE_NAMES}
        cw = np.array([mix.get(c, 0.0) for c in CULTURE_NAMES])
        culture[m] = weighted(rng, cw, m.sum())
    return culture


_FOLD = str.maketrans({"ø": "o", "ß": "ss", "ł": "l", "æ": "ae", "œ": "oe", "đ": "d", "ı": "i"})


@lru_cache(maxsize=None)
def fold(name: str) -> str:
    """ASCII handle material: 'Søren Ødegård' -> 'sorenodegard'."""
    s = unicodedata.normalize("NFKD", name.lower().translate(_FOLD))
    return "".join(ch for ch in s if ch.isascii() and ch.isalnum())


def _names(seed, gender, culture, birth, city):
    r = pystream(seed, "names")
    years = (birth.astype("datetime64[Y]").astype(np.int64) + 1970).tolist()
    first, last, display, usernames, emails = [], [], [], [], []
    taken_u: set[str] = set()
    taken_e: set[str] = set()
    for g, c, year, ci in zip(gender.tolist(), culture.tolist(), years, city.tolist()):
        women, men, families = CULTURES[CULTURE_NAMES[c]]
        if g == NONBINARY:
            pool = UNISEX if r.random() < .5 else (women if r.random() < .5 else men)
        else:
            pool = women if g == WOMAN else men
        f, l = r.choice(pool), r.choice(families)
        first.append(f)
        last.append(l)
        style = r.random()
        display.append(f"{f} {l}" if style < .7 else f if style < .9 else f"{f} {l[0]}.")
        ff, ll = fold(f) or "user", fold(l) or "x"
        place = fold(CITIES[ci][1])[:8] if ci >= 0 else "world"
        base = r.choice([f"{ff}{ll}", f"{ff}.{ll}", f"{ff}_{ll}", f"{ff}{year % 100:02d}",
                         f"{ff}_{ll[0]}", f"{ll}{ff[0]}", f"{ff}.{place}", f"the_real_{ff}",
                         f"{ff}{r.randint(1, 999)}", f"{ff[0]}{ll}{year % 100:02d}"])[:24]
        usernames.append(_unique(base, taken_u, r))
        local = r.choice([f"{ff}.{ll}", f"{ff}{ll}", f"{ff}_{ll}{year % 100:02d}", f"{ff[0]}{ll}",
                          f"{ff}{year}", f"{ll}.{ff}"])
        emails.append(_unique(local, taken_e, r, sep=".") + "@" + r.choice(EMAIL_DOMAINS))
    return first, last, display, usernames, emails


def _unique(base: str, taken: set[str], r, sep: str = "") -> str:
    name = base
    while name in taken:
        name = f"{base}{sep}{r.randint(2, 9999)}"
    taken.add(name)
    return name
