"""NLI: label order from config, the Hugging Face wrapper on a tiny real model, the cache,
and the rule-based fake other tests rely on."""

from __future__ import annotations

import numpy as np
import pytest

from lmuq.statistics.nli import (
    CONTRADICTION,
    ENTAILMENT,
    HFNLIModel,
    NLIModel,
    condition_on_question,
    label_order_from_config,
)
from lmuq.statistics.nli import NEUTRAL as NEUTRAL_COL
from lmuq.statistics.nli_cache import CachedNLI
from nli_fakes import (
    ENTAILED,
    IDENTICAL,
    NAME_CONTRADICTION,
    NEUTRAL,
    NUMBER_CONTRADICTION,
    RuleNLI,
    TableNLI,
    build_tiny_nli_model,
)


@pytest.fixture(scope="module", autouse=True)
def _offline():
    """Nothing here may touch the network. huggingface_hub reads HF_HUB_OFFLINE at import,
    so the already-imported constant is patched too."""
    from huggingface_hub import constants

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(constants, "HF_HUB_OFFLINE", True)
        yield


PREMISES = [
    "A man is playing a guitar on stage.",
    "The capital of France is Paris.",
    "The meeting starts at 10 am.",
    "Cats sleep a lot.",
    "Water boils at 100 degrees.",
]
HYPOTHESES = [
    "Someone is making music.",
    "Paris is in Germany.",
    "The meeting starts in the morning.",
    "Dogs bark.",
    "Water is hot when it boils.",
]


# ---------------------------------------------------------------- label_order_from_config


@pytest.mark.parametrize(
    ("id2label", "expected"),
    [
        ({0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"}, (0, 1, 2)),
        ({0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}, (2, 1, 0)),  # roberta-large-mnli
        ({0: "contradiction", 1: "entailment", 2: "neutral"}, (1, 2, 0)),
        ({0: "entailment", 1: "not_entailment"}, None),  # no contradiction: error below
        ({0: "Entailment", 1: "Contradiction"}, (0, None, 1)),
        ({"0": "entailment", "1": "neutral", "2": "contradiction"}, (0, 1, 2)),
        ({"2": "Entails", "0": "Contradicts", "1": "Neutral"}, (2, 1, 0)),
    ],
)
def test_label_order_from_config(id2label, expected):
    if expected is None:
        with pytest.raises(ValueError, match="contradiction"):
            label_order_from_config(id2label)
    else:
        assert label_order_from_config(id2label) == expected


def test_label_order_rejects_non_nli_labels_and_names_them():
    with pytest.raises(ValueError, match="NLI model") as info:
        label_order_from_config({0: "LABEL_0", 1: "LABEL_1"})
    assert "LABEL_0" in str(info.value) and "LABEL_1" in str(info.value)


def test_label_order_rejects_duplicates_and_bad_keys():
    with pytest.raises(ValueError, match="twice"):
        label_order_from_config({0: "entailment", 1: "ENTAILMENT", 2: "contradiction"})
    with pytest.raises(ValueError, match="integer"):
        label_order_from_config({"a": "entailment", "b": "contradiction"})


def test_canonical_constants_and_question_conditioning():
    assert (ENTAILMENT, NEUTRAL_COL, CONTRADICTION) == (0, 1, 2)
    assert condition_on_question("Capital of France?", "Paris") == "Capital of France? Paris"
    with pytest.raises(TypeError):
        condition_on_question("q", None)  # type: ignore[arg-type]


# ---------------------------------------------------------------- HFNLIModel on a tiny model

MNLI_SHUFFLED = ("CONTRADICTION", "ENTAILMENT", "NEUTRAL")
CANONICAL = ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")


@pytest.fixture(scope="module")
def tiny_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny-nli")
    return {
        "a": build_tiny_nli_model(root / "a", MNLI_SHUFFLED, seed=0),
        "b": build_tiny_nli_model(root / "b", CANONICAL, seed=0),
        "two": build_tiny_nli_model(root / "two", ("contradiction", "entailment"), seed=0),
    }


@pytest.fixture(scope="module")
def tiny(tiny_dirs):
    return HFNLIModel(tiny_dirs["a"], device="cpu")


def test_hf_model_shape_and_rows(tiny, tiny_dirs):
    assert isinstance(tiny, NLIModel)
    assert tiny.name == str(tiny_dirs["a"])
    assert tiny.device == "cpu"
    probs = tiny.predict_proba(PREMISES, HYPOTHESES)
    assert probs.shape == (5, 3) and probs.dtype == np.float64
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    assert (probs > 0).all()
    # The random tiny model is not degenerate: columns differ, so permutations are visible.
    assert np.abs(probs[:, 0] - probs[:, 1]).max() > 0.05


def test_label_order_is_read_from_config(tiny, tiny_dirs):
    """Same weights, different id2label: the canonical columns are permuted accordingly.

    A's raw outputs are (C, E, N), B's are (E, N, C). With identical raw softmax s:
    A canonical = (s1, s2, s0), B canonical = (s0, s1, s2), so A == B[:, [1, 2, 0]].
    """
    torch = pytest.importorskip("torch")
    b = HFNLIModel(tiny_dirs["b"], device="cpu")
    assert tiny.label_order == (1, 2, 0)
    assert b.label_order == (0, 1, 2)
    pa = tiny.predict_proba(PREMISES, HYPOTHESES)
    pb = b.predict_proba(PREMISES, HYPOTHESES)
    np.testing.assert_allclose(pa, pb[:, [1, 2, 0]], atol=1e-12)
    assert not np.allclose(pa, pb, atol=1e-3)
    # And against the raw model output directly.
    enc = tiny.tokenizer(PREMISES, HYPOTHESES, padding=True, return_tensors="pt")
    with torch.inference_mode():
        raw = torch.softmax(tiny.model(**enc).logits.double(), dim=-1).numpy()
    np.testing.assert_allclose(pa[:, ENTAILMENT], raw[:, 1], atol=1e-6)
    np.testing.assert_allclose(pa[:, NEUTRAL_COL], raw[:, 2], atol=1e-6)
    np.testing.assert_allclose(pa[:, CONTRADICTION], raw[:, 0], atol=1e-6)


def test_two_class_model_has_zero_neutral(tiny_dirs):
    two = HFNLIModel(tiny_dirs["two"], device="cpu")
    assert two.label_order == (1, None, 0)
    probs = two.predict_proba(PREMISES, HYPOTHESES)
    assert (probs[:, NEUTRAL_COL] == 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)


def test_batching_counts_and_matches_single_batch(tiny_dirs, tiny):
    small = HFNLIModel(tiny_dirs["a"], device="cpu", batch_size=2)
    probs = small.predict_proba(PREMISES, HYPOTHESES)
    assert small.forward_passes == 3
    assert small.pairs_run == 5
    before = tiny.forward_passes
    big = tiny.predict_proba(PREMISES, HYPOTHESES)
    assert tiny.forward_passes == before + 1
    np.testing.assert_allclose(probs, big, atol=1e-6)


# Pairs the MiniLM (uncased WordPiece) tokenizer maps to the same ids: trailing whitespace,
# case, and a difference past max_length. The last pair differs from all others.
SAME_INPUT_PAIRS = [
    ("The answer is 145.", "145"),
    ("The answer is 145.", "145 \n"),
    ("THE ANSWER IS 145.", "  145"),
    ("Paris is the capital.", "It is Paris."),
    ("paris is the capital.", "It is Paris.  "),
    ("Rome.", "Madrid."),
]


def test_pairs_the_model_cannot_tell_apart_run_once_and_score_bit_identically(tiny_dirs):
    # Exact: a pair whose token ids equal another's gets that row's output, and with one pair
    # per pass (no padding, no batch effects) every output is bit-identical to running all six
    on = HFNLIModel(tiny_dirs["a"], device="cpu", batch_size=1)
    off = HFNLIModel(tiny_dirs["a"], device="cpu", batch_size=1, dedupe_inputs=False)
    premises, hypotheses = (list(x) for x in zip(*SAME_INPUT_PAIRS, strict=True))
    enc = on.tokenizer(premises, hypotheses)
    assert len({tuple(ids) for ids in enc["input_ids"]}) == 3  # what the model sees
    p_on = on.predict_proba(premises, hypotheses)
    p_off = off.predict_proba(premises, hypotheses)
    assert np.array_equal(p_on, p_off)  # bit for bit
    assert (on.pairs_asked, on.pairs_run, on.forward_passes) == (6, 3, 3)
    assert (off.pairs_asked, off.pairs_run, off.forward_passes) == (6, 6, 6)
    assert np.array_equal(p_on[0], p_on[1]) and np.array_equal(p_on[0], p_on[2])
    assert np.array_equal(p_on[3], p_on[4]) and not np.allclose(p_on[0], p_on[5])


def test_texts_that_differ_only_past_max_length_are_one_input(tiny_dirs):
    short = HFNLIModel(tiny_dirs["a"], device="cpu", max_length=16)
    base = " ".join(["word"] * 40)
    probs = short.predict_proba([base + " one", base + " two"], ["A claim.", "A claim."])
    assert short.pairs_run == 1 and np.array_equal(probs[0], probs[1])


def test_batches_are_bucketed_by_token_length(tiny_dirs):
    # ten pairs of lengths spread out, batch size 4: sorted longest first, cut into the
    # fewest passes (3) that run the fewest tokens, each padded to its own longest row
    model = HFNLIModel(tiny_dirs["a"], device="cpu", batch_size=4)
    shapes = []
    model.model.register_forward_pre_hook(
        lambda _m, _args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)),
        with_kwargs=True,
    )
    premises = [" ".join(["word"] * k) for k in (1, 9, 2, 8, 3, 7, 4, 6, 5, 10)]
    hypotheses = ["A claim."] * 10
    probs = model.predict_proba(premises, hypotheses)
    given = [len(x) for x in model.tokenizer(premises, hypotheses)["input_ids"]]
    lengths = sorted(given, reverse=True)
    assert lengths == list(range(lengths[0], lengths[0] - 10, -1))  # ten consecutive lengths
    # by hand, l = the longest: chunks of 4, 4, 2 run 4l + 4(l-4) + 2(l-8) = 10l - 32 tokens;
    # 4, 3, 3 (or 3, 4, 3 or 3, 3, 4) run 4l + 3(l-4) + 3(l-7) = 10l - 33, the fewest
    assert len(shapes) == 3 and all(rows <= 4 for rows, _ in shapes)
    assert sum(rows * width for rows, width in shapes) == 10 * lengths[0] - 33
    starts = np.cumsum([0] + [rows for rows, _ in shapes[:-1]])
    assert [width for _, width in shapes] == [lengths[i] for i in starts]
    padded = sum(rows * width for rows, width in shapes)
    in_given_order = sum(len(given[i : i + 4]) * max(given[i : i + 4]) for i in (0, 4, 8))
    assert padded < in_given_order
    one_by_one = HFNLIModel(tiny_dirs["a"], device="cpu", batch_size=1)
    # padding changes float rounding only (this tiny model's wide init amplifies it)
    np.testing.assert_allclose(probs, one_by_one.predict_proba(premises, hypotheses), atol=1e-4)


def _shapes_of(model) -> list[tuple[int, int]]:
    shapes: list[tuple[int, int]] = []
    model.model.register_forward_pre_hook(
        lambda _m, _args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)),
        with_kwargs=True,
    )
    return shapes


def test_with_no_padding_allowed_each_batch_is_one_length(tiny_dirs):
    # two pairs of each length: a batch of each length, nothing padded
    words = zip(["word", "house"] * 3, (1, 3, 2, 1, 3, 2), strict=True)
    premises = [" ".join([w] * k) for w, k in words]
    assert HFNLIModel(tiny_dirs["a"], device="cpu").max_padding is None  # full batches
    model = HFNLIModel(tiny_dirs["a"], device="cpu", batch_size=4, max_padding=0)
    shapes = _shapes_of(model)
    probs = model.predict_proba(premises, ["A claim."] * 6)
    lengths = sorted({len(x) for x in model.tokenizer(premises, ["A claim."] * 6)["input_ids"]})
    assert shapes == [(2, n) for n in reversed(lengths)]
    full = HFNLIModel(tiny_dirs["a"], device="cpu", batch_size=4)
    full_shapes = _shapes_of(full)
    np.testing.assert_allclose(probs, full.predict_proba(premises, ["A claim."] * 6), atol=1e-4)
    assert full_shapes == [(4, lengths[-1]), (2, lengths[0])]  # 4 + 2 rows, the first padded


def test_length_batches_by_hand():
    from lmuq.statistics.nli import length_batches

    def cut(*args, **kw):
        return [list(b) for b in length_batches(*args, **kw)]

    assert cut([], 4) == []
    assert cut([7, 7, 7, 7, 7], 2) == [[0, 1], [2, 3], [4]]
    # fewest passes (2), then fewest tokens: 3 * 9 + 2 * 5 = 37, not 4 * 9 + 5 = 41
    assert cut([9, 9, 8, 5, 5], 4) == [[0, 1, 2], [3, 4]]
    assert cut([9, 9, 9, 9, 1, 1, 1, 1], 4) == [[0, 1, 2, 3], [4, 5, 6, 7]]  # full: as is
    assert cut([9, 8, 8, 5], 8, max_padding=0) == [[0], [1, 2], [3]]
    # 10 + 9 + 9 = 28 real tokens, 3 * 10 = 30 run: 7.1% padding
    assert cut([10, 9, 9], 8, max_padding=0.08) == [[0, 1, 2]]
    assert cut([10, 9, 9], 8, max_padding=0.07) == [[0, 1], [2]]
    assert cut([10, 9, 9], 2, max_padding=1.0) == [[0, 1], [2]]  # batch_size still caps
    with pytest.raises(ValueError, match="longest first"):
        length_batches([1, 2], 4)


def test_length_batches_run_the_fewest_tokens_of_any_cut_with_the_fewest_passes():
    import itertools
    import math
    import random

    from lmuq.statistics.nli import length_batches

    def tokens(lengths, bounds):
        return sum((b - a) * lengths[a] for a, b in itertools.pairwise(bounds))

    rng = random.Random(1)
    for _ in range(400):
        n, size = rng.randint(1, 10), rng.randint(1, 4)
        lengths = sorted((rng.randint(1, 20) for _ in range(n)), reverse=True)
        k = math.ceil(n / size)
        cuts = length_batches(lengths, size)
        assert [i for c in cuts for i in c] == list(range(n))  # contiguous, all, in order
        assert len(cuts) == k and all(1 <= len(c) <= size for c in cuts)
        every = [
            (0, *inner, n)
            for inner in itertools.combinations(range(1, n), k - 1)
            if all(0 < b - a <= size for a, b in itertools.pairwise((0, *inner, n)))
        ]
        best = min(tokens(lengths, b) for b in every)
        assert tokens(lengths, [c.start for c in cuts] + [n]) == best


def test_max_padding_is_checked(tiny_dirs):
    with pytest.raises(ValueError, match="max_padding must be >= 0"):
        HFNLIModel(tiny_dirs["a"], device="cpu", max_padding=-0.1)
    with pytest.raises(TypeError, match="max_padding must be None or a number"):
        HFNLIModel(tiny_dirs["a"], device="cpu", max_padding="none")


def test_long_premise_is_truncated(tiny_dirs):
    short = HFNLIModel(tiny_dirs["a"], device="cpu", max_length=64)
    premise = " ".join(["word"] * 2000)
    probs = short.predict_proba([premise, "short"], ["A hypothesis.", premise])
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    enc = short.tokenizer([premise], ["A hypothesis."], truncation="longest_first", max_length=64)
    assert len(enc["input_ids"][0]) == 64


def test_input_validation(tiny):
    with pytest.raises(ValueError, match="same length"):
        tiny.predict_proba(["a", "b"], ["a"])
    with pytest.raises(TypeError, match=r"hypotheses\[1\]"):
        tiny.predict_proba(["a", "b"], ["a", 3])
    with pytest.raises(TypeError, match="single string"):
        tiny.predict_proba("a premise", "a hypothesis")


def test_empty_input_does_not_run_the_model(tiny):
    before = (tiny.forward_passes, tiny.pairs_run)
    out = tiny.predict_proba([], [])
    assert out.shape == (0, 3)
    assert (tiny.forward_passes, tiny.pairs_run) == before


def test_missing_path_and_offline_hub_id(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="no-such-model"):
        HFNLIModel(missing)
    with pytest.raises(FileNotFoundError):
        HFNLIModel("./definitely/not/here")
    with pytest.raises(OSError, match="network"):
        HFNLIModel("lmuq-tests/no-such-nli-model")


def test_bad_constructor_arguments(tiny_dirs):
    with pytest.raises(ValueError, match="batch_size"):
        HFNLIModel(tiny_dirs["a"], batch_size=0)
    with pytest.raises(ValueError, match="max_length"):
        HFNLIModel(tiny_dirs["a"], max_length=0)


# ---------------------------------------------------------------- CachedNLI


def test_cache_over_rule_nli_dedups_and_counts():
    rule = RuleNLI()
    cache = CachedNLI(rule)
    assert isinstance(cache, NLIModel)
    assert cache.name == "rule-nli"
    p = ["Paris", "Lyon", "Paris", "Paris"]
    h = ["Paris.", "Paris", "Paris.", "Rome"]
    out = cache.predict_proba(p, h)
    # Results come back in request order, duplicates included.
    np.testing.assert_allclose(out, [RuleNLI.rule(a, b) for a, b in zip(p, h, strict=True)])
    assert rule.calls == 1 and rule.pairs_run == 3
    assert rule.seen == [("Paris", "Paris."), ("Lyon", "Paris"), ("Paris", "Rome")]
    assert (cache.misses, cache.hits, len(cache)) == (3, 1, 3)
    np.testing.assert_allclose(out[0], IDENTICAL)
    np.testing.assert_allclose(out[2], IDENTICAL)

    again = cache.predict_proba(h, p)  # swapped pairs are different pairs
    assert rule.calls == 2 and rule.pairs_run == 6
    np.testing.assert_allclose(again, [RuleNLI.rule(a, b) for a, b in zip(h, p, strict=True)])
    assert (cache.misses, cache.hits) == (6, 2)

    rule.calls = rule.pairs_run = 0
    out2 = cache.predict_proba(p[::-1], h[::-1])  # all cached, new order
    assert rule.calls == 0 and rule.pairs_run == 0
    np.testing.assert_array_equal(out2, out[::-1])
    assert (cache.misses, cache.hits, len(cache)) == (6, 6, 6)

    assert cache.predict_proba([], []).shape == (0, 3)
    assert rule.calls == 0

    cache.clear()
    assert len(cache) == 0
    cache.predict_proba(p[:1], h[:1])
    assert rule.calls == 1 and rule.pairs_run == 1
    assert (cache.misses, cache.hits) == (7, 6)


def test_cache_results_are_not_shared_mutable_state():
    cache = CachedNLI(RuleNLI())
    out = cache.predict_proba(["a"], ["a"])
    out[0, 0] = -1.0
    np.testing.assert_allclose(cache.predict_proba(["a"], ["a"])[0], IDENTICAL)


def test_cache_batch_size_chunks_missing_pairs():
    rule = RuleNLI()
    cache = CachedNLI(rule, batch_size=2)
    cache.predict_proba([f"p{i}" for i in range(5)], ["h"] * 5)
    assert rule.calls == 3 and rule.pairs_run == 5


def test_fill_round_leaves_the_partial_batch_for_the_next_round():
    rule = RuleNLI()
    cache = CachedNLI(rule, batch_size=4, whole_batches=True)
    first = [("p" * k, "h") for k in (3, 1, 7, 10, 2, 5, 9, 4, 8, 6)]
    cache.fill_round(first + first[:2])  # 10 distinct pairs: two whole batches of 4
    assert rule.seen == [("p" * k, "h") for k in (10, 9, 8, 7, 6, 5, 4, 3)]  # longest first
    assert rule.calls == 2
    assert cache.get("p", "h") is None and cache.get("pp", "h") is None  # left for later
    # next round: the two left go first, then the longest new ones; the shortest new waits
    new = [("q" * k, "h") for k in (20, 22, 21)]
    cache.fill_round([*new, ("pp", "h"), ("p", "h")])
    assert rule.seen[8:] == [("pp", "h"), ("p", "h"), ("q" * 22, "h"), ("q" * 21, "h")]
    assert cache.get("q" * 20, "h") is None
    cache.fill_round([("q" * 20, "h"), ("p" * 10, "h")])  # one batch or less: all of it
    assert rule.seen[12:] == [("q" * 20, "h")]
    calls = rule.calls
    cache.fill_round([("p", "h")])  # nothing missing: no call
    assert rule.calls == calls
    assert rule.pairs_run == 13 == cache.misses  # each distinct pair once


@pytest.mark.parametrize(
    ("device", "whole_batches", "run_now"),
    [
        ("cpu", None, 5),  # the default on a CPU: the whole round at once
        ("cuda:0", None, 4),  # 5 pairs in whole batches of 2: the fifth waits
        ("cuda", False, 5),
        ("cpu", True, 4),
    ],
)
def test_whole_batches_by_default_on_an_accelerator_only(device, whole_batches, run_now):
    rule = RuleNLI()
    rule.device, rule.batch_size = device, 2
    cache = CachedNLI(rule, whole_batches=whole_batches)
    cache.fill_round([(f"p{i}", "h") for i in range(5)])
    assert rule.calls == 1 and rule.pairs_run == run_now


def test_fill_round_without_a_batch_size_is_fill():
    rule = RuleNLI()  # no batch_size: nothing to leave
    cache = CachedNLI(rule, whole_batches=True)
    cache.fill_round([(f"p{i}", "h") for i in range(5)])
    assert rule.calls == 1 and rule.pairs_run == 5
    with pytest.raises(TypeError, match="whole_batches must be None, True or False"):
        CachedNLI(rule, whole_batches="yes")


def test_cache_validates_model_and_output():
    with pytest.raises(TypeError, match="NLIModel"):
        CachedNLI(object())  # type: ignore[arg-type]

    class Broken(RuleNLI):
        def predict_proba(self, premises, hypotheses):
            return np.zeros((len(premises), 2))

    with pytest.raises(ValueError, match="shape"):
        CachedNLI(Broken()).predict_proba(["a"], ["b"])
    with pytest.raises(ValueError, match="same length"):
        CachedNLI(RuleNLI()).predict_proba(["a"], [])


def test_cache_over_tiny_hf_model(tiny_dirs, tiny):
    model = HFNLIModel(tiny_dirs["a"], device="cpu", batch_size=2)
    cache = CachedNLI(model)
    assert cache.name == model.name
    p = [*PREMISES, PREMISES[0], PREMISES[1]]
    h = [*HYPOTHESES, HYPOTHESES[0], HYPOTHESES[1]]
    out = cache.predict_proba(p, h)
    assert model.pairs_run == 5 and model.forward_passes == 3  # one call, model batches
    assert (cache.misses, cache.hits) == (5, 2)
    reference = tiny.predict_proba(p, h)
    np.testing.assert_allclose(out, reference, atol=1e-6)
    out2 = cache.predict_proba(p[::-1], h[::-1])
    assert model.pairs_run == 5 and model.forward_passes == 3
    np.testing.assert_array_equal(out2, out[::-1])
    assert (cache.misses, cache.hits) == (5, 9)


# ---------------------------------------------------------------- RuleNLI / TableNLI


@pytest.mark.parametrize(
    ("premise", "hypothesis", "expected"),
    [
        ("Paris.", "paris", IDENTICAL),
        ("The answer is  PARIS!", "the answer is paris", IDENTICAL),
        ("It was founded in 1998.", "It was founded in 1999.", NUMBER_CONTRADICTION),
        ("Between 3 and 4", "Between 4 and 3", ENTAILED),  # same multiset of numbers
        ("The capital is Paris.", "The capital is Lyon.", NAME_CONTRADICTION),
        ("Paris is the capital.", "Lyon is the capital.", NEUTRAL),  # first word ignored
        ("The capital of France is Paris.", "The capital is Paris", ENTAILED),
        ("The capital is Paris.", "The capital is Paris, in France", NEUTRAL),
        ("Cats sleep.", "Dogs bark.", NEUTRAL),
    ],
)
def test_rule_nli_rules(premise, hypothesis, expected):
    rule = RuleNLI()
    out = rule.predict_proba([premise], [hypothesis])
    np.testing.assert_allclose(out[0], expected)
    assert rule.calls == 1 and rule.pairs_run == 1 and rule.seen == [(premise, hypothesis)]
    assert isinstance(rule, NLIModel) and rule.name == "rule-nli"


def test_rule_nli_is_asymmetric_and_rows_sum_to_one():
    rule = RuleNLI()
    out = rule.predict_proba(
        ["The capital of France is Paris", "The capital is Paris"],
        ["The capital is Paris", "The capital of France is Paris"],
    )
    np.testing.assert_allclose(out, [ENTAILED, NEUTRAL])
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert rule.predict_proba([], []).shape == (0, 3)


def test_table_nli():
    table = TableNLI({("a", "b"): (0.7, 0.2, 0.1)}, default=(0.0, 1.0, 0.0))
    out = table.predict_proba(["a", "b"], ["b", "a"])
    np.testing.assert_allclose(out, [[0.7, 0.2, 0.1], [0.0, 1.0, 0.0]])
    assert table.calls == 1 and table.pairs_run == 2 and table.seen == [("a", "b"), ("b", "a")]
    strict = TableNLI({("a", "b"): (1, 0, 0)}, default=None)
    with pytest.raises(KeyError):
        strict.predict_proba(["b"], ["a"])
    with pytest.raises(ValueError, match="sum"):
        TableNLI({("a", "b"): (0.5, 0.5, 0.5)})


def test_int8_quantized_path_is_close_to_float_and_named_apart(tmp_path):
    path = build_tiny_nli_model(
        tmp_path / "q", label_names=("CONTRADICTION", "ENTAILMENT", "NEUTRAL")
    )
    fp = HFNLIModel(path, device="cpu")
    q8 = HFNLIModel(path, device="cpu", quantize="int8")
    premises = ["The cat sat.", "Paris is in France.", "It rains.", "Two plus two is four."]
    hyps = ["A cat sat.", "Paris is in Spain.", "The sun shines.", "4"]
    a, b = fp.predict_proba(premises, hyps), q8.predict_proba(premises, hyps)
    assert q8.name == fp.name + "#int8"  # never shares cache entries with the float model
    np.testing.assert_allclose(b.sum(axis=1), 1.0, atol=1e-9)
    assert not np.array_equal(a, b)  # really a different (quantised) computation
    import torch

    kinds = {type(m) for m in q8.model.modules()}
    assert torch.ao.nn.quantized.dynamic.Linear in kinds and torch.nn.Linear not in kinds
    # How close int8 stays to float on a realistic model is measured by bench/nli_precision.py
    with pytest.raises(ValueError, match="quantize"):
        HFNLIModel(path, quantize="fp4")


HALF_PREMISES = ["The cat sat.", "Paris is in France.", "It rains.", "Two plus two is four."]
HALF_HYPOTHESES = ["A cat sat.", "Paris is in Spain.", "The sun shines.", "4"]


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_loads_in_that_dtype_and_is_named_apart(tiny_dirs, tiny, dtype):
    import torch

    half = HFNLIModel(tiny_dirs["a"], device="cpu", dtype=dtype)
    assert {p.dtype for p in half.model.parameters()} == {getattr(torch, dtype)}
    assert half.name == tiny.name + "#" + dtype  # never shares cache entries with float32
    a, b = (
        tiny.predict_proba(HALF_PREMISES, HALF_HYPOTHESES),
        half.predict_proba(HALF_PREMISES, HALF_HYPOTHESES),
    )
    assert b.dtype == np.float64
    np.testing.assert_allclose(b.sum(axis=1), 1.0, atol=1e-9)
    assert not np.array_equal(a, b)  # really a half-precision computation
    # a torch dtype works as well as its name; float32 is the exact model, named as such
    assert HFNLIModel(tiny_dirs["a"], device="cpu", dtype=getattr(torch, dtype)).name == half.name
    assert HFNLIModel(tiny_dirs["a"], device="cpu", dtype="float32").name == tiny.name


def test_attention_implementation_is_reported_and_both_agree(tiny_dirs, tiny):
    # BERT supports SDPA, which transformers picks by default
    assert tiny.attention == "sdpa"
    eager = HFNLIModel(tiny_dirs["a"], device="cpu", attn_implementation="eager")
    assert eager.attention == "eager" and eager.name == tiny.name  # same function
    np.testing.assert_allclose(
        eager.predict_proba(HALF_PREMISES, HALF_HYPOTHESES),
        tiny.predict_proba(HALF_PREMISES, HALF_HYPOTHESES),
        # float32 kernels that sum in different orders: 1.3e-6 apart was seen in CI
        atol=1e-5,
    )


def test_bad_precision_and_attention_arguments_name_the_argument(tiny_dirs):
    with pytest.raises(ValueError, match="dtype must be None, a torch dtype or one of"):
        HFNLIModel(tiny_dirs["a"], dtype="fp8")
    with pytest.raises(ValueError, match="attn_implementation must be"):
        HFNLIModel(tiny_dirs["a"], attn_implementation="flash")
    with pytest.raises(ValueError, match="quantize='int8' quantises a float32 model"):
        HFNLIModel(tiny_dirs["a"], dtype="bfloat16", quantize="int8")
