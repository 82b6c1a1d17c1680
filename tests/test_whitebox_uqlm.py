"""UQLM 0.6's ``WhiteBoxUQ`` usage on lmuq's one ``WhiteBoxUQ``: it generates itself with
``llm``, takes UQLM's scorer names with ``length_normalize``, scores UQLM's log-prob
records, and judges ``p_true`` from the first reply token. Values are computed by hand
from each definition, on a scripted backend, a rule NLI model and fixed embeddings."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from lmuq import WhiteBoxUQ
from lmuq.backends.fake import FakeBackend
from lmuq.scoring.functional.p_true import p_true_from_first_token
from lmuq.types import Generation, SamplingParams
from lmuq.uq.whitebox import UQLM_WHITEBOX_SCORERS, generation_from_logprobs
from nli_fakes import RuleNLI

E = math.exp
PROMPT = "q?"
ANSWER = Generation(
    "Paris", logprobs=[-0.1, -0.3], tokens=("Par", "is"), top_logprobs=[[-0.1, -2.4], [-0.3, -1.4]]
)
SAMPLES = [
    Generation("Paris", logprobs=[-0.2, -0.2], tokens=("Par", "is")),
    Generation("Lyon", logprobs=[-1.0], tokens=("Lyon",)),
    Generation("Paris", logprobs=[-0.5, -0.1], tokens=("Par", "is")),
]
P_TRUE_REPLY = Generation("True", logprobs=[math.log(0.8)], tokens=("True",))


class Embed:
    name = "fixed"

    def encode(self, texts):
        table = {"Paris": [1.0, 0.0], "Lyon": [0.0, 1.0]}
        return np.array([table[t] for t in texts])


def respond(prompt: str, params: SamplingParams, j: int) -> Generation:
    if "Proposed Answer" in prompt:
        assert "Here are some possible answers:\nParis\nLyon\n" in prompt  # UQLM's prompt
        return P_TRUE_REPLY
    return ANSWER if params.temperature == 0 else SAMPLES[j]


def wbuq(**kw) -> WhiteBoxUQ:
    return WhiteBoxUQ(llm=FakeBackend(respond), nli_model=RuleNLI(), embedder=Embed(), **kw)


# hand values (length_normalize=True: p(r) = exp(ℓ/L))
P_Y = E(-0.2)
P_S = [E(-0.2), E(-1.0), E(-0.3)]


def _semantic_negentropy() -> float:
    # UQLM's clustering: {Paris, Paris, Paris} and {Lyon} ("q?\nParis" vs "q?\nLyon" is a
    # contradiction for RuleNLI); p(C) ∝ Σ exp(ℓ_i/L_i); confidence 1 − SE / log 4
    c1, c2 = P_Y + P_S[0] + P_S[2], P_S[1]
    p = np.array([c1, c2]) / (c1 + c2)
    return 1 - float(-(p * np.log(p)).sum()) / math.log(4)


def _semantic_density() -> float:
    # every sample a reference; K = 1 for an identical text, 1 − 0.8 − 0.1/2 for Lyon
    k = [1.0, 1 - 0.8 - 0.05, 1.0]
    return sum(w * kk for w, kk in zip(P_S, k, strict=True)) / sum(P_S)


EXPECTED = {
    "sequence_probability": P_Y,
    "min_probability": E(-0.3),
    "monte_carlo_probability": (P_Y + sum(P_S)) / 4,
    "consistency_and_confidence": P_Y * (1 + 0.5 + 1) / 3,
    "semantic_negentropy": _semantic_negentropy(),
    "semantic_density": _semantic_density(),
    "p_true": 0.8,
}


def test_generate_and_score_with_uqlm_names_matches_the_definitions():
    names = list(EXPECTED)
    result = asyncio.run(wbuq(scorers=names).generate_and_score([PROMPT], num_responses=3))
    assert result.scorers == names
    for name, value in EXPECTED.items():
        assert result.columns[name][0] == pytest.approx(value, rel=1e-12), name


def test_the_sync_twin_gives_the_same_scores():
    names = ["sequence_probability", "monte_carlo_probability"]
    got = wbuq(scorers=names).generate_and_score_sync([PROMPT], num_responses=3)
    assert got.columns["monte_carlo_probability"][0] == pytest.approx(
        EXPECTED["monte_carlo_probability"], rel=1e-12
    )


def test_length_normalize_false_uses_the_unnormalised_probabilities():
    names = ["sequence_probability", "monte_carlo_probability", "consistency_and_confidence"]
    result = wbuq(scorers=names, length_normalize=False).generate_and_score_sync(
        [PROMPT], num_responses=3
    )
    assert result.columns["sequence_probability"][0] == pytest.approx(E(-0.4), rel=1e-12)
    mc = (E(-0.4) + E(-0.4) + E(-1.0) + E(-0.6)) / 4
    assert result.columns["monte_carlo_probability"][0] == pytest.approx(mc, rel=1e-12)
    cc = E(-0.4) * (1 + 0.5 + 1) / 3
    assert result.columns["consistency_and_confidence"][0] == pytest.approx(cc, rel=1e-12)


def test_no_samples_are_drawn_when_no_sampled_scorer_is_asked():
    fake = FakeBackend(respond)
    WhiteBoxUQ(llm=fake, scorers=["min_probability"]).generate_and_score_sync([PROMPT])
    assert [c.params.temperature for c in fake.calls] == [0.0]


def test_top_k_scorers_read_the_answers_alternatives():
    names = ["mean_token_negentropy", "probability_margin"]
    result = wbuq(scorers=names).generate_and_score_sync([PROMPT])
    margin = np.mean([E(-0.1) - E(-2.4), E(-0.3) - E(-1.4)])
    assert result.columns["probability_margin"][0] == pytest.approx(margin, rel=1e-12)


def test_uqlm_score_form_reads_logprob_records():
    def records(g: Generation, tops=None):
        return [
            {"token": t, "logprob": lp, **({"top_logprobs": tops[i]} if tops else {})}
            for i, (t, lp) in enumerate(zip(g.tokens, g.logprobs, strict=True))
        ]

    names = [n for n in EXPECTED if n != "p_true"]
    w = WhiteBoxUQ(scorers=names, nli_model=RuleNLI(), embedder=Embed())
    result = w.score(
        logprobs_results=[records(ANSWER)],
        prompts=[PROMPT],
        responses=["Paris"],
        sampled_responses=[[s.text for s in SAMPLES]],
        sampled_logprobs_results=[[records(s) for s in SAMPLES]],
    )
    for name in names:
        assert result.columns[name][0] == pytest.approx(EXPECTED[name], rel=1e-12), name


def test_lmuq_path_keeps_the_registry_meaning():
    from lmuq.types import SampleSet

    ss = SampleSet(PROMPT, ANSWER, SAMPLES)
    lmuq_value = WhiteBoxUQ(["sequence_probability"]).score([ss]).columns
    uqlm_value = WhiteBoxUQ(["sequence_probability"], length_normalize=True).score([ss]).columns
    assert lmuq_value["sequence_probability"][0] == pytest.approx(E(-0.4), rel=1e-12)
    assert uqlm_value["sequence_probability"][0] == pytest.approx(E(-0.2), rel=1e-12)


def test_uqlm_default_scorers_are_all_ten_and_normalized_probability_is_refused():
    assert WhiteBoxUQ(llm=FakeBackend(respond)).scorer_names == list(UQLM_WHITEBOX_SCORERS)
    with pytest.raises(ValueError, match="length_normalize=True"):
        WhiteBoxUQ(llm=FakeBackend(respond), scorers=["normalized_probability"])
    from lmuq.types import SampleSet

    with pytest.raises(ValueError, match="UQLM white-box names"):
        WhiteBoxUQ(["p_true"]).score([SampleSet(PROMPT, ANSWER, SAMPLES)])
    with pytest.raises(ValueError, match="unknown white-box scorer 'nope'"):
        WhiteBoxUQ(["nope"])
    with pytest.raises(TypeError, match="pass llm=llm"):
        WhiteBoxUQ(FakeBackend(respond))


def test_p_true_from_the_first_token():
    assert p_true_from_first_token(
        "True", math.log(0.7), true_options=("True",), false_options=("False",)
    ) == pytest.approx(0.7)
    assert p_true_from_first_token(
        " false", math.log(0.9), true_options=("True",), false_options=("False",)
    ) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="neither"):
        p_true_from_first_token("Maybe", -0.1, true_options=("True",), false_options=("False",))
    with pytest.raises(ValueError, match="log-probability"):
        p_true_from_first_token("True", 0.5)


def test_p_true_gives_nan_with_its_reason_when_the_reply_is_no_option():
    def other(prompt, params, j):
        return (
            Generation("Maybe", logprobs=[-0.1], tokens=("Maybe",))
            if "Proposed" in prompt
            else ANSWER
        )

    w = WhiteBoxUQ(llm=FakeBackend(other), scorers=["p_true"], on_error="nan")
    result = w.generate_and_score_sync([PROMPT])
    assert math.isnan(result.columns["p_true"][0])


def test_generation_from_logprobs_pads_missing_alternatives():
    g = generation_from_logprobs(
        "ab",
        [
            {
                "token": "a",
                "logprob": -0.1,
                "top_logprobs": [{"token": "a", "logprob": -0.1}, {"token": "b", "logprob": -2.0}],
            },
            {"token": "b", "logprob": -0.2, "top_logprobs": [{"token": "b", "logprob": -0.2}]},
        ],
    )
    assert g.tokens == ("a", "b")
    np.testing.assert_array_equal(g.top_logprobs, [[-0.1, -2.0], [-0.2, -math.inf]])
    with pytest.raises(ValueError, match="logprob"):
        generation_from_logprobs("x", [{"token": "x"}])


def test_uqlms_p_true_prompt_lists_distinct_answers_only_when_they_differ():
    from lmuq.scoring.functional.p_true import p_true_prompt_uqlm

    same = p_true_prompt_uqlm("Q?", "Paris", ["Paris", "Paris"])
    assert "possible answers" not in same
    assert same.splitlines() == [
        "Question: Q?",
        "Proposed Answer: Paris",
        "Is the proposed answer to the question true or false? Answer with only one word "
        "true/false.",
        "True or False:",
    ]
    varied = p_true_prompt_uqlm("Q?", "Paris", ["Lyon", "Paris"]).splitlines()
    assert varied[1:4] == ["Here are some possible answers:", "Lyon", "Paris"]
