"""An NLI model that *costs* what a real one costs and *answers* as a real MNLI model would.

No NLI weights can be had offline, so :class:`SimulatedNLI` is a torch module that

(a) runs a randomly initialised, real-size BERT encoder (default 24 layers, 1024 wide, as
    deberta-large-mnli / roberta-large-mnli) on the actual tokenised batch, so each pair
    costs real compute; and
(b) returns logits from a deterministic rule on the decoded premise / hypothesis: equal
    numbers -> entailment, different numbers -> contradiction, no number on either side ->
    neutral, in the label order of the config's ``id2label``.

It replaces the ``.model`` attribute of lmuq's ``HFNLIModel`` and of UQLM's ``NLI``, both
built on a tiny saved model folder (:func:`make_tiny_nli_folder`) that holds the MiniLM
tokenizer and an NLI config, so both libraries tokenise identically, pay the same per-pair
compute and see the same labels.

:class:`RuleNLI` is the same rule on the raw texts with no encoder (lmuq's ``NLIModel``
protocol): the cheap reference used to check scores and to list the pairs a scorer needs.
"""

from __future__ import annotations

import math
import re
import tempfile
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np

# deberta-large-mnli's (and roberta-large-mnli's) order, which UQLM 0.6 hard-codes.
ID2LABEL = {0: "CONTRADICTION", 1: "NEUTRAL", 2: "ENTAILMENT"}
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def canon(text: str) -> str:
    """Lower-cased, whitespace removed: equal for a raw text and its MiniLM decode."""
    return re.sub(r"\s+", "", text.lower())


def last_number(text: str) -> float | None:
    found = _NUMBER.findall(canon(text))
    return float(found[-1]) if found else None


def rule_logits(premise: str, hypothesis: str) -> dict[str, float]:
    """Logits by label name. A small deterministic jitter per ordered pair keeps the two
    directions (and different pairs) apart, so a swapped direction would show in scores."""
    cp, ch = canon(premise), canon(hypothesis)
    jit = (zlib.crc32(f"{cp}\x00{ch}".encode()) % 1000) / 1000.0
    a, b = last_number(premise), last_number(hypothesis)
    if a is not None and b is not None:
        if a == b:
            return {"ENTAILMENT": 4.0 + jit, "NEUTRAL": 0.0, "CONTRADICTION": -2.0 + jit}
        return {"ENTAILMENT": -2.0, "NEUTRAL": 0.5, "CONTRADICTION": 4.0 + jit}
    return {"ENTAILMENT": 0.0, "NEUTRAL": 3.0 + jit, "CONTRADICTION": 0.5 * jit}


def make_tiny_nli_folder(tokenizer_path: str | Path, folder: str | Path | None = None) -> Path:
    """Save a 1-layer, 32-wide BertForSequenceClassification with NLI labels and the MiniLM
    tokenizer: a local folder both lmuq and UQLM load without network."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    folder = Path(folder or tempfile.mkdtemp(prefix="tiny-nli-"))
    tok = AutoTokenizer.from_pretrained(str(tokenizer_path))
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=3,
        id2label=dict(ID2LABEL),
        label2id={v: k for k, v in ID2LABEL.items()},
    )
    BertForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


class Counter:
    """What went through a model: forward passes, pair rows, seconds inside forward."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.passes = 0
        self.pairs = 0
        self.seconds = 0.0
        self.batch_sizes: list[int] = []
        self.shapes: list[tuple[int, int]] = []  # (pairs, padded tokens) of each pass
        self.pass_seconds: list[float] = []  # wall seconds of each pass


def build_simulated_nli(tokenizer_path: str | Path, layers: int = 24, hidden: int = 1024):
    """A :class:`SimulatedNLI` instance (import torch lazily so this module stays light)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    class SimulatedNLI(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_path))
            heads = max(1, hidden // 64)
            cfg = BertConfig(
                vocab_size=self.tokenizer.vocab_size,
                hidden_size=hidden,
                num_hidden_layers=layers,
                num_attention_heads=heads,
                intermediate_size=4 * hidden,
            )
            torch.manual_seed(0)
            self.encoder = BertModel(cfg, add_pooling_layer=True).eval()
            self.order = [ID2LABEL[i] for i in range(len(ID2LABEL))]
            self.counter = Counter()
            self.sep = self.tokenizer.sep_token_id
            self.cls = self.tokenizer.cls_token_id

        @property
        def device(self):
            return next(self.parameters()).device

        def decode_pairs(self, input_ids) -> list[tuple[str, str]]:
            out = []
            for row in input_ids.tolist():
                seps = [i for i, t in enumerate(row) if t == self.sep]
                start = 1 if row and row[0] == self.cls else 0
                p = self.tokenizer.decode(row[start : seps[0]], skip_special_tokens=True)
                h = self.tokenizer.decode(row[seps[0] + 1 : seps[1]], skip_special_tokens=True)
                out.append((p, h))
            return out

        def forward(self, input_ids, attention_mask=None, token_type_ids=None, **_):
            t0 = time.perf_counter()
            hidden_out = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).pooler_output
            rows = [rule_logits(p, h) for p, h in self.decode_pairs(input_ids)]
            logits = torch.tensor(
                [[r[name] for name in self.order] for r in rows], dtype=torch.float32
            )
            # Tie the result to the encoder's output (it is computed eagerly anyway).
            logits = logits + 0.0 * hidden_out[:, :1].nan_to_num(0.0).clamp(-1, 1)
            c = self.counter
            c.passes += 1
            c.pairs += int(input_ids.shape[0])
            c.batch_sizes.append(int(input_ids.shape[0]))
            c.shapes.append((int(input_ids.shape[0]), int(input_ids.shape[1])))
            c.pass_seconds.append(time.perf_counter() - t0)
            c.seconds += c.pass_seconds[-1]
            return SimpleNamespace(logits=logits)

    return SimulatedNLI()


def fit_pass_cost(model, batch_sizes=(1, 2, 4, 8, 16, 32), lengths=(6, 12, 18, 24), repeats=5):
    """Fit t(B, L) = a + b*B + c*B*L + d*B*L^2 >= 0 (non-negative least squares) seconds for
    one encoder pass of ``model`` on B pairs padded to L tokens, from the *minimum* of
    ``repeats`` timings per shape, taken round-robin over the grid so a burst of other work
    on the machine does not hit all timings of one shape (the minimum drops the slowed
    ones). Returns (coef, worst relative error on the grid, grid timings)."""
    import torch
    from scipy.optimize import nnls

    grid = [(b, n) for b in batch_sizes for n in lengths]
    best = {g: math.inf for g in grid}
    with torch.inference_mode():
        for _ in range(repeats):
            for b, n in grid:
                ids = torch.full((b, n), 1000, dtype=torch.long)
                ids[:, 0] = model.cls
                ids[:, n // 2] = model.sep
                ids[:, -1] = model.sep
                t0 = time.perf_counter()
                model.encoder(input_ids=ids, attention_mask=torch.ones_like(ids))
                best[(b, n)] = min(best[(b, n)], time.perf_counter() - t0)
    x = np.array([[1.0, b, b * n, b * n * n] for b, n in grid])
    y = np.array([best[g] for g in grid])
    # Relative least squares: divide each row by its time, so small passes count as much.
    coef, _ = nnls(x / y[:, None], np.ones_like(y))
    err = float(np.max(np.abs(x @ coef - y) / y))
    return coef, err, {f"{b}x{n}": best[(b, n)] for b, n in grid}


def modelled_seconds(coef, shapes) -> float:
    """Sum of the fitted pass cost over a run's (B, L) passes."""
    return float(
        sum(coef[0] + coef[1] * b + coef[2] * b * n + coef[3] * b * n * n for b, n in shapes)
    )


class RuleNLI:
    """The rule on raw texts, no encoder: lmuq's ``NLIModel`` protocol (canonical E, N, C).

    Records every pair it is asked (``self.requested``)."""

    def __init__(self, name: str = "rule-nli") -> None:
        self._name = name
        self.requested: list[tuple[str, str]] = []
        self.calls = 0

    @property
    def name(self) -> str:
        return self._name

    def predict_proba(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        self.calls += 1
        rows = []
        for p, h in zip(premises, hypotheses, strict=True):
            self.requested.append((p, h))
            lg = rule_logits(p, h)
            # float32 logits, as the simulated model returns, then lmuq's softmax in float64.
            x = np.array([lg["ENTAILMENT"], lg["NEUTRAL"], lg["CONTRADICTION"]], dtype=np.float32)
            x = x.astype(np.float64)
            x -= x.max()
            e = np.exp(x)
            rows.append(e / e.sum())
        return np.array(rows, dtype=np.float64).reshape(-1, 3)
