"""The white-box methods that also read a model: semantic density, CoCoA, SAR, CCP.

Every expected value is worked out by hand from the papers' definitions (the arithmetic is
in the comments), on deterministic fakes: NLI probabilities from a table, and embeddings
whose pairwise cosines are chosen (a vector is built from the cosine it must have with a
unit axis).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq.constants import CONTRADICTION, ENTAILMENT, NEUTRAL
from lmuq.scoring import ScoringContext, score
from lmuq.scoring.engine import required_statistics
from lmuq.scoring.functional import ccp as CCPF
from lmuq.scoring.functional import cocoa as CoF
from lmuq.scoring.functional import sar as SarF
from lmuq.scoring.functional import semantic_density as SDF
from lmuq.scoring.functional import similarity as SimF
from lmuq.statistics.nli_cache import CachedNLI
from lmuq.types import Generation, SampleSet
from nli_fakes import TableNLI

LOG = math.log
ENT, NEU, CON = (0.8, 0.15, 0.05), (0.1, 0.8, 0.1), (0.05, 0.05, 0.9)


def approx(x: float):
    return pytest.approx(x, rel=1e-12, abs=1e-15)


class FixedEmbedder:
    """Embeddings looked up in a table (an unknown text is a KeyError); records each call."""

    name = "fixed"

    def __init__(self, table: dict[str, list[float]]) -> None:
        dim = max(len(v) for v in table.values())
        self.table = {t: np.pad(np.asarray(v, float), (0, dim - len(v))) for t, v in table.items()}
        self.calls: list[list[str]] = []

    def encode(self, texts):
        texts = list(texts)
        self.calls.append(texts)
        return np.array([self.table[t] for t in texts]).reshape(len(texts), -1)


def axis(i: int, dim: int = 6) -> list[float]:
    v = [0.0] * dim
    v[i] = 1.0
    return v


def at_cosine(c: float, i: int, j: int, dim: int = 6) -> list[float]:
    """A unit vector with cosine c to axis i, in the plane of axes i and j."""
    v = [0.0] * dim
    v[i], v[j] = c, math.sqrt(1.0 - c * c)
    return v


def nli_ctx(table, **kw) -> ScoringContext:
    # default=None: a pair the scorer was not expected to ask for is a KeyError
    return ScoringContext(nli=CachedNLI(TableNLI(table, default=None)), **kw)


# ======================================================================= shared pieces


def test_similarity_functions_by_hand():
    # cos((1, 0), (3, 4)) = 3/5; cos((1, 0), (−1, 1)) = −1/√2 → clipped to 0
    got = SimF.clipped_cosine([[1, 0], [1, 0], [0, 0]], [[3, 4], [-1, 1], [1, 0]])
    assert got == pytest.approx([0.6, 0.0, 0.0])  # a zero vector has no direction: 0
    assert SimF.nli_similarity([ENT], [NEU]) == pytest.approx([(0.8 + 0.1) / 2])


def test_context_validates_the_new_options():
    with pytest.raises(ValueError, match="similarity"):
        ScoringContext(similarity="cross-encoder")
    with pytest.raises(TypeError, match="decode_token"):
        ScoringContext(decode_token="tokenizer")


# ===================================================================== semantic density


def test_semantic_kernel_by_hand():
    # K = 1 − (p_c + p_n / 2)
    # ENT (0.8, 0.15, 0.05): 1 − (0.05 + 0.075) = 0.875
    # NEU (0.1, 0.8, 0.1):   1 − (0.1 + 0.4)    = 0.5
    # CON (0.05, 0.05, 0.9): 1 − (0.9 + 0.025)  = 0.075
    assert SDF.semantic_kernel([ENT, NEU, CON]) == pytest.approx([0.875, 0.5, 0.075])
    # pure entailment 1, pure neutral ½ (distance √2/2, squared ½), pure contradiction 0
    assert SDF.semantic_kernel([(1, 0, 0), (0, 1, 0), (0, 0, 1)]) == pytest.approx([1, 0.5, 0])


def test_semantic_density_function_by_hand():
    # weights p̃ = 0.5, 0.25, 0.25 (sum 1): 0.5·0.875 + 0.25·0.5 + 0.25·0.075
    #   = 0.4375 + 0.125 + 0.01875 = 0.58125
    ll = [LOG(0.5), LOG(0.25), LOG(0.25)]
    assert SDF.semantic_density([ENT, NEU, CON], ll) == approx(0.58125)
    # the weights are a softmax: −900 nats each (linear space would underflow) changes nothing
    assert SDF.semantic_density([ENT, NEU, CON], np.array(ll) - 900) == approx(0.58125)
    with pytest.raises(ValueError, match="log_likelihoods"):
        SDF.semantic_density([ENT], [LOG(0.5), LOG(0.5)])
    with pytest.raises(ValueError, match="sum to 1"):
        SDF.semantic_density([(0.5, 0.5, 0.5)], [0.0])
    with pytest.raises(ValueError, match="probability 0"):
        SDF.semantic_density([ENT], [-math.inf])


def test_semantic_density_scorer_uses_unique_samples_and_forward_nli():
    answer = Generation("A", logprobs=[LOG(0.9)])
    samples = [
        Generation("B", logprobs=[LOG(0.5), LOG(0.5)]),  # ℓ/L = log 0.5
        Generation("C", logprobs=[LOG(0.25)]),  # ℓ/L = log 0.25
        Generation("B", logprobs=[LOG(0.5), LOG(0.5)]),  # a duplicate: not a new reference
        Generation("D", logprobs=[LOG(0.0625), 0.0]),  # ℓ/L = log(0.0625)/2 = log 0.25
    ]
    ss = SampleSet("Q?", answer, samples)
    # only the forward pairs (premise = the answer) exist in the table
    ctx = nli_ctx({("A", "B"): ENT, ("A", "C"): NEU, ("A", "D"): CON})
    res = score([ss], ["semantic_density"], ctx)
    # as in the function test: 0.58125. Counting the duplicate B (as UQLM does) would give
    # (2·0.5·0.875 + 0.25·0.5 + 0.25·0.075) / 1.5 = 1.01875 / 1.5 ≈ 0.679.
    assert res.columns["semantic_density"] == [approx(0.58125)]
    assert ctx.nli.model.pairs_run == 3


def test_semantic_density_of_an_answer_repeated_by_every_sample_is_one():
    # identical texts entail each other without the NLI model: K = 1 for every reference
    ss = SampleSet("Q?", Generation("A"), [Generation("A", logprobs=[LOG(0.3)])])
    res = score([ss], ["semantic_density"], nli_ctx({}))
    assert res.columns["semantic_density"] == [1.0]


# ================================================================================ CoCoA

# answer tokens: p = 0.5, 0.25 → ℓ = log 0.125 = −3 log 2, L = 2
# top-2 rows (0.5, 0.5) and (0.25, 0.25): each renormalises to uniform, H_t = log 2
COCOA_ANSWER = Generation(
    "A",
    logprobs=[LOG(0.5), LOG(0.25)],
    top_logprobs=[[LOG(0.5), LOG(0.5)], [LOG(0.25), LOG(0.25)]],
)
# cos(A, B) = 1, cos(A, C) = 0.6, cos(A, D) = −1
COCOA_EMBEDDINGS = {"A": axis(0), "B": [2.0], "C": at_cosine(0.6, 0, 1), "D": [-1.0]}
COCOA_SET = SampleSet("Q?", COCOA_ANSWER, [Generation(t) for t in "BCD"])
# embedding similarity max(0, cos): 1, 0.6, 0 → Ū = (0 + 0.4 + 1) / 3 = 1.4 / 3
U_BAR = 1.4 / 3


@pytest.mark.parametrize(
    ("name", "confidence", "raw"),
    [
        # U = 3 log 2 · 1.4/3 = 1.4 log 2; exp(−U) = 2^−1.4
        ("cocoa_msp", 2**-1.4, 1.4 * LOG(2)),
        # U = (3 log 2 / 2) · 1.4/3 = 0.7 log 2; exp(−U) = 2^−0.7
        ("cocoa_ppl", 2**-0.7, 0.7 * LOG(2)),
        # U = log 2 · 1.4/3; 1 − U / log 2 = 1 − 1.4/3 = 1.6/3
        ("cocoa_entropy", 1.6 / 3, LOG(2) * U_BAR),
    ],
)
def test_cocoa_forms_by_hand(name, confidence, raw):
    ctx = ScoringContext(embedder=FixedEmbedder(COCOA_EMBEDDINGS))
    res = score([COCOA_SET], [name], ctx)
    assert res.columns[name] == [approx(confidence)]
    assert res.columns[f"{name}_uncertainty"] == [approx(raw)]


def test_consistency_and_confidence_is_uqlms_product_of_confidences():
    # LNTP = exp(ℓ/L) = 0.125^(1/2); NCS = mean((1+1)/2, (0.6+1)/2, (−1+1)/2)
    #      = (1 + 0.8 + 0) / 3 = 0.6
    ctx = ScoringContext(embedder=FixedEmbedder(COCOA_EMBEDDINGS))
    res = score([COCOA_SET], ["consistency_and_confidence"], ctx)
    assert res.columns["consistency_and_confidence"] == [approx(0.125**0.5 * 0.6)]
    assert CoF.confidence_times_consistency(LOG(0.125), 2, [1.0, 0.6, -1.0]) == approx(
        0.125**0.5 * 0.6
    )


def test_cocoa_with_nli_similarity_by_hand():
    # s = (p_e(a→b) + p_e(b→a)) / 2: (A, B): (0.8 + 0.6)/2 = 0.7; (A, C): (0.1 + 0.1)/2 = 0.1
    # Ū = (0.3 + 0.9) / 2 = 0.6; cocoa_msp: U = 3 log 2 · 0.6 = 1.8 log 2 → 2^−1.8
    table = {("A", "B"): ENT, ("B", "A"): (0.6, 0.3, 0.1), ("A", "C"): NEU, ("C", "A"): NEU}
    ss = SampleSet("Q?", COCOA_ANSWER, [Generation("B"), Generation("C")])
    res = score([ss], ["cocoa_msp"], nli_ctx(table, similarity="nli"))
    assert res.columns["cocoa_msp"] == [approx(2**-1.8)]
    assert res.columns["cocoa_msp_uncertainty"] == [approx(1.8 * LOG(2))]


def test_cocoa_function_edges():
    # every sample means the answer: no inconsistency, so U = 0 whatever u (even u = ∞)
    assert CoF.cocoa_uncertainty(math.inf, [1.0, 1.0]) == 0.0
    assert CoF.cocoa_uncertainty(2.0, [0.5]) == 1.0
    with pytest.raises(ValueError, match="information"):
        CoF.cocoa_uncertainty(-1.0, [0.5])
    with pytest.raises(ValueError, match="similarities"):
        CoF.cocoa_uncertainty(1.0, [1.5])


# ============================================================================ TokenSAR

# answer tokens "The", " capital", " Paris" with p = 0.5, 0.8, 0.25
SAR_ANSWER = Generation(
    "The capital Paris",
    logprobs=[LOG(0.5), LOG(0.8), LOG(0.25)],
    tokens=("The", " capital", " Paris"),
)
# g(s, s without token i) = 0.9, 0.8, 0.3 → relevance 1 − g = 0.1, 0.2, 0.7 (sum 1)
TOKEN_EMBEDDINGS = {
    "The capital Paris": axis(0),
    " capital Paris": at_cosine(0.9, 0, 1),
    "The Paris": at_cosine(0.8, 0, 2),
    "The capital": at_cosine(0.3, 0, 3),
}


def test_token_sar_by_hand():
    # TokenSAR = 0.1·(−log 0.5) + 0.2·(−log 0.8) + 0.7·(−log 0.25)
    # exp(−TokenSAR) = 0.5^0.1 · 0.8^0.2 · 0.25^0.7
    e = 0.1 * -LOG(0.5) + 0.2 * -LOG(0.8) + 0.7 * -LOG(0.25)
    emb = FixedEmbedder(TOKEN_EMBEDDINGS)
    res = score([SampleSet("Q?", SAR_ANSWER, [])], ["token_sar"], ScoringContext(embedder=emb))
    assert res.columns["token_sar"] == [approx(0.5**0.1 * 0.8**0.2 * 0.25**0.7)]
    assert res.columns["token_sar_nats"] == [approx(e)]
    # the engine embedded the leave-one-out texts in its one call before scoring
    assert set(emb.calls[0]) == set(TOKEN_EMBEDDINGS)


def test_token_relevance_falls_back_to_uniform_when_no_token_matters():
    # every g = 1: relevance 0 everywhere → weights 1/3, TokenSAR = mean surprisal
    assert SarF.token_relevance([1.0, 1.0, 1.0]) == pytest.approx([1 / 3] * 3)
    e = SarF.token_sar([LOG(0.5), LOG(0.8), LOG(0.25)], [1.0, 1.0, 1.0])
    assert e == approx(-(LOG(0.5) + LOG(0.8) + LOG(0.25)) / 3)


def test_token_sar_needs_token_strings():
    ss = SampleSet("Q?", Generation("x", logprobs=[LOG(0.5)]), [])
    ctx = ScoringContext(embedder=FixedEmbedder({"x": [1.0]}))
    res = score([ss], ["token_sar"], ctx, on_error="nan")
    assert "token strings" in res.columns["score_errors"][0]["token_sar"]


# ========================================================================= SentenceSAR

# p = 0.5, 0.25, 0.125; g(A, B) = 0.5, g(A, C) = 0, g(B, C) = 0.2; t = 0.001:
# q_A = 0.5   + (0.5·0.25  + 0·0.125)  / 0.001 = 0.5   + 125 = 125.5
# q_B = 0.25  + (0.5·0.5   + 0.2·0.125) / 0.001 = 0.25  + 275 = 275.25
# q_C = 0.125 + (0·0.5     + 0.2·0.25)  / 0.001 = 0.125 + 50  = 50.125
# E = −(log 125.5 + log 275.25 + log 50.125) / 3
E_SENT = -(LOG(125.5) + LOG(275.25) + LOG(50.125)) / 3


def test_sentence_sar_function_by_hand():
    g = [[1.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.0]]
    ll = [LOG(0.5), LOG(0.25), LOG(0.125)]
    assert SarF.sentence_sar(ll, g) == approx(E_SENT)
    # with t = 1 and no similarity, E = mean surprisal: (log 2 + log 4 + log 8) / 3 = 2 log 2
    assert SarF.sentence_sar(ll, np.eye(3), temperature=1.0) == approx(2 * LOG(2))
    # long sentences: −900 nats each shifts every log q by −900 (nothing underflows)
    assert SarF.sentence_sar(np.array(ll) - 900, g) == approx(E_SENT + 900)


def test_sentence_sar_scorer_by_hand():
    # cos(A, B) = 0.5; C ⟂ A; cos(B, C) = √0.75 · y = 0.2 with y = 0.2 / √0.75
    y = 0.2 / math.sqrt(0.75)
    emb = FixedEmbedder(
        {
            "A": [1.0, 0.0, 0.0],
            "B": [0.5, math.sqrt(0.75), 0.0],
            "C": [0.0, y, math.sqrt(1 - y * y)],
            "ans": [1.0, 0.0, 0.0],
        }
    )
    samples = [
        Generation(t, logprobs=[LOG(p)]) for t, p in zip("ABC", [0.5, 0.25, 0.125], strict=True)
    ]
    res = score(
        [SampleSet("Q?", Generation("ans"), samples)],
        ["sentence_sar"],
        ScoringContext(embedder=emb),
    )
    assert res.columns["sentence_sar_nats"] == [pytest.approx(E_SENT, rel=1e-9)]
    # σ(−E) = 1 / (1 + e^E)
    assert res.columns["sentence_sar"] == [pytest.approx(1 / (1 + math.exp(E_SENT)), rel=1e-9)]


# ================================================================================= SAR


def test_sar_by_hand():
    # sample 1: "Paris" (one token, p = 0.5): its weight is 1, TokenSAR = log 2, p' = 0.5
    # sample 2: "Lyon", " city" (p = 0.25, 0.5); g(s, " city") = 0.6, g(s, "Lyon") = 0.9
    #   relevance 0.4, 0.1 → weights 0.8, 0.2; TokenSAR = 0.8 log 4 + 0.2 log 2 = 1.8 log 2
    #   p' = 2^−1.8
    # g("Paris", "Lyon city") = 0.4, t = 0.001:
    #   q_1 = 0.5 + 0.4 · 2^−1.8 / 0.001 = 0.5 + 400 · 2^−1.8
    #   q_2 = 2^−1.8 + 0.4 · 0.5 / 0.001 = 2^−1.8 + 200
    #   E = −(log q_1 + log q_2) / 2
    p2 = 2**-1.8
    e = -(LOG(0.5 + 400 * p2) + LOG(p2 + 200)) / 2
    emb = FixedEmbedder(
        {
            "Lyon city": axis(0),
            " city": at_cosine(0.6, 0, 1),
            "Lyon": at_cosine(0.9, 0, 2),
            "Paris": at_cosine(0.4, 0, 3),
            "": axis(4),  # cos("Paris", "") = 0: relevance 1, weight 1 (the only token)
            "ans": axis(5),
        }
    )
    samples = [
        Generation("Paris", logprobs=[LOG(0.5)], tokens=("Paris",)),
        Generation("Lyon city", logprobs=[LOG(0.25), LOG(0.5)], tokens=("Lyon", " city")),
    ]
    res = score(
        [SampleSet("Q?", Generation("ans"), samples)], ["sar"], ScoringContext(embedder=emb)
    )
    assert res.columns["sar_nats"] == [pytest.approx(e, rel=1e-9)]
    assert res.columns["sar"] == [pytest.approx(1 / (1 + math.exp(e)), rel=1e-9)]
    assert set(emb.calls[0]) >= {"Paris", "", "Lyon city", " city", "Lyon"}


def test_sar_confidence_map():
    assert SarF.sar_confidence(0.0) == 0.5
    assert SarF.sar_confidence(math.inf) == 0.0
    assert SarF.sar_confidence(-math.inf) == 1.0


# ================================================================================= CCP


def test_token_ccp_by_hand():
    # generated p = 0.05 (not among the top-k), a contradicting alternative 0.6, an
    # entailing one 0.3: (0.05 + 0.3) / (0.05 + 0.6 + 0.3) = 0.35 / 0.95
    got = CCPF.token_ccp_log([LOG(0.05), LOG(0.6), LOG(0.3)], [-1, CONTRADICTION, ENTAILMENT])
    assert got == approx(LOG(0.35 / 0.95))
    # a neutral alternative is left out: 0.5 / 0.5 = 1
    assert CCPF.token_ccp_log([LOG(0.5), LOG(0.4)], [-1, NEUTRAL]) == 0.0
    with pytest.raises(ValueError, match="labels"):
        CCPF.token_ccp_log([LOG(0.5), LOG(0.4)], [-1, 7])


def test_the_two_nli_directions_combine_like_lm_polygraph():
    E, N, C = ENTAILMENT, NEUTRAL, CONTRADICTION
    assert [CCPF.combine_directions(f, b) for f, b in [(E, E), (N, N), (C, C)]] == [E, N, C]
    # a contradiction one way and an entailment the other cancel out
    assert CCPF.combine_directions(E, C) == CCPF.combine_directions(C, E) == N
    # otherwise entailment or contradiction wins over neutral, in either direction
    wins = {(N, E): E, (E, N): E, (N, C): C, (C, N): C}
    assert {pair: CCPF.combine_directions(*pair) for pair in wins} == wins


# answer "born 1879": token ids 10, 20 with p = 0.9, 0.5
VOCAB = {10: "born", 11: "Born", 12: "died", 20: " 1879", 21: " 1880", 22: " in"}
CCP_ANSWER = Generation(
    "born 1879",
    logprobs=[LOG(0.9), LOG(0.5)],
    token_ids=(10, 20),
    tokens=("born", " 1879"),
    top_logprobs=[[LOG(0.9), LOG(0.05), LOG(0.03)], [LOG(0.5), LOG(0.3), LOG(0.1)]],
    top_token_ids=[[10, 11, 12], [20, 21, 22]],
)
# the prefix ending in the generated token vs the same prefix ending in the alternative,
# both directions
CCP_TABLE = {
    ("born", "Born"): ENT,
    ("Born", "born"): ENT,
    ("born", "died"): CON,
    ("died", "born"): CON,
    ("born 1879", "born 1880"): CON,
    ("born 1880", "born 1879"): CON,
    ("born 1879", "born in"): NEU,
    ("born in", "born 1879"): NEU,
}


@pytest.mark.parametrize(
    ("backward_in", "ccp"),
    [
        # step 1: born 0.9 (generated), Born 0.05 (entails), died 0.03 (contradicts)
        #   CCP = (0.9 + 0.05) / (0.9 + 0.05 + 0.03) = 0.95 / 0.98
        # step 2: " 1879" 0.5 (generated), " 1880" 0.3 (contradicts), " in" 0.1 (neutral
        #   both ways: left out): CCP = 0.5 / (0.5 + 0.3) = 0.625
        (NEU, 0.95 / 0.98 * 0.625),
        # " in" neutral forward but entailing backward: combined entailment, so step 2 is
        #   (0.5 + 0.1) / (0.5 + 0.3 + 0.1) = 0.6 / 0.9
        (ENT, 0.95 / 0.98 * (0.6 / 0.9)),
    ],
)
def test_ccp_scorer_by_hand(backward_in, ccp):
    table = {**CCP_TABLE, ("born in", "born 1879"): backward_in}
    ctx = nli_ctx(table, decode_token=VOCAB.__getitem__)
    res = score([SampleSet("Q?", CCP_ANSWER, [])], ["ccp"], ctx)
    assert res.columns["ccp"] == [approx(ccp)]
    assert res.columns["ccp_surprisal_nats"] == [approx(-LOG(ccp))]
    # exactly the four alternatives, both directions, were sent, in one batch
    assert ctx.nli.model.pairs_run == 8 and ctx.nli.model.calls == 1


def test_ccp_without_a_decoder_is_nan_with_the_reason():
    res = score([SampleSet("Q?", CCP_ANSWER, [])], ["ccp"], nli_ctx(CCP_TABLE))
    assert math.isnan(res.columns["ccp"][0])
    assert "decode_token" in res.columns["score_errors"][0]["ccp"]


def test_ccp_needs_the_top_k_token_ids():
    gen = Generation(
        "born", logprobs=[LOG(0.9)], tokens=("born",), top_logprobs=[[LOG(0.9), LOG(0.05)]]
    )
    ctx = nli_ctx({}, decode_token=VOCAB.__getitem__)
    res = score([SampleSet("Q?", gen, [])], ["ccp"], ctx, on_error="nan")
    assert "top-k token ids" in res.columns["score_errors"][0]["ccp"]


# ============================================================================ planning


def test_required_statistics_follow_the_similarity_choice():
    assert required_statistics(["cocoa_msp", "sar"]) == {"embeddings"}
    assert required_statistics(["cocoa_msp", "sar"], similarity="nli") == {"nli"}
    # UQLM's form always uses cosine similarity
    assert required_statistics(["consistency_and_confidence"], similarity="nli") == {"embeddings"}
    assert required_statistics(["semantic_density", "ccp"]) == {"nli"}
