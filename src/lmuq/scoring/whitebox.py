"""The white-box scorers: declarations that bind the pure functions to a :class:`SampleSet`.

Single-generation scorers read the answer's token log-probs (and top-k log-probs); sample
scorers read the sampled responses' log-probs. Names of the single-generation scorers match
UQLM's white-box scorers so ported code finds the same columns.

Some white-box methods also read a model through the context: semantic density and CCP an
NLI model, CoCoA and SAR a text similarity (``ScoringContext.similarity``: sentence
embeddings or NLI), CCP the text of the top-k alternatives (``ScoringContext.decode_token``).
:data:`MODEL_FREE` names the scorers that need nothing but the generations (what
``WhiteBoxUQ`` runs by default). These scorers judge the original answer; ``use_best`` does
not apply to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

import numpy as np

from lmuq.scoring.context import ScoringContext
from lmuq.scoring.functional import ccp as CCPF
from lmuq.scoring.functional import cocoa as CoF
from lmuq.scoring.functional import sar as SarF
from lmuq.scoring.functional import semantic_density as SDF
from lmuq.scoring.functional import similarity as SimF
from lmuq.scoring.functional import whitebox as F
from lmuq.scoring.spec import ScorerSpec, ScoreValue
from lmuq.types import Generation, SampleSet, check_logprobs

__all__ = [
    "MODEL_FREE",
    "SIMILARITY_SCORERS",
    "SPECS",
    "WHITEBOX_SCORERS",
    "consistency_and_confidence_scorer",
    "monte_carlo_probability_scorer",
    "semantic_density_scorer",
    "sequence_probability_scorer",
]

_INF = math.inf


def _answer_lp(ss: SampleSet):
    return ss.answer.logprobs


def _answer_top(ss: SampleSet):
    if ss.answer.top_logprobs is None:
        raise ValueError(
            "the answer has no top-k log-probs; this scorer needs them (generate with "
            "top_logprobs >= 2)"
        )
    return ss.answer.top_logprobs


def _sample_lps(ss: SampleSet):
    return [s.logprobs for s in ss.samples]


def _unit(x: float) -> float:
    """Clamp float rounding (e.g. 1 − log k / log k = −2e-16) into [0, 1]."""
    return min(1.0, max(0.0, x))


def _negentropy(h: float, k: int) -> float:
    return _unit(1.0 - h / math.log(k))


def _sequence_probability(ss: SampleSet, ctx: object = None) -> ScoreValue:
    return ScoreValue(F.sequence_probability(_answer_lp(ss)))


def _normalized_probability(ss: SampleSet, ctx: object = None) -> ScoreValue:
    lp = _answer_lp(ss)
    return ScoreValue(
        F.sequence_probability(lp, length_normalized=True), {"perplexity": F.perplexity(lp)}
    )


def _min_probability(ss: SampleSet, ctx: object = None) -> ScoreValue:
    return ScoreValue(F.min_token_probability(_answer_lp(ss)))


def _mean_token_negentropy(ss: SampleSet, ctx: object = None) -> ScoreValue:
    top = _answer_top(ss)
    h = F.mean_token_entropy(top)
    return ScoreValue(_negentropy(h, top.shape[1]), {"mean_token_entropy_nats": h})


def _min_token_negentropy(ss: SampleSet, ctx: object = None) -> ScoreValue:
    top = _answer_top(ss)
    h = F.max_token_entropy(top)
    return ScoreValue(_negentropy(h, top.shape[1]), {"max_token_entropy_nats": h})


def _probability_margin(ss: SampleSet, ctx: object = None) -> ScoreValue:
    return ScoreValue(F.probability_margin(_answer_top(ss)))


def _pe_mc(length_normalized: bool, column: str):
    def compute(ss: SampleSet, ctx: object = None) -> ScoreValue:
        pe = F.predictive_entropy_mc(_sample_lps(ss), length_normalized=length_normalized)
        return ScoreValue(math.exp(-pe), {column: pe})

    return compute


def _pe_renormalized(ss: SampleSet, ctx: object = None) -> ScoreValue:
    m = len(ss.samples)
    if m < 2:
        raise ValueError(f"predictive_entropy_renormalized needs at least 2 samples, got {m}")
    pe = F.predictive_entropy_renormalized(_sample_lps(ss))
    return ScoreValue(_unit(1.0 - pe / math.log(m)), {"predictive_entropy_renormalized_nats": pe})


def _monte_carlo_probability(ss: SampleSet, ctx: object = None) -> ScoreValue:
    return ScoreValue(F.monte_carlo_sequence_probability(_sample_lps(ss)))


# ------------------------------------------------- scorers that also read a model or decoder


def _need_samples(ss: SampleSet, scorer: str) -> list[Generation]:
    if not ss.samples:
        raise ValueError(f"{scorer} needs at least one sampled response")
    return ss.samples


def _tokens(gen: Generation, what: str) -> tuple[str, ...]:
    """The generation's token strings, aligned with its log-probs."""
    lp = check_logprobs(gen.logprobs, what)
    if gen.tokens is None:
        raise ValueError(
            f"{what} has no token strings; this scorer needs them (generate with a backend "
            "that records tokens, e.g. the transformers or an OpenAI-compatible backend)"
        )
    if len(gen.tokens) != lp.size:
        raise ValueError(f"{what} has {len(gen.tokens)} token strings but {lp.size} log-probs")
    return gen.tokens


def _leave_one_out(tokens: Sequence[str]) -> list[tuple[str, str]]:
    """(s, s with token i left out) for each token i; s is the tokens joined."""
    full = "".join(tokens)
    return [(full, "".join(tokens[:i]) + "".join(tokens[i + 1 :])) for i in range(len(tokens))]


def _embeddings(ctx: ScoringContext, texts: list[str]) -> dict[str, np.ndarray]:
    if ctx.embedder is None:
        raise ValueError(
            "this scorer needs a sentence embedder (similarity='embedding'), and none is "
            "configured: pass embedder= / sentence_transformer=, or choose similarity='nli'"
        )
    unique = list(dict.fromkeys(texts))
    emb = np.asarray(ctx.embedder.encode(unique), dtype=np.float64).reshape(len(unique), -1)
    return dict(zip(unique, emb, strict=True))


def _similarities(ss: SampleSet, ctx: ScoringContext, pairs: list[tuple[str, str]]) -> np.ndarray:
    """s(a, b) ∈ [0, 1] for each pair, by ``ctx.similarity``; identical texts score 1."""
    if ctx.similarity == "nli":
        view = ctx.view(ss)
        view.prefetch([*pairs, *((b, a) for a, b in pairs)])
        fwd = np.array([view(a, b) for a, b in pairs]).reshape(len(pairs), 3)
        bwd = np.array([view(b, a) for a, b in pairs]).reshape(len(pairs), 3)
        sims = SimF.nli_similarity(fwd, bwd)
    else:
        rows = _embeddings(ctx, [t for pair in pairs for t in pair])
        left = np.array([rows[a] for a, _ in pairs]).reshape(len(pairs), -1)
        right = np.array([rows[b] for _, b in pairs]).reshape(len(pairs), -1)
        sims = SimF.clipped_cosine(left, right)
    same = np.array([a == b for a, b in pairs], dtype=bool)
    return np.where(same, 1.0, sims)


def _similarity_texts(gens: Sequence[Generation], ctx: ScoringContext, what: str) -> list[str]:
    """The leave-one-out texts of ``gens`` that a SAR scorer embeds (none with NLI)."""
    if ctx.similarity != "embedding":
        return []
    out: list[str] = []
    for i, gen in enumerate(gens):
        for full, rest in _leave_one_out(_tokens(gen, what.format(i))):
            out += [full, rest]
    return out


def _semantic_density(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    # The references are the unique sampled texts (first occurrence), each weighted by its
    # length-normalised probability (Qiu & Miikkulainen 2024).
    refs: dict[str, float] = {}
    for j, s in enumerate(_need_samples(ss, "semantic_density")):
        lp = check_logprobs(s.logprobs, f"sample {j}")
        refs.setdefault(s.text, float(lp.sum()) / lp.size)
    view = ctx.view(ss)
    answer = ss.answer.text
    view.prefetch((answer, r) for r in refs)
    probs = np.stack([view(answer, r) for r in refs])
    return ScoreValue(SDF.semantic_density(probs, list(refs.values())))


def _answer_sample_similarities(ss: SampleSet, ctx: ScoringContext, scorer: str) -> np.ndarray:
    answer = ss.answer.text
    return _similarities(ss, ctx, [(answer, s.text) for s in _need_samples(ss, scorer)])


def _cocoa(kind: str):
    name = f"cocoa_{kind}"

    def compute(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
        if kind == "entropy":
            top = _answer_top(ss)
            info = F.mean_token_entropy(top)
        else:
            info = -F.sequence_log_likelihood(_answer_lp(ss), length_normalized=kind == "ppl")
        u = CoF.cocoa_uncertainty(info, _answer_sample_similarities(ss, ctx, name))
        conf = _negentropy(u, top.shape[1]) if kind == "entropy" else math.exp(-u)
        return ScoreValue(conf, {f"{name}_uncertainty": u})

    return compute


def _consistency_and_confidence(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    lp = check_logprobs(ss.answer.logprobs, "the answer")
    samples = _need_samples(ss, "consistency_and_confidence")
    if ctx.embedder is None:
        raise ValueError(
            "consistency_and_confidence needs a sentence embedder, and none is configured"
        )
    emb = np.asarray(
        ctx.embedder.encode([ss.answer.text, *(s.text for s in samples)]), dtype=np.float64
    )
    norms = np.linalg.norm(emb, axis=1)
    if (norms == 0).any():
        raise ValueError("cosine similarity is undefined for a zero embedding vector")
    cos = (emb[1:] @ emb[0]) / (norms[1:] * norms[0])
    return ScoreValue(CoF.confidence_times_consistency(float(lp.sum()), lp.size, cos))


def _token_sar(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    lp = check_logprobs(ss.answer.logprobs, "the answer")
    sims = _similarities(ss, ctx, _leave_one_out(_tokens(ss.answer, "the answer")))
    e = SarF.token_sar(lp, sims)
    return ScoreValue(math.exp(-e), {"token_sar_nats": e})


def _sample_pairs(ss: SampleSet) -> list[tuple[str, str]]:
    texts = ss.sample_texts
    return [(texts[j], texts[k]) for j in range(len(texts)) for k in range(j + 1, len(texts))]


def _similarity_matrix(m: int, upper: np.ndarray) -> np.ndarray:
    """The symmetric (m, m) matrix whose upper triangle, row by row, is ``upper``."""
    g = np.eye(m)
    rows, cols = np.triu_indices(m, k=1)
    g[rows, cols] = upper
    g[cols, rows] = upper
    return g


def _sentence_sar(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    samples = _need_samples(ss, "sentence_sar")
    ll = [float(check_logprobs(s.logprobs, f"sample {j}").sum()) for j, s in enumerate(samples)]
    pairs = _sample_pairs(ss)
    upper = _similarities(ss, ctx, pairs) if pairs else np.zeros(0)
    e = SarF.sentence_sar(ll, _similarity_matrix(len(samples), upper))
    return ScoreValue(SarF.sar_confidence(e), {"sentence_sar_nats": e})


def _sar(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    samples = _need_samples(ss, "sar")
    per_sample = [_leave_one_out(_tokens(s, f"sample {j}")) for j, s in enumerate(samples)]
    lps = [check_logprobs(s.logprobs, f"sample {j}") for j, s in enumerate(samples)]
    sentence_pairs = _sample_pairs(ss)
    # one lookup for every pair of the row, so that NLI batches them in one round
    sims = _similarities(ss, ctx, [p for pairs in per_sample for p in pairs] + sentence_pairs)
    token_sars, start = [], 0
    for lp, pairs in zip(lps, per_sample, strict=True):
        token_sars.append(SarF.token_sar(lp, sims[start : start + len(pairs)]))
        start += len(pairs)
    g = _similarity_matrix(len(samples), sims[start:])
    e = SarF.sentence_sar(-np.array(token_sars), g)
    return ScoreValue(SarF.sar_confidence(e), {"sar_nats": e})


_NO_DECODER = (
    "ccp needs the text of the top-k alternatives, and no token decoder is configured: pass "
    "ScoringContext(decode_token=...), a function from a token id to its text (e.g. "
    "lambda i: tokenizer.decode([i]))"
)


def _ccp(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    gen = ss.answer
    lp = check_logprobs(gen.logprobs, "the answer")
    tokens = _tokens(gen, "the answer")
    top = _answer_top(ss)
    if gen.top_token_ids is None:
        raise ValueError(
            "the answer has no top-k token ids; ccp needs them (the transformers backend "
            "records them with top_logprobs >= 2)"
        )
    if ctx.decode_token is None:
        return ScoreValue(math.nan, error=_NO_DECODER)
    decode = ctx.decode_token
    steps: list[tuple[list[float], list[str]]] = []
    for t in range(lp.size):
        prefix = "".join(tokens[:t])
        original = prefix + tokens[t]
        alt_lps, alt_texts = [float(lp[t])], [original]
        for tid, alt_lp in zip(gen.top_token_ids[t], top[t], strict=True):
            tid = int(tid)
            piece = decode(tid)
            generated = tid == gen.token_ids[t] if gen.token_ids is not None else piece == tokens[t]
            if generated or not np.isfinite(alt_lp):
                continue  # the generated token is entry 0; a −inf alternative has no mass
            alt_lps.append(float(alt_lp))
            alt_texts.append(prefix + piece)
        steps.append((alt_lps, alt_texts))
    view = ctx.view(ss)
    pairs = [(texts[0], alt) for _, texts in steps for alt in texts[1:]]
    view.prefetch([*pairs, *((b, a) for a, b in pairs)])

    def label(original: str, alternative: str) -> int:
        forward = int(np.argmax(view(original, alternative)))
        return CCPF.combine_directions(forward, int(np.argmax(view(alternative, original))))

    labelled = [
        (alt_lps, [-1] + [label(texts[0], alt) for alt in texts[1:]]) for alt_lps, texts in steps
    ]
    log_ccp = CCPF.claim_conditioned_log_probability(labelled)
    return ScoreValue(math.exp(log_ccp), {"ccp_surprisal_nats": max(0.0, -log_ccp)})


def _wb(
    name,
    needs,
    compute,
    conf_map,
    ref,
    summary,
    raw=(),
    raw_dir="confidence",
    raw_range=(0.0, 1.0),
    embeds=None,
):
    return ScorerSpec(
        family="white-box",
        name=name,
        needs=frozenset(needs),
        raw_direction=raw_dir,
        raw_range=raw_range,
        raw_columns=tuple(raw),
        compute=compute,
        confidence_map=conf_map,
        reference=ref,
        summary=summary,
        embeds=embeds,
    )


SPECS = [
    ScorerSpec(
        family="white-box",
        name="sequence_probability",
        needs=frozenset({"answer_logprobs"}),
        raw_direction="confidence",
        raw_range=(0.0, 1.0),
        raw_columns=(),
        compute=_sequence_probability,
        confidence_map="p(y) = exp(Σ_t log p_t)",
        reference="Fomicheva et al. 2020 (MSP); Vashurin et al. 2025 (LM-Polygraph)",
        summary="Probability of the whole answer.",
    ),
    ScorerSpec(
        family="white-box",
        name="normalized_probability",
        needs=frozenset({"answer_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(1.0, _INF),
        raw_columns=("perplexity",),
        compute=_normalized_probability,
        confidence_map="exp(ℓ/L) = geometric mean of token probabilities = 1 / perplexity",
        reference="Malinin & Gales 2021; UQLM normalized_probability",
        summary="Length-normalised sequence probability; its raw column is the perplexity.",
    ),
    ScorerSpec(
        family="white-box",
        name="min_probability",
        needs=frozenset({"answer_logprobs"}),
        raw_direction="confidence",
        raw_range=(0.0, 1.0),
        raw_columns=(),
        compute=_min_probability,
        confidence_map="min_t p_t",
        reference="Manakul et al. 2023 (SelfCheckGPT grey-box 'Max(-log p)')",
        summary="Lowest token probability in the answer.",
    ),
    ScorerSpec(
        family="white-box",
        name="mean_token_negentropy",
        needs=frozenset({"answer_top_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=("mean_token_entropy_nats",),
        compute=_mean_token_negentropy,
        confidence_map="1 − mean_t H_t / log k, H_t over the renormalised top-k",
        reference="Manakul et al. 2023 ('Avg H'); UQLM mean_token_negentropy",
        summary="One minus the mean top-k token entropy, normalised by log k.",
    ),
    ScorerSpec(
        family="white-box",
        name="min_token_negentropy",
        needs=frozenset({"answer_top_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=("max_token_entropy_nats",),
        compute=_min_token_negentropy,
        confidence_map="1 − max_t H_t / log k",
        reference="Manakul et al. 2023 ('Max H'); UQLM min_token_negentropy",
        summary="One minus the largest top-k token entropy, normalised by log k.",
    ),
    ScorerSpec(
        family="white-box",
        name="probability_margin",
        needs=frozenset({"answer_top_logprobs"}),
        raw_direction="confidence",
        raw_range=(0.0, 1.0),
        raw_columns=(),
        compute=_probability_margin,
        confidence_map="mean_t (p_(1),t − p_(2),t)",
        reference="Farr et al. 2024; UQLM probability_margin",
        summary="Mean gap between the top two token probabilities.",
    ),
    ScorerSpec(
        family="white-box",
        name="predictive_entropy_mc",
        needs=frozenset({"sample_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=("predictive_entropy_mc_nats",),
        compute=_pe_mc(False, "predictive_entropy_mc_nats"),
        confidence_map="exp(−PE), PE = −(1/m) Σ_i ℓ(ỹ_i)",
        reference="Malinin & Gales 2021; Kuhn et al. 2023",
        summary="Monte-Carlo predictive entropy over the samples.",
    ),
    ScorerSpec(
        family="white-box",
        name="predictive_entropy_mc_normalized",
        needs=frozenset({"sample_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=("predictive_entropy_mc_normalized_nats",),
        compute=_pe_mc(True, "predictive_entropy_mc_normalized_nats"),
        confidence_map="exp(−PE_norm), PE_norm = −(1/m) Σ_i ℓ(ỹ_i)/L(ỹ_i)",
        reference="Malinin & Gales 2021 (length-normalised); Kuhn et al. 2023",
        summary="Length-normalised Monte-Carlo predictive entropy.",
    ),
    ScorerSpec(
        family="white-box",
        name="predictive_entropy_renormalized",
        needs=frozenset({"sample_logprobs"}),
        raw_direction="uncertainty",
        raw_range=(0.0, _INF),
        raw_columns=("predictive_entropy_renormalized_nats",),
        compute=_pe_renormalized,
        confidence_map="1 − PE / log m, PE = −Σ q_i log q_i, q = softmax(ℓ(ỹ))",
        reference="LUQ PredictiveEntropyEstimator (computed in log space)",
        summary="Entropy of the sample set's probabilities renormalised to sum to one.",
    ),
    ScorerSpec(
        family="white-box",
        name="monte_carlo_probability",
        needs=frozenset({"sample_logprobs"}),
        raw_direction="confidence",
        raw_range=(0.0, 1.0),
        raw_columns=(),
        compute=_monte_carlo_probability,
        confidence_map="(1/m) Σ_i p(ỹ_i)",
        reference="Monte-Carlo estimate of expected sequence probability",
        summary="Mean probability of the sampled responses.",
    ),
    _wb(
        "token_sar",
        {"answer_logprobs", "answer_tokens", "embeddings"},
        _token_sar,
        "exp(−TokenSAR), TokenSAR = Σ_i R̃_i (−log p_i), R̃_i ∝ 1 − s(y, y without token i)",
        "Duan et al. 2024 (SAR, ACL); LM-Polygraph TokenSAR",
        "Relevance-weighted mean token surprisal of the answer.",
        raw=("token_sar_nats",),
        raw_dir="uncertainty",
        raw_range=(0.0, _INF),
        embeds=lambda ss, ctx: _similarity_texts([ss.answer], ctx, "the answer"),
    ),
    _wb(
        "ccp",
        {"answer_logprobs", "answer_tokens", "answer_top_logprobs", "nli", "token_decoder"},
        _ccp,
        "Π_t Σ_{k: e} p_tk / Σ_{k: e or c} p_tk, NLI(prefix + y_t ↔ prefix + alternative k)",
        "Fadeeva et al. 2024 (claim-conditioned probability); LM-Polygraph CCP",
        "Probability of the answer's claims, not of their wording, from the top-k "
        "alternatives and NLI.",
        raw=("ccp_surprisal_nats",),
        raw_dir="uncertainty",
        raw_range=(0.0, _INF),
    ),
    _wb(
        "semantic_density",
        {"samples", "sample_logprobs", "nli"},
        _semantic_density,
        "Σ_i p̃_i K_i / Σ_i p̃_i over unique samples, K_i = 1 − p_c(y→ỹ_i) − p_n(y→ỹ_i)/2, "
        "p̃_i = p(ỹ_i)^(1/L_i)",
        "Qiu & Miikkulainen 2024 (NeurIPS); UQLM semantic_density",
        "Kernel density of the answer among the samples in NLI semantic space.",
    ),
    _wb(
        "cocoa_msp",
        {"answer_logprobs", "samples", "embeddings"},
        _cocoa("msp"),
        "exp(−U), U = −ℓ(y) · (1/m) Σ_j (1 − s(y, ỹ_j))",
        "Vashurin et al. 2025 (CoCoA); LM-Polygraph CocoaMSP",
        "Answer surprisal times its mean dissimilarity to the samples.",
        raw=("cocoa_msp_uncertainty",),
        raw_dir="uncertainty",
        raw_range=(0.0, _INF),
    ),
    _wb(
        "cocoa_ppl",
        {"answer_logprobs", "samples", "embeddings"},
        _cocoa("ppl"),
        "exp(−U), U = (−ℓ(y)/L) · (1/m) Σ_j (1 − s(y, ỹ_j))",
        "Vashurin et al. 2025 (CoCoA); LM-Polygraph CocoaPPL",
        "Answer log-perplexity times its mean dissimilarity to the samples.",
        raw=("cocoa_ppl_uncertainty",),
        raw_dir="uncertainty",
        raw_range=(0.0, _INF),
    ),
    _wb(
        "cocoa_entropy",
        {"answer_top_logprobs", "samples", "embeddings"},
        _cocoa("entropy"),
        "1 − U / log k, U = mean_t H_t · (1/m) Σ_j (1 − s(y, ỹ_j)), H_t over the top-k",
        "Vashurin et al. 2025 (CoCoA); LM-Polygraph CocoaMTE",
        "Mean top-k token entropy times the answer's mean dissimilarity to the samples.",
        raw=("cocoa_entropy_uncertainty",),
        raw_dir="uncertainty",
        raw_range=(0.0, _INF),
    ),
    _wb(
        "consistency_and_confidence",
        {"answer_logprobs", "samples", "embeddings"},
        _consistency_and_confidence,
        "exp(ℓ(y)/L) · (1/m) Σ_j (cos(e(y), e(ỹ_j)) + 1) / 2",
        "UQLM consistency_and_confidence (after Vashurin et al. 2025)",
        "Length-normalised answer probability times its mean cosine similarity to the samples.",
    ),
    _wb(
        "sentence_sar",
        {"samples", "sample_logprobs", "embeddings"},
        _sentence_sar,
        "σ(−E), E = (1/m) Σ_j −log(p(ỹ_j) + (1/t) Σ_{k≠j} s(ỹ_j, ỹ_k) p(ỹ_k)), t = 0.001",
        "Duan et al. 2024 (SentenceSAR); LM-Polygraph SentenceSAR",
        "Sample surprisal shifted by the probability of similar samples.",
        raw=("sentence_sar_nats",),
        raw_dir="uncertainty",
        raw_range=(-_INF, _INF),
    ),
    _wb(
        "sar",
        {"samples", "sample_logprobs", "sample_tokens", "embeddings"},
        _sar,
        "SentenceSAR with p(ỹ_j) replaced by exp(−TokenSAR(ỹ_j)); σ(−E)",
        "Duan et al. 2024 (SAR); LM-Polygraph SAR",
        "Token- and sentence-level relevance-shifted uncertainty over the samples.",
        raw=("sar_nats",),
        raw_dir="uncertainty",
        raw_range=(-_INF, _INF),
        embeds=lambda ss, ctx: _similarity_texts(ss.samples, ctx, "sample {}"),
    ),
]

WHITEBOX_SCORERS: dict[str, ScorerSpec] = {s.name: s for s in SPECS}

#: What a scorer may read besides the generations: a model, or the token decoder.
_MODELS = frozenset({"nli", "embeddings", "bertscore", "bleurt", "judge", "token_decoder"})
#: White-box scorers that need nothing but the generations' log-probs.
MODEL_FREE = frozenset(s.name for s in SPECS if s.needs.isdisjoint(_MODELS))
#: Scorers whose text similarity is ``ScoringContext.similarity`` (declared with the default,
#: ``"embeddings"``; with ``similarity="nli"`` they read the NLI model instead).
SIMILARITY_SCORERS = frozenset(
    {"cocoa_msp", "cocoa_ppl", "cocoa_entropy", "token_sar", "sentence_sar", "sar"}
)


# ------------------------------------------------- parametrised forms (UQLM's options)
#
# UQLM's WhiteBoxUQ takes ``length_normalize`` (default True) for the response
# probabilities of sequence_probability, monte_carlo_probability, consistency_and_confidence,
# semantic_negentropy and semantic_density; these factories make the specs with the choice
# bound, under the name the caller gives (the registry keeps lmuq's fixed forms).


def _derived(base: ScorerSpec, name: str, compute, conf_map: str, summary: str, **kw) -> ScorerSpec:
    return replace(base, name=name, compute=compute, confidence_map=conf_map, summary=summary, **kw)


def sequence_probability_scorer(
    length_normalize: bool = True, *, name: str = "sequence_probability"
) -> ScorerSpec:
    """The answer's probability: exp(ℓ/L) with ``length_normalize`` (UQLM's default for
    its ``sequence_probability``; lmuq's registry calls it ``normalized_probability``), else
    exp(ℓ) (the registry's ``sequence_probability``)."""
    base = WHITEBOX_SCORERS[
        "normalized_probability" if length_normalize else "sequence_probability"
    ]
    return replace(base, name=name)


def monte_carlo_probability_scorer(
    length_normalize: bool = True,
    *,
    include_answer: bool = True,
    name: str = "monte_carlo_probability",
) -> ScorerSpec:
    """Mean probability of the responses, (1/n) Σ_i p(r_i) over R = [y, ỹ_1..ỹ_m] with
    ``include_answer`` (UQLM's ``monte_carlo_probability``), else over the m samples (the
    registry's form); p(r) = exp(ℓ/L) with ``length_normalize``, else exp(ℓ)."""

    def compute(ss: SampleSet, ctx: object = None) -> ScoreValue:
        gens = [ss.answer, *ss.samples] if include_answer else list(ss.samples)
        lps = [g.logprobs for g in gens]
        return ScoreValue(
            F.monte_carlo_sequence_probability(lps, length_normalized=length_normalize)
        )

    over = "y and the samples" if include_answer else "the samples"
    p = "exp(ℓ/L)" if length_normalize else "exp(ℓ)"
    needs = {"sample_logprobs", "answer_logprobs"} if include_answer else {"sample_logprobs"}
    return _derived(
        WHITEBOX_SCORERS["monte_carlo_probability"],
        name,
        compute,
        f"mean of p(r) = {p} over {over}",
        f"Mean probability of {over}.",
        needs=frozenset(needs),
    )


def consistency_and_confidence_scorer(
    length_normalize: bool = True, *, name: str = "consistency_and_confidence"
) -> ScorerSpec:
    """UQLM's consistency_and_confidence with its ``length_normalize``: p(y) · (1/m) Σ_j
    (cos(e(y), e(ỹ_j)) + 1) / 2, p(y) = exp(ℓ/L) (default) or exp(ℓ)."""

    def compute(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
        if length_normalize:
            return _consistency_and_confidence(ss, ctx)
        lp = check_logprobs(ss.answer.logprobs, "the answer")
        # exp(ℓ/1) = exp(ℓ): the same product with the unnormalised probability
        flat = replace(ss, answer=Generation(ss.answer.text, logprobs=np.array([lp.sum()])))
        return _consistency_and_confidence(flat, ctx)

    p = "exp(ℓ(y)/L)" if length_normalize else "exp(ℓ(y))"
    return _derived(
        WHITEBOX_SCORERS["consistency_and_confidence"],
        name,
        compute,
        f"{p} · (1/m) Σ_j (cos(e(y), e(ỹ_j)) + 1) / 2",
        WHITEBOX_SCORERS["consistency_and_confidence"].summary,
    )


def semantic_density_scorer(
    references: Literal["unique", "all"] = "unique",
    length_normalize: bool = True,
    *,
    name: str = "semantic_density",
) -> ScorerSpec:
    """Semantic density with the references chosen: ``"unique"`` (Qiu & Miikkulainen 2024,
    the registry's form: each distinct sampled text once) or ``"all"`` (UQLM 0.6: every
    sample, duplicates counted with their own weight); weights p̃_i = p(ỹ_i)^(1/L_i) with
    ``length_normalize`` (both), else p(ỹ_i)."""
    if references not in ("unique", "all"):
        raise ValueError(f"references must be 'unique' or 'all' (UQLM's), got {references!r}")

    def compute(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
        texts, weights = [], []
        seen: set[str] = set()
        for j, s in enumerate(_need_samples(ss, name)):
            lp = check_logprobs(s.logprobs, f"sample {j}")
            if references == "unique" and s.text in seen:
                continue
            seen.add(s.text)
            texts.append(s.text)
            weights.append(float(lp.sum()) / (lp.size if length_normalize else 1))
        view = ctx.view(ss)
        answer = ss.answer.text
        view.prefetch((answer, r) for r in texts)
        probs = np.stack([view(answer, r) for r in texts])
        return ScoreValue(SDF.semantic_density(probs, weights))

    over = "unique samples" if references == "unique" else "all samples"
    p = "p(ỹ_i)^(1/L_i)" if length_normalize else "p(ỹ_i)"
    return _derived(
        WHITEBOX_SCORERS["semantic_density"],
        name,
        compute,
        f"Σ_i p̃_i K_i / Σ_i p̃_i over {over}, K_i = 1 − p_c(y→ỹ_i) − p_n(y→ỹ_i)/2, p̃_i = {p}",
        WHITEBOX_SCORERS["semantic_density"].summary,
    )
