"""RAUQ, the attention score and EigenScore: hand-computed values, the definitions computed
directly, the scorers' errors, and the internals record's round trip."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq.codec import generation_from_json, generation_to_json
from lmuq.scoring import SCORERS, ScoringContext, score
from lmuq.scoring.functional import internals as IF
from lmuq.scoring.internals import needs_internals, rauq_scorer
from lmuq.types import Generation, ModelInternals, SampleSet

LOG = math.log

# ----------------------------------------------------------------------------- EigenScore


def test_eigenscore_by_hand():
    # rows centred over their features: [1, -1] and [2, 0] -> both [1, -1]; Σ = [[2, 2],
    # [2, 2]], eigenvalues 4 and 0, plus α
    z = np.array([[1.0, -1.0], [2.0, 0.0]])
    assert IF.eigenscore(z, alpha=1e-3) == pytest.approx((LOG(4.001) + LOG(0.001)) / 2)
    # [1, 0] and [0, 1] -> [.5, -.5] and [-.5, .5]; Σ = [[.5, -.5], [-.5, .5]]: 1 and 0
    z = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert IF.eigenscore(z, alpha=0.01) == pytest.approx((LOG(1.01) + LOG(0.01)) / 2)


def test_eigenscore_is_the_papers_log_determinant():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(5, 12))
    d = z.shape[1]
    j = np.eye(d) - np.ones((d, d)) / d  # J_d of the paper
    sign, logdet = np.linalg.slogdet(z @ j @ z.T + 1e-3 * np.eye(5))
    assert sign == 1
    assert IF.eigenscore(z) == pytest.approx(logdet / 5, rel=1e-12)


def test_eigenscore_grows_with_the_spread_of_the_samples():
    rng = np.random.default_rng(0)
    base = rng.normal(size=16)
    close = base + 0.01 * rng.normal(size=(5, 16))
    spread = base + 1.0 * rng.normal(size=(5, 16))
    assert IF.eigenscore(close) < IF.eigenscore(spread)
    assert IF.eigenscore(close) >= LOG(1e-3)  # eigenvalues of Σ + αI are at least α


@pytest.mark.parametrize(
    ("z", "alpha", "match"),
    [(np.zeros(3), 1e-3, "shape"), (np.full((2, 2), np.nan), 1e-3, "NaN"), (np.eye(2), 0, "alpha")],
)
def test_eigenscore_refuses_bad_input(z, alpha, match):
    with pytest.raises(ValueError, match=match):
        IF.eigenscore(z, alpha)


# ------------------------------------------------------------------------ attention score


def test_attention_score_by_hand():
    tokens = np.array([[0.5, 0.25], [1.0, 0.5]])  # 2 heads, 2 response positions
    prompt = np.array([LOG(0.5), LOG(0.25)])  # each head's Σ log A_ii over the prompt
    # head 0: log .5 + log .25 + log .5 = log 1/16; head 1: log 1 + log .5 + log .25 = log 1/8
    expected = -(LOG(1 / 16) + LOG(1 / 8)) / 2
    assert IF.attention_score(tokens, prompt) == pytest.approx(expected, rel=1e-9)
    # the response alone: head 0 log 1/8, head 1 log 1/2
    assert IF.attention_score(tokens) == pytest.approx(-(LOG(1 / 8) + LOG(1 / 2)) / 2, rel=1e-9)
    # an attention weight that underflowed to 0 is floored by ε = 1e-12
    assert IF.attention_score(np.array([[0.0]])) == pytest.approx(-LOG(1e-12))


# ---------------------------------------------------------------------------------- RAUQ


def test_rauq_one_layer_by_hand():
    lp = np.log([0.5, 0.8, 0.4])
    att = np.array([[0.9, 0.1], [0.2, 0.6]])  # head 0 attends most to the previous token
    # c0 = .5; c1 = .2*.8 + .8*.9*.5 = .52; c2 = .2*.4 + .8*.1*.52 = .1216
    expected = -(LOG(0.5) + LOG(0.52) + LOG(0.1216)) / 3
    assert IF.rauq_layer_uncertainty(lp, att, alpha=0.2) == pytest.approx(expected, rel=1e-12)
    # with α = 1 the attention drops out: the mean token surprisal
    assert IF.rauq_layer_uncertainty(lp, att, alpha=1.0) == pytest.approx(-lp.mean())


def test_rauq_takes_the_least_confident_layer():
    lp = np.log([0.5, 0.8, 0.4])
    layer_a = np.array([[0.9, 0.1], [0.2, 0.6]])
    layer_b = np.array([[0.3, 0.3], [0.9, 0.9]])  # head 1: c1 = .16 + .36, c2 = .08 + .3744
    ua = -(LOG(0.5) + LOG(0.52) + LOG(0.1216)) / 3
    ub = -(LOG(0.5) + LOG(0.52) + LOG(0.08 + 0.8 * 0.9 * 0.52)) / 3
    att = np.stack([layer_a, layer_b])
    assert IF.rauq(lp, att, alpha=0.2, layers=[0, 1]) == pytest.approx(max(ua, ub))
    assert IF.rauq(lp, att, alpha=0.2, layers=[1]) == pytest.approx(ub)


def test_rauq_of_a_one_token_answer_is_its_surprisal():
    assert IF.rauq(np.log([0.25]), np.zeros((3, 2, 0))) == pytest.approx(LOG(4))


def test_rauq_default_layers_are_the_middle_third():
    assert IF.default_rauq_layers(30) == list(range(10, 21))
    assert IF.default_rauq_layers(6) == [2, 3, 4]
    assert IF.default_rauq_layers(1) == [0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"alpha": 0.0}, "alpha"), ({"layers": []}, "empty"), ({"layers": [7]}, "out of range")],
)
def test_rauq_refuses_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        IF.rauq(np.log([0.5, 0.5]), np.ones((3, 2, 1)) / 2, **kwargs)


# ------------------------------------------------------------------------------- scorers


def _internals(att: np.ndarray, prompt: np.ndarray | None = None, emb=None) -> ModelInternals:
    layers, heads = att.shape[:2]
    return ModelInternals(
        token_attention=att,
        prompt_log_attention=np.zeros((layers, heads)) if prompt is None else prompt,
        embedding=np.ones(4) if emb is None else emb,
        embedding_layer=1,
    )


def _set(with_internals: bool = True) -> SampleSet:
    att = np.full((3, 2, 2), 0.5)
    answer = Generation(
        "Paris",
        logprobs=np.log([0.5, 0.8, 0.4]),
        internals=_internals(att) if with_internals else None,
    )
    samples = [
        Generation(
            t,
            logprobs=np.log([0.5]),
            internals=_internals(np.zeros((3, 2, 0)), emb=np.array(e, dtype=float))
            if with_internals
            else None,
        )
        for t, e in (("Paris", [1, 0, 0, 0]), ("Lyon", [0, 1, 0, 0]), ("Rome", [0, 0, 2, 1]))
    ]
    return SampleSet("What is the capital of France?", answer, samples)


def test_scorers_read_the_captured_internals():
    ss = _set()
    names = ["rauq", "attention_score", "attention_score_response", "eigenscore"]
    result = score([ss], names, ScoringContext())
    u = IF.rauq(ss.answer.logprobs, ss.answer.internals.token_attention, alpha=0.2)
    assert result.columns["rauq"][0] == pytest.approx(math.exp(-u))
    assert result.columns["rauq_uncertainty"][0] == pytest.approx(u)
    # every head of the middle layer (1 of 3) has A_ii = .5 at 2 positions; prompt sums 0
    assert result.columns["attention_score_uncertainty"][0] == pytest.approx(-2 * LOG(0.5))
    assert result.columns["attention_score"][0] == pytest.approx(1 / (1 - 2 * LOG(0.5)))
    z = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 2, 1]], dtype=float)
    es = IF.eigenscore(z)
    assert result.columns["eigenscore_value"][0] == pytest.approx(es)
    assert result.columns["eigenscore"][0] == pytest.approx(1 / (1 + math.exp(es)))


def test_a_response_without_internals_says_a_local_model_is_needed():
    result = score([_set(with_internals=False)], ["rauq", "eigenscore"], on_error="nan")
    assert math.isnan(result.columns["rauq"][0]) and math.isnan(result.columns["eigenscore"][0])
    errors = result.columns["score_errors"][0]
    assert "local model" in errors["rauq"] and "internals=True" in errors["rauq"]
    assert "server backends" in errors["eigenscore"]
    with pytest.raises(ValueError, match="Only a local model gives them"):
        score([_set(with_internals=False)], ["attention_score"])


def test_eigenscore_needs_two_samples():
    ss = _set()
    one = SampleSet(ss.prompt, ss.answer, ss.samples[:1])
    with pytest.raises(ValueError, match="at least 2 sampled responses"):
        score([one], ["eigenscore"])


def test_rauq_scorer_options_and_needs():
    spec = rauq_scorer(alpha=0.5, layers=[0], name="rauq_instruct")
    ss = _set()
    value = spec.compute(ss, None).confidence
    expected = IF.rauq(
        ss.answer.logprobs, ss.answer.internals.token_attention, alpha=0.5, layers=[0]
    )
    assert value == pytest.approx(math.exp(-expected))
    assert needs_internals(["sequence_probability", "rauq"])
    assert needs_internals([spec]) and not needs_internals(["sequence_probability", "cosine_sim"])
    assert SCORERS["eigenscore"].family == "white-box"
    with pytest.raises(ValueError, match="alpha"):
        rauq_scorer(alpha=1.5)


# ------------------------------------------------------------------------------- record


def test_internals_round_trip_exactly_through_the_store_codec():
    rng = np.random.default_rng(1)
    internals = ModelInternals(
        token_attention=rng.uniform(size=(4, 3, 2)).astype(np.float32),
        prompt_log_attention=rng.normal(size=(4, 3)).astype(np.float32),
        embedding=(100 * rng.normal(size=7)).astype(np.float32),
        embedding_layer=2,
    )
    gen = Generation("x", logprobs=np.log([0.5, 0.5, 0.5]), internals=internals)
    back = generation_from_json(generation_to_json(gen)).internals
    for name in ("token_attention", "prompt_log_attention", "embedding"):
        np.testing.assert_array_equal(getattr(back, name), getattr(internals, name))
        assert getattr(back, name).dtype == np.float32
    assert back.embedding_layer == 2
    assert "internals" not in gen.to_dict(internals=False)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"token_attention": np.zeros((2, 3))}, "layers, heads, T - 1"),
        ({"prompt_log_attention": np.zeros(2)}, "prompt_log_attention"),
        ({"embedding": np.zeros((2, 2))}, "embedding"),
        ({"embedding_layer": -1}, "embedding_layer"),
    ],
)
def test_model_internals_validates_shapes(kwargs, match):
    good = {
        "token_attention": np.zeros((2, 3, 1)),
        "prompt_log_attention": np.zeros((2, 3)),
        "embedding": np.zeros(4),
        "embedding_layer": 1,
    }
    with pytest.raises(ValueError, match=match):
        ModelInternals(**{**good, **kwargs})


def test_generation_checks_internals_cover_its_tokens():
    internals = _internals(np.full((3, 2, 5), 0.5))
    with pytest.raises(ValueError, match="covers 5 steps but a response of 3 tokens has 2"):
        Generation("x", logprobs=np.log([0.5, 0.5, 0.5]), internals=internals)
    with pytest.raises(TypeError, match="ModelInternals"):
        Generation("x", internals={"token_attention": []})


# ------------------------------------------------- where there are no internals to read


def test_the_job_refuses_internals_scorers_for_a_server():
    from lmuq.app.config import ConfigError, DemoConfig
    from lmuq.app.job import INTERNALS_WHITEBOX, whitebox_scorers_for

    cfg = DemoConfig(base_url="http://127.0.0.1:9/v1", model="m", scorers=("rauq",))
    with pytest.raises(ConfigError, match="only a local model gives"):
        cfg.check()
    # by default a local model runs them and a server does not
    assert set(INTERNALS_WHITEBOX) <= set(whitebox_scorers_for(DemoConfig()))
    served = whitebox_scorers_for(DemoConfig(base_url="http://127.0.0.1:9/v1", model="m"))
    assert not needs_internals(served)


def test_a_policy_never_holds_internals_scorers():
    from lmuq.evaluation.policy import Calibrator, PolicyError, TrustPolicy, fit_policy

    with pytest.raises(PolicyError, match="rauq reads the model's attention"):
        TrustPolicy(("rauq",), (1.0,), Calibrator("platt", 1.0, 0.0), 0.1, 0.5)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=80)
    table = {
        "rauq": y + 0.01 * rng.normal(size=80),  # perfect, but not for live traffic
        "sequence_probability": 0.5 * y + 0.5 * rng.uniform(size=80),
    }
    policy = fit_policy(table, y, alpha=0.2, holdout=0.0)
    assert policy.scorers == ("sequence_probability",)
    with pytest.raises(PolicyError, match="eigenscore reads"):
        fit_policy({**table, "eigenscore": table["rauq"]}, y, scorers=["eigenscore"])


def test_a_sample_without_attention_still_has_its_embedding():
    internals = ModelInternals(embedding=np.arange(3.0), embedding_layer=1)
    assert not internals.has_attention
    gen = Generation("x", logprobs=np.log([0.5, 0.5]), internals=internals)
    back = generation_from_json(generation_to_json(gen)).internals
    assert back.token_attention is None and back.prompt_log_attention is None
    np.testing.assert_array_equal(back.embedding, [0.0, 1.0, 2.0])
    ss = SampleSet("q", gen, [gen, gen])
    with pytest.raises(ValueError, match="attention_for='all'"):
        score([ss], ["rauq"])
    assert math.isfinite(score([ss], ["eigenscore"]).columns["eigenscore"][0])
    with pytest.raises(ValueError, match="come together"):
        ModelInternals(embedding=np.ones(2), embedding_layer=0, token_attention=np.ones((1, 1, 1)))
