"""UQScorer's ``similarity`` and ``decode_token`` options: CoCoA / SAR through NLI, CCP
with a token decoder. Expected values are worked out by hand from the definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmuq import UQScorer
from lmuq.types import Generation, SampleSet
from nli_fakes import TableNLI

LOG = math.log
ENT, NEU, CON = (0.8, 0.15, 0.05), (0.1, 0.8, 0.1), (0.05, 0.05, 0.9)


class AxisEmbedder:
    """Each text is a fixed vector; records the texts it was asked for."""

    name = "axis"

    def __init__(self, table: dict[str, list[float]]) -> None:
        self.table = {k: np.asarray(v, float) for k, v in table.items()}
        self.seen: list[str] = []

    def encode(self, texts):
        texts = list(texts)
        self.seen.extend(texts)
        return np.stack([self.table[t] for t in texts])


# answer p = 0.5 · 0.4 = 0.2 (ℓ = log 0.2), two samples
ANSWER = Generation("Paris", logprobs=[LOG(0.5), LOG(0.4)])
SET = SampleSet("Capital of France?", ANSWER, [Generation("Lyon"), Generation("Paris")])


def test_cocoa_through_nli_uses_no_embedder():
    # s(Paris, Lyon) = (p_e(P→L) + p_e(L→P)) / 2 = (0.8 + 0.1) / 2 = 0.45; s(Paris, Paris) = 1
    # U = −ℓ(y) · mean(1 − s) = −log 0.2 · (0.55 + 0) / 2
    table = {("Paris", "Lyon"): ENT, ("Lyon", "Paris"): NEU}
    uq = UQScorer(["cocoa_msp"], similarity="nli", nli_model=TableNLI(table, default=None))
    res = uq.score([SET])
    u = -LOG(0.2) * 0.55 / 2
    assert res.columns["cocoa_msp"][0] == pytest.approx(math.exp(-u), rel=1e-12)
    assert res.columns["cocoa_msp_uncertainty"][0] == pytest.approx(u, rel=1e-12)
    assert uq.statistics.embedder is None  # nothing loaded that the choice does not need
    assert res.metadata["similarity"] == "nli"


def test_cocoa_by_embedding_is_still_the_default():
    # cos(Paris, Lyon) = 0.6 (vectors (1, 0) and (0.6, 0.8)); U = −log 0.2 · (0.4 + 0) / 2
    emb = AxisEmbedder({"Paris": [1, 0], "Lyon": [0.6, 0.8]})
    uq = UQScorer(["cocoa_msp"], embedder=emb)
    u = -LOG(0.2) * 0.4 / 2
    assert uq.score([SET]).columns["cocoa_msp"][0] == pytest.approx(math.exp(-u), rel=1e-12)
    assert uq.similarity == "embedding"


# "born 1879": the second token's alternatives " 1880" (p 0.3, contradicts) and " in"
# (p 0.1, neutral both ways); the first token has no alternatives but itself.
VOCAB = {10: "born", 20: " 1879", 21: " 1880", 22: " in"}
CCP_ANSWER = Generation(
    "born 1879",
    logprobs=[LOG(0.9), LOG(0.5)],
    token_ids=(10, 20),
    tokens=("born", " 1879"),
    top_logprobs=[[LOG(0.9), -math.inf, -math.inf], [LOG(0.5), LOG(0.3), LOG(0.1)]],
    top_token_ids=[[10, 21, 22], [20, 21, 22]],
)
CCP_TABLE = {
    ("born 1879", "born 1880"): CON,
    ("born 1880", "born 1879"): CON,
    ("born 1879", "born in"): NEU,
    ("born in", "born 1879"): NEU,
}


def test_ccp_reads_the_decoder_given_to_uq_scorer():
    # step 1: only the generated token has mass: CCP = 1; step 2: 0.5 / (0.5 + 0.3)
    uq = UQScorer(
        ["ccp"], nli_model=TableNLI(CCP_TABLE, default=None), decode_token=VOCAB.__getitem__
    )
    res = uq.score([SampleSet("Q?", CCP_ANSWER, [])])
    assert res.columns["ccp"] == [pytest.approx(0.625, rel=1e-12)]
    assert res.columns["score_errors"][0] == {}


def test_ccp_without_a_decoder_says_what_to_pass():
    uq = UQScorer(["ccp"], nli_model=TableNLI(CCP_TABLE, default=None))
    res = uq.score([SampleSet("Q?", CCP_ANSWER, [])])
    assert math.isnan(res.columns["ccp"][0])
    assert "decode_token" in res.columns["score_errors"][0]["ccp"]


def test_options_are_validated_at_construction_and_stored_unchanged():
    with pytest.raises(ValueError, match="similarity"):
        UQScorer(["cocoa_msp"], similarity="cosine")
    with pytest.raises(TypeError, match="decode_token"):
        UQScorer(["ccp"], decode_token="tokenizer")
    decode = VOCAB.__getitem__
    uq = UQScorer(["ccp"], similarity="nli", decode_token=decode)
    assert (uq.similarity, uq.decode_token) == ("nli", decode)


def test_similarity_nli_without_an_nli_model_names_the_fix():
    uq = UQScorer(["cocoa_msp"], similarity="nli")
    with pytest.raises(ValueError, match="nli_model_name"):
        uq.score([SET])
