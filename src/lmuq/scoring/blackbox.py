"""The black-box scorers: consistency of the answer with sampled responses.

Responses are R = [y, ỹ_1, …, ỹ_m] (the answer first). With ``use_best`` the judged answer
becomes a member of the largest semantic cluster (see
:func:`~lmuq.scoring.functional.semantic.largest_membership_member`, or UQLM's
:func:`~lmuq.scoring.functional.semantic.most_repeated_or_longest` with
``best_response="uqlm"``) and the other n − 1 responses are its samples. Prompt-level
scorers (semantic entropy, number of sets, EigV, KLE) do not depend on which response is
judged. The clustering rule is ``ScoringContext.clustering`` (lmuq's partition by default,
UQLM 0.6's overlapping clusters with ``"uqlm"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from lmuq.constants import CONTRADICTION, ENTAILMENT
from lmuq.scoring.context import ScoringContext
from lmuq.scoring.functional import consistency as CF
from lmuq.scoring.functional import nli_scores as NF
from lmuq.scoring.functional import semantic as SF
from lmuq.scoring.spec import ScorerSpec, ScoreValue
from lmuq.types import SampleSet, check_logprobs

__all__ = [
    "BLACKBOX_SCORERS",
    "CLUSTER_ONLY",
    "NLI_SCORERS",
    "SPECS",
    "judged_response_index",
    "response_clusters",
    "response_log_likelihoods",
    "response_memberships",
    "semantic_entropy_scorer",
    "semantic_entropy_weighted_value",
]

_E, _C = ENTAILMENT, CONTRADICTION


def _responses(ss: SampleSet) -> list[str]:
    if not ss.samples:
        raise ValueError("black-box scorers need at least one sampled response")
    return [ss.answer.text, *ss.sample_texts]


class _NLIEquivalence:
    """Bidirectional entailment over NLI labels (arg-max class).

    It asks one direction first and the other only when it can still change the verdict,
    so no NLI pair runs that a decision does not need. ``prefetch`` announces a batch of
    comparisons and asks each one's next unknown direction: the first, or the second when
    the first is known and did not decide. ``settled`` is a verdict already decided by the
    pairs available now (None otherwise), which lets clustering look ahead.
    """

    def __init__(self, ctx: ScoringContext, ss: SampleSet, texts: list[str]) -> None:
        self.view = ctx.view(ss)
        self.texts = texts
        self.strict = ctx.strict_entailment

    def _label(self, i: int, j: int) -> int:
        return int(np.argmax(self.view(self.texts[i], self.texts[j])))

    def _known_label(self, i: int, j: int) -> int | None:
        probs = self.view.known(self.texts[i], self.texts[j])
        return None if probs is None else int(np.argmax(probs))

    def _decides(self, first: int) -> bool:
        # strict: a first direction that is not entailment already means "not equivalent";
        # lenient: a first direction that is a contradiction does.
        return first != _E if self.strict else first == _C

    def _verdict(self, second: int) -> bool:
        return second == _E if self.strict else second != _C

    def __call__(self, i: int, j: int) -> bool:
        if self._decides(self._label(i, j)):
            return False
        return self._verdict(self._label(j, i))

    def settled(self, i: int, j: int) -> bool | None:
        first = self._known_label(i, j)
        if first is None:
            return None
        if self._decides(first):
            return False
        second = self._known_label(j, i)
        return None if second is None else self._verdict(second)

    def prefetch(self, pairs: list[tuple[int, int]]) -> None:
        t = self.texts
        firsts = [self._known_label(i, j) for i, j in pairs]
        new = [(i, j) for (i, j), f in zip(pairs, firsts, strict=True) if f is None]
        seconds = [
            (j, i)
            for (i, j), f in zip(pairs, firsts, strict=True)
            if f is not None and not self._decides(f)
        ]
        # planning: one request for both kinds; computing: then the new pairs' second sides
        self.view.prefetch([(t[a], t[b]) for a, b in [*new, *seconds]])
        self.view.prefetch((t[j], t[i]) for i, j in new if not self._decides(self._label(i, j)))


class _EitherEntails:
    """UQLM 0.6's NLI match: the arg-max label of either direction is entailment (both
    directions are asked together, as UQLM does)."""

    def __init__(self, ctx: ScoringContext, ss: SampleSet, texts: list[str]) -> None:
        self.view = ctx.view(ss)
        self.texts = texts

    def _entails(self, i: int, j: int) -> bool:
        return int(np.argmax(self.view(self.texts[i], self.texts[j]))) == _E

    def __call__(self, i: int, j: int) -> bool:
        return self._entails(j, i) or self._entails(i, j)

    def prefetch(self, pairs: list[tuple[int, int]]) -> None:
        t = self.texts
        self.view.prefetch([p for i, j in pairs for p in ((t[j], t[i]), (t[i], t[j]))])


def _nli_equivalent(
    ctx: ScoringContext, ss: SampleSet, texts: list[str]
) -> Callable[[int, int], bool]:
    if ctx.clustering == "uqlm":
        return _EitherEntails(ctx, ss, texts)
    return _NLIEquivalence(ctx, ss, texts)


def _equivalence(
    ctx: ScoringContext, ss: SampleSet, texts: list[str]
) -> Callable[[int, int], bool]:
    if ctx.equivalence == "nli":
        return _nli_equivalent(ctx, ss, texts)
    if ctx.equivalence == "normalized_match":
        norm = [CF.normalize_answer(t) for t in texts]
        return lambda i, j: norm[i] == norm[j]
    if ctx.equivalence == "numeric":
        from lmuq.grading.math import math_postprocessor, numbers_equal

        nums = [math_postprocessor(t) for t in texts]
        norm = [CF.normalize_answer(t) for t in texts]
        return lambda i, j: (
            numbers_equal(nums[i], nums[j]) if nums[i] and nums[j] else norm[i] == norm[j]
        )
    emb = _embed(ctx, texts)
    sims = emb @ emb.T
    return lambda i, j: bool(sims[i, j] >= ctx.embedding_threshold)


def response_memberships(ss: SampleSet, ctx: ScoringContext) -> list[list[int]]:
    """The semantic clusters of [answer, samples...] as memberships (one list of response
    indices per cluster), under the context's equivalence and clustering rule; with
    ``clustering="uqlm"`` a response can be in several clusters."""
    texts = _responses(ss)
    relation = _equivalence(ctx, ss, texts)
    if ctx.clustering == "uqlm":
        return SF.cluster_responses_every_match(len(texts), relation)
    return SF.memberships_from_labels(SF.cluster_responses(len(texts), relation))


def response_clusters(ss: SampleSet, ctx: ScoringContext) -> list[int]:
    """Semantic cluster labels of [answer, samples...] under the context's equivalence;
    with ``clustering="uqlm"``, each response's first cluster (see
    :func:`response_memberships` for all of them)."""
    labels = [-1] * (len(ss.samples) + 1)
    for k, members in reversed(list(enumerate(response_memberships(ss, ctx)))):
        for i in members:
            labels[i] = k
    return labels


def judged_response_index(ss: SampleSet, ctx: ScoringContext) -> int:
    """Which of [answer, samples...] the consistency scorers judge: 0 (the answer), or with
    ``ctx.use_best`` a member of the largest semantic cluster: the answer when it is in it,
    else the cluster's first member
    (:func:`~lmuq.scoring.functional.semantic.largest_membership_member`); with
    ``best_response="uqlm"`` its most repeated text, else its longest
    (:func:`~lmuq.scoring.functional.semantic.most_repeated_or_longest`), in the most
    probable cluster by length-normalised token probability with ``"uqlm_tokenprob"``."""
    if not ctx.use_best or not ss.samples:
        return 0
    if ctx.clustering == "first_match" and ctx.best_response == "prefer_answer":
        # Stop clustering once the first clusters decide the largest one: the judged
        # response's own NLI pairs are then asked rounds earlier, and a scorer that needs
        # no clusters (noncontradiction alone) asks no comparisons with later ones.
        texts = _responses(ss)
        relation = _equivalence(ctx, ss, texts)
        for labels in SF.cluster_levels(len(texts), relation, lookahead=False):
            best = SF.settled_largest_member(labels)
            if best is not None:
                return best
    memberships = response_memberships(ss, ctx)
    if ctx.best_response == "uqlm":
        return SF.most_repeated_or_longest(memberships, _responses(ss))
    if ctx.best_response == "uqlm_tokenprob":
        probs = SF.cluster_probabilities(memberships, response_log_likelihoods(ss, True))
        return SF.most_repeated_or_longest(memberships, _responses(ss), probs)
    return SF.largest_membership_member(memberships)


def _focus(ss: SampleSet, ctx: ScoringContext) -> tuple[int, str, list[str]]:
    """(index of the judged response in R, its text, the other responses)."""
    texts = _responses(ss)
    best = judged_response_index(ss, ctx)
    return best, texts[best], texts[:best] + texts[best + 1 :]


def _embed(ctx: ScoringContext, texts: list[str]) -> np.ndarray:
    if ctx.embedder is None:
        raise ValueError("this scorer needs a sentence embedder, and none is configured")
    emb = np.asarray(ctx.embedder.encode(texts), dtype=np.float64)
    return emb / np.linalg.norm(emb, axis=1, keepdims=True).clip(1e-12)


# ----------------------------------------------------------------------------- scorers


def _exact_match(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    _, answer, others = _focus(ss, ctx)
    return ScoreValue(CF.exact_match_rate(answer, others, normalizer=ctx.exact_match_normalizer))


def _exact_match_raw(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    _, answer, others = _focus(ss, ctx)
    return ScoreValue(CF.exact_match_rate(answer, others, normalizer=None))


def _nli_pairwise(kind: str):
    def compute(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
        _, answer, others = _focus(ss, ctx)
        view = ctx.view(ss)
        view.prefetch([(answer, s) for s in others] + [(s, answer) for s in others])
        fwd = np.stack([view(answer, s) for s in others])
        bwd = np.stack([view(s, answer) for s in others])
        fn = (
            NF.noncontradiction_probability
            if kind == "noncontradiction"
            else NF.entailment_probability
        )
        return ScoreValue(fn(fwd, bwd))

    return compute


def _negentropy(se: float, n: int) -> float:
    """1 − SE / log n, n the number of responses clustered (UQLM: log(m + 1)); 1 for n = 1."""
    return 1.0 if n == 1 else min(1.0, max(0.0, 1.0 - se / math.log(n)))


def _semantic_negentropy(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    memberships = response_memberships(ss, ctx)
    se = SF.membership_entropy(memberships)
    return ScoreValue(
        _negentropy(se, len(ss.samples) + 1),
        {"semantic_entropy_nats": se, "num_semantic_sets": float(len(memberships))},
    )


def _semantic_sets_confidence(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    k, n = len(response_memberships(ss, ctx)), len(ss.samples) + 1
    return ScoreValue(1.0 if n == 1 else (n - k) / (n - 1), {"num_semantic_sets": float(k)})


def response_log_likelihoods(ss: SampleSet, length_normalize: bool = True) -> list[float]:
    """ℓ_i (or ℓ_i / L_i) of [answer, samples...], validated."""
    out = []
    for i, g in enumerate([ss.answer, *ss.samples]):
        lp = check_logprobs(g.logprobs, "the answer" if i == 0 else f"sample {i - 1}")
        out.append(float(lp.sum()) / (lp.size if length_normalize else 1))
    return out


def semantic_entropy_weighted_value(
    ss: SampleSet, ctx: ScoringContext, length_normalize: bool = True
) -> tuple[float, float]:
    """(confidence 1 − SE / log n, SE in nats) of the probability-weighted semantic entropy
    over the context's clusters, with ℓ_i / L_i (Farquhar et al. 2024) or ℓ_i."""
    ll = response_log_likelihoods(ss, length_normalize)
    se = SF.membership_entropy(response_memberships(ss, ctx), ll)
    return _negentropy(se, len(ll)), se


def _semantic_entropy_weighted(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    conf, se = semantic_entropy_weighted_value(ss, ctx)
    return ScoreValue(conf, {"semantic_entropy_weighted_nats": se})


def _cosine_sim(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    _, answer, others = _focus(ss, ctx)
    emb = _embed(ctx, [answer, *others])
    return ScoreValue(CF.cosine_similarity_confidence(emb[0], emb[1:]))


def _bert_score(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    if ctx.bertscorer is None:
        raise ValueError("bert_score needs a BERTScore encoder, and none is configured")
    _, answer, others = _focus(ss, ctx)
    f1 = ctx.bertscorer.f1(others, [answer] * len(others))
    return ScoreValue(CF.bertscore_confidence(f1))


def _bleurt(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    if ctx.bleurt is None:
        raise ValueError("bleurt needs a BLEURT model, and none is configured")
    _, answer, others = _focus(ss, ctx)
    raw = ctx.bleurt.score(others, [answer] * len(others))
    # BLEURT-20 is calibrated to about [0, 1] but can leave it; clip for the confidence.
    return ScoreValue(float(np.clip(raw, 0.0, 1.0).mean()), {"bleurt_mean": float(np.mean(raw))})


def _rouge_l(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    _, answer, others = _focus(ss, ctx)
    return ScoreValue(CF.rouge_l_confidence(answer, others))


def _affinity(ss: SampleSet, ctx: ScoringContext) -> np.ndarray:
    texts = _responses(ss)
    return NF.affinity_matrix(ctx.view(ss).matrix(texts))


def _eigv(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    w = _affinity(ss, ctx)
    u = NF.eigv_uncertainty(w)
    return ScoreValue(NF.eigv_confidence(u, len(w)), {"eigv_uncertainty": u})


def _degree(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    w = _affinity(ss, ctx)
    index = _focus(ss, ctx)[0]
    n = len(w)
    return ScoreValue(
        NF.degree_confidence(w, index),
        {"degree_uncertainty": float(np.trace(n * np.eye(n) - np.diag(w.sum(1))) / n**2)},
    )


def _eccentricity(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    w = _affinity(ss, ctx)
    conf, u = NF.eccentricity_confidence(w, _focus(ss, ctx)[0])
    return ScoreValue(conf, {"eccentricity_uncertainty": u})


def _kle(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    w = _affinity(ss, ctx)
    kle = NF.kernel_language_entropy(w)
    return ScoreValue(NF.kle_confidence(kle, len(w)), {"kernel_language_entropy_nats": kle})


def _luq(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
    _, answer, others = _focus(ss, ctx)
    sentences = NF.split_sentences(answer)
    view = ctx.view(ss)
    view.prefetch((s, sent) for s in others for sent in sentences)
    probs = [np.stack([view(s, sent) for sent in sentences]) for s in others]
    return ScoreValue(NF.luq_confidence(probs))


def _spec(
    name, needs, compute, conf_map, ref, summary, raw=(), raw_dir="confidence", raw_range=(0.0, 1.0)
):
    return ScorerSpec(
        name=name,
        family="black-box",
        needs=frozenset(needs),
        raw_direction=raw_dir,
        raw_range=raw_range,
        raw_columns=tuple(raw),
        compute=compute,
        confidence_map=conf_map,
        reference=ref,
        summary=summary,
    )


_INF = math.inf
SPECS = [
    _spec(
        "exact_match",
        {"samples"},
        _exact_match,
        "(1/m) Σ_j 1[norm(y) = norm(ỹ_j)], norm = normalize_answer (or exact_match_normalizer)",
        "Cole et al. 2023; UQLM exact_match (which compares raw strings)",
        "Share of samples equal to the answer after normalisation "
        "(case, spaces, punctuation, numbers).",
    ),
    _spec(
        "exact_match_raw",
        {"samples"},
        _exact_match_raw,
        "(1/m) Σ_j 1[y = ỹ_j] on raw strings",
        "UQLM exact_match",
        "Share of samples identical to the answer, character for character (UQLM's behaviour).",
    ),
    _spec(
        "noncontradiction",
        {"samples", "nli"},
        _nli_pairwise("noncontradiction"),
        "(1/m) Σ_j 1 − (p_c(y→ỹ_j) + p_c(ỹ_j→y))/2",
        "Lin et al. 2024; Bouchard & Chauhan 2025 (UQLM)",
        "Mean probability that the answer and a sample do not contradict each other.",
    ),
    _spec(
        "entailment",
        {"samples", "nli"},
        _nli_pairwise("entailment"),
        "(1/m) Σ_j (p_e(y→ỹ_j) + p_e(ỹ_j→y))/2",
        "Lin et al. 2024; UQLM",
        "Mean probability that the answer and a sample entail each other.",
    ),
    _spec(
        "semantic_negentropy",
        {"samples", "nli"},
        _semantic_negentropy,
        "1 − SE / log n, SE = −Σ_C (|C|/n) log(|C|/n)",
        "Farquhar et al. 2024; Kuhn et al. 2023; UQLM",
        "Normalised discrete semantic entropy over answer + samples, as a confidence.",
        raw=("semantic_entropy_nats", "num_semantic_sets"),
        raw_dir="uncertainty",
        raw_range=(0.0, _INF),
    ),
    _spec(
        "semantic_sets_confidence",
        {"samples", "nli"},
        _semantic_sets_confidence,
        "(n − K) / (n − 1) for K clusters",
        "Lin et al. 2024 (NumSet); UQLM",
        "Fewer distinct meanings among the responses = more confident.",
        raw=("num_semantic_sets",),
        raw_dir="uncertainty",
        raw_range=(1.0, _INF),
    ),
    _spec(
        "semantic_entropy",
        {"samples", "nli", "answer_logprobs", "sample_logprobs"},
        _semantic_entropy_weighted,
        "1 − SE / log n, SE = −Σ_C p(C) log p(C), "
        "log p(C) = logsumexp_{i∈C} ℓ_i/L_i − logsumexp_j ℓ_j/L_j",
        "Kuhn et al. 2023; Farquhar et al. 2024",
        "Probability-weighted semantic entropy (needs token log-probs).",
        raw=("semantic_entropy_weighted_nats",),
        raw_dir="uncertainty",
        raw_range=(0.0, _INF),
    ),
    _spec(
        "cosine_sim",
        {"samples", "embeddings"},
        _cosine_sim,
        "(1/m) Σ_j (cos(e(y), e(ỹ_j)) + 1) / 2",
        "Bouchard & Chauhan 2025 (UQLM)",
        "Mean sentence-embedding similarity of the answer to the samples.",
    ),
    _spec(
        "bert_score",
        {"samples", "bertscore"},
        _bert_score,
        "(1/m) Σ_j BERTScore-F1(y, ỹ_j)",
        "Zhang et al. 2020; Manakul et al. 2023",
        "Mean BERTScore F1 between the answer and each sample.",
    ),
    _spec(
        "bleurt",
        {"samples", "bleurt"},
        _bleurt,
        "(1/m) Σ_j clip(BLEURT(y, ỹ_j), 0, 1)",
        "Sellam et al. 2020; UQLM (bleurt, before 0.2)",
        "Mean BLEURT score between the answer and each sample (needs bleurt-pytorch).",
        raw=("bleurt_mean",),
        raw_range=(-_INF, _INF),
    ),
    _spec(
        "rouge_l",
        {"samples"},
        _rouge_l,
        "(1/m) Σ_j ROUGE-L F(y, ỹ_j)",
        "Lin 2004; Manakul et al. 2023 (lexical similarity)",
        "Mean ROUGE-L F-measure between the answer and each sample.",
    ),
    _spec(
        "eigv",
        {"samples", "nli"},
        _eigv,
        "(n − U)/(n − 1), U = Σ_k max(0, 1 − λ_k(L_sym))",
        "Lin et al. 2024 (EigV)",
        "Spectral soft count of meanings in the NLI similarity graph.",
        raw=("eigv_uncertainty",),
        raw_dir="uncertainty",
        raw_range=(1.0, _INF),
    ),
    _spec(
        "degree",
        {"samples", "nli"},
        _degree,
        "D_yy / n, D = row sums of W",
        "Lin et al. 2024 (Degree)",
        "How strongly the answer is connected to the other responses in the NLI graph.",
        raw=("degree_uncertainty",),
        raw_dir="uncertainty",
        raw_range=(0.0, 1.0),
    ),
    _spec(
        "eccentricity",
        {"samples", "nli"},
        _eccentricity,
        "max(0, 1 − ‖v_y‖), v = centred spectral embedding",
        "Lin et al. 2024 (Eccentricity)",
        "Distance of the answer from the centre of the responses' spectral embedding.",
        raw=("eccentricity_uncertainty",),
        raw_dir="uncertainty",
        raw_range=(0.0, _INF),
    ),
    _spec(
        "kernel_language_entropy",
        {"samples", "nli"},
        _kle,
        "1 − VNE(exp(−tL)/tr) / log n",
        "Nikitin et al. 2024 (KLE)",
        "Von Neumann entropy of a heat kernel on the NLI graph.",
        raw=("kernel_language_entropy_nats",),
        raw_dir="uncertainty",
        raw_range=(0.0, _INF),
    ),
    _spec(
        "luq",
        {"samples", "nli"},
        _luq,
        "(1/m) Σ_j mean_s p_e/(p_e + p_c) (premise ỹ_j, hypothesis sentence s of y)",
        "Zhang et al. 2024 (LUQ)",
        "Sentence-level support of the answer by each sample.",
    ),
]

BLACKBOX_SCORERS: dict[str, ScorerSpec] = {s.name: s for s in SPECS}
#: Scorers whose values depend on NLI (directly, or through NLI-based clustering).
NLI_SCORERS = frozenset(s.name for s in SPECS if "nli" in s.needs)
#: Scorers that read NLI only through clustering (so a non-NLI equivalence replaces it).
CLUSTER_ONLY = frozenset({"semantic_negentropy", "semantic_sets_confidence", "semantic_entropy"})


def semantic_entropy_scorer(
    length_normalize: bool = True, *, name: str = "semantic_entropy"
) -> ScorerSpec:
    """Probability-weighted semantic entropy with the response probabilities chosen:
    ℓ_i / L_i (``length_normalize``, Farquhar et al. 2024 and UQLM's default; the registry's
    ``semantic_entropy``) or ℓ_i. UQLM's white-box ``semantic_negentropy`` is this scorer
    (its "tokenprob" semantic entropy) under that name."""

    def compute(ss: SampleSet, ctx: ScoringContext) -> ScoreValue:
        conf, se = semantic_entropy_weighted_value(ss, ctx, length_normalize)
        return ScoreValue(conf, {"semantic_entropy_weighted_nats": se})

    ell = "ℓ_i/L_i" if length_normalize else "ℓ_i"
    return replace(
        BLACKBOX_SCORERS["semantic_entropy"],
        name=name,
        compute=compute,
        confidence_map=(f"1 − SE / log n, SE = −Σ_C p(C) log p(C), p(C) ∝ Σ_{{i∈C}} exp({ell})"),
    )
