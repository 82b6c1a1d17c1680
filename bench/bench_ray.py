#!/usr/bin/env python
"""Benchmark scoring a JSONL table locally (``score_jsonl``) against Ray Data on one machine.

On the same generated JSONL (``--rows`` rows: prompt, response, 5 sampled responses,
response log-probs), with NLI-free scorers plus ``cosine_sim`` on the packaged MiniLM:

  local          lmuq.app.score_file.score_jsonl (one process, chunks of --batch-size rows)
  ray            lmuq.distributed.score_jsonl_on_ray (actor pool of --concurrency actors,
                 each loading MiniLM once; batches of --batch-size rows)
  local+cache 1/2, ray+cache 1/2
                 the same with a persistent SQLite embedding cache
                 (PersistentEmbeddingCache via SentenceEmbedder(cache=...)): run 1 fills it,
                 run 2 reads it; the cache hit rate of run 2 is printed

For each: wall time of the scoring call (Ray: after ray.init, actor start-up and model
loading included), rows/s, the driver's peak RSS (getrusage), and for Ray the peak RSS of
one actor and of all Ray processes together (sampled with psutil every 0.2 s). Each phase
runs in its own subprocess so that peaks do not leak between phases. The Ray and local
outputs are compared row by row (max |difference| per scorer).

Cache hit rate of a second run: local, 1 - texts encoded / distinct texts looked up (the
embedder's own counters) and the cache's hits / lookups; Ray, where the actors' counters
are out of reach, 1 - new cache entries written by run 2 / distinct texts (every miss
writes one entry).

Run from the repository root (needs ``pip install 'lmuq[ray,embeddings]'``):
  /work/venv/bin/python bench/bench_ray.py --rows 3000
  /work/venv/bin/python bench/bench_ray.py --rows 500 --json /tmp/bench_ray.json   # quick
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SCORERS = ["exact_match", "rouge_l", "semantic_negentropy", "normalized_probability", "cosine_sim"]
EQUIVALENCE = "normalized_match"
_CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "Vienna", "Oslo", "Lisbon", "Prague"]
_FORMS = [
    "{c}, as asked in question {n}",
    "The answer to question {n} is {c}",
    "I believe it is {c} ({w} case {n})",
    "It might be {c} or {d}, for question {n}",
    "{w}: {c}, number {n}",
]
_WORDS = [
    "simple",
    "odd",
    "usual",
    "known",
    "likely",
    "clear",
    "rare",
    "broad",
    "exact",
    "plain",
    "major",
    "minor",
]


# ---------------------------------------------------------------------------- data


def make_jsonl(path: Path, rows: int, seed: int = 0) -> int:
    """Write ``rows`` records; return the number of distinct texts (responses + samples).

    Each prompt has its own pool of 4 answers (distinct from other prompts'), so texts repeat
    within a row and across the two rows of a prompt, as with real samples at temperature 1.
    """
    rng = random.Random(seed)
    distinct: set[str] = set()
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(rows):
            q = i // 2  # two rows per prompt (e.g. two models' answers)
            pool = [
                form.format(c=rng.choice(_CITIES), d=rng.choice(_CITIES), n=q, w=rng.choice(_WORDS))
                for form in rng.sample(_FORMS, 4)
            ]
            samples = [rng.choice(pool) for _ in range(5)]
            rec = {
                "id": i,
                "prompt": f"Question {q}: which city?",
                "response": rng.choice(pool),
                "sampled_responses": samples,
                "logprobs": [round(-rng.random(), 5) for _ in range(4)],
            }
            distinct.update([rec["response"], *samples])
            fh.write(json.dumps(rec) + "\n")
    return len(distinct)


# ---------------------------------------------------------------------------- measuring


def peak_rss_mib() -> float:
    """This process's peak resident set size (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RaySampler:
    """Samples the RSS of this process's descendants (the local Ray instance) in a thread."""

    def __init__(self, interval: float = 0.2) -> None:
        import psutil

        self.psutil = psutil
        self.interval = interval
        self.peak_total = 0.0
        self.peak_actor = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RaySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        me = self.psutil.Process()
        while not self._stop.is_set():
            total = 0.0
            for p in me.children(recursive=True):
                try:
                    rss = p.memory_info().rss / 2**20
                    name = " ".join(p.cmdline()[:1])
                except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                    continue
                total += rss
                if "MapWorker" in name or "BatchScorer" in name:
                    self.peak_actor = max(self.peak_actor, rss)
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(self.interval)


def _read_dir(folder: Path) -> list[dict]:
    rows = [
        json.loads(line)
        for f in sorted(folder.glob("*.json*"))
        for line in f.read_text("utf-8").splitlines()
    ]
    return sorted(rows, key=lambda r: r["id"])


# ---------------------------------------------------------------------------- phases


def _import_models() -> float:
    """Import torch and sentence-transformers; return the seconds it took."""
    start = time.perf_counter()
    import sentence_transformers  # noqa: F401
    import torch  # noqa: F401

    return time.perf_counter() - start


def phase_local(args: argparse.Namespace) -> dict:
    from lmuq.app.score_file import score_jsonl

    import_s = _import_models()
    start = time.perf_counter()
    summary = score_jsonl(
        args.input,
        Path(args.workdir) / "local.jsonl",
        SCORERS,
        equivalence=EQUIVALENCE,
        chunk_size=args.batch_size,
        progress=False,
    )
    wall = time.perf_counter() - start
    return {
        "rows": summary.rows,
        "wall_s": wall,
        "import_s": import_s,
        "driver_peak_rss_mib": peak_rss_mib(),
    }


def phase_local_cached(args: argparse.Namespace) -> dict:
    """Two runs of score_jsonl's chunk loop with a persistent embedding cache."""
    import pandas as pd

    from lmuq.distributed.ray_scoring import BatchScorer, EmbedderFactory
    from lmuq.app.score_file import read_records

    cache_path = str(Path(args.workdir) / "local-emb.sqlite3")
    _import_models()
    runs = []
    for run in (1, 2):
        start = time.perf_counter()
        scorer = BatchScorer(
            SCORERS,
            {
                "equivalence": EQUIVALENCE,
                "embedder_factory": EmbedderFactory(cache_path=cache_path),
            },
        )
        rows = 0
        with open(Path(args.workdir) / f"local-cached-{run}.jsonl", "w", encoding="utf-8") as fh:
            for chunk in read_records(args.input, args.batch_size):
                out = scorer(pd.DataFrame([rec for _, rec in chunk]))  # flushes the cache
                fh.write(out.to_json(orient="records", lines=True, force_ascii=False))
                rows += len(out)
        wall = time.perf_counter() - start
        info = scorer.cache_info()
        hits, misses = info["embedding_cache_hits"], info["embedding_cache_misses"]
        runs.append(
            {
                "rows": rows,
                "wall_s": wall,
                "texts_encoded": info["embedding_texts_encoded"],
                "cache_hits": hits,
                "cache_lookups": hits + misses,
            }
        )
        del scorer
    return {"runs": runs, "driver_peak_rss_mib": peak_rss_mib()}


def _ray_init(args: argparse.Namespace):
    import ray

    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    return ray


def _ray_kwargs(args: argparse.Namespace) -> dict:
    return {
        "batch_size": args.batch_size,
        "concurrency": args.concurrency,
        "num_cpus_per_actor": args.num_cpus_per_actor,
    }


def phase_ray(args: argparse.Namespace) -> dict:
    from lmuq.distributed.ray_scoring import score_jsonl_on_ray

    ray = _ray_init(args)
    try:
        with RaySampler() as sampler:
            start = time.perf_counter()
            out = score_jsonl_on_ray(
                args.input,
                Path(args.workdir) / "ray_out",
                SCORERS,
                blackbox_kwargs={"equivalence": EQUIVALENCE},
                **_ray_kwargs(args),
            )
            wall = time.perf_counter() - start
        rows = len(_read_dir(out))
    finally:
        ray.shutdown()
    return {
        "rows": rows,
        "wall_s": wall,
        "driver_peak_rss_mib": peak_rss_mib(),
        "actor_peak_rss_mib": sampler.peak_actor,
        "ray_total_peak_rss_mib": sampler.peak_total,
    }


def phase_ray_cached(args: argparse.Namespace) -> dict:
    from lmuq.distributed.ray_scoring import EmbedderFactory, score_jsonl_on_ray
    from lmuq.statistics.embeddings import DEFAULT_SENTENCE_MODEL_NAME
    from lmuq.storage.embedding_cache import PersistentEmbeddingCache

    cache_path = str(Path(args.workdir) / "ray-emb.sqlite3")
    factory = EmbedderFactory(cache_path=cache_path)
    ray = _ray_init(args)
    runs = []
    try:
        for run in (1, 2):
            with PersistentEmbeddingCache(cache_path) as cache:
                before = cache.count(DEFAULT_SENTENCE_MODEL_NAME)
            start = time.perf_counter()
            score_jsonl_on_ray(
                args.input,
                Path(args.workdir) / f"ray_cached_{run}",
                SCORERS,
                blackbox_kwargs={"equivalence": EQUIVALENCE, "embedder_factory": factory},
                **_ray_kwargs(args),
            )
            wall = time.perf_counter() - start
            with PersistentEmbeddingCache(cache_path) as cache:
                after = cache.count(DEFAULT_SENTENCE_MODEL_NAME)
            runs.append({"wall_s": wall, "new_entries": after - before, "entries": after})
    finally:
        ray.shutdown()
    return {"runs": runs, "driver_peak_rss_mib": peak_rss_mib()}


PHASES = {
    "local": phase_local,
    "ray": phase_ray,
    "local_cached": phase_local_cached,
    "ray_cached": phase_ray_cached,
}


def run_phase(name: str, args: argparse.Namespace) -> dict:
    """Run one phase in a fresh interpreter; return its JSON result."""
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--input",
        str(args.input),
        "--workdir",
        str(args.workdir),
        "--batch-size",
        str(args.batch_size),
        "--concurrency",
        str(args.concurrency),
        "--num-cpus",
        str(args.num_cpus),
        "--num-cpus-per-actor",
        str(args.num_cpus_per_actor),
    ]
    print(f"-- {name} ...", flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-5000:])
        raise SystemExit(f"phase {name} failed ({proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- report


def compare(workdir: Path) -> dict[str, float]:
    """Max |Ray - local| per scorer over all rows (None/NaN must agree)."""
    local = sorted(
        (json.loads(x) for x in (workdir / "local.jsonl").read_text("utf-8").splitlines()),
        key=lambda r: r["id"],
    )
    ray_rows = _read_dir(workdir / "ray_out")
    if [r["id"] for r in ray_rows] != [r["id"] for r in local]:
        raise SystemExit("Ray output rows differ from the local output rows")
    diffs = {}
    for name in SCORERS:
        worst = 0.0
        for a, b in zip(ray_rows, local, strict=True):
            x, y = a[name], b[name]
            if (x is None) != (y is None):
                worst = math.inf
            elif x is not None:
                worst = max(worst, abs(x - y))
        diffs[name] = worst
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--num-cpus", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--num-cpus-per-actor", type=float, default=0.5)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    ap.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    ap.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(PHASES[args.phase](args)))
        return

    args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_ray_"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    args.input = args.workdir / "input.jsonl"
    distinct = make_jsonl(args.input, args.rows)
    print(
        f"{args.rows} rows, {distinct} distinct texts, scorers {SCORERS}, batch {args.batch_size}, "
        f"Ray: {args.concurrency} actors x {args.num_cpus_per_actor} CPU on num_cpus="
        f"{args.num_cpus} (machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})"
    )
    res = {name: run_phase(name, args) for name in PHASES}
    diffs = compare(args.workdir)

    loc, ray_ = res["local"], res["ray"]
    print()
    print(f"{'path':<18}{'wall s':>9}{'rows/s':>9}{'driver peak MiB':>17}{'actor peak MiB':>16}")
    for label, r in (("local score_jsonl", loc), ("ray", ray_)):
        print(
            f"{label:<18}{r['wall_s']:>9.1f}{r['rows'] / r['wall_s']:>9.1f}"
            f"{r['driver_peak_rss_mib']:>17.0f}{r.get('actor_peak_rss_mib', float('nan')):>16.0f}"
        )
    print(
        f"local: wall excludes importing torch/sentence-transformers ({loc['import_s']:.1f} s) "
        "but includes loading MiniLM; Ray: wall includes starting the actors, their imports "
        "and each actor's MiniLM load"
    )
    print(f"ray: all Ray processes together peaked at {ray_['ray_total_peak_rss_mib']:.0f} MiB")
    print(
        f"ratios ray/local: rows/s {loc['wall_s'] / ray_['wall_s']:.2f}x, "
        f"driver peak RSS {ray_['driver_peak_rss_mib'] / loc['driver_peak_rss_mib']:.2f}x, "
        "Ray total peak RSS / local peak "
        f"{ray_['ray_total_peak_rss_mib'] / loc['driver_peak_rss_mib']:.2f}x"
    )
    print("max |ray - local| per scorer: " + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()))

    print("\npersistent embedding cache (run 1 fills it, run 2 reads it):")
    for i, r in enumerate(res["local_cached"]["runs"], start=1):
        lookups = r["cache_lookups"]
        print(
            f"  local run {i}: {r['wall_s']:.1f} s ({r['rows'] / r['wall_s']:.1f} rows/s), "
            f"texts encoded {r['texts_encoded']}, hit rate "
            f"{1 - r['texts_encoded'] / distinct:.1%} of distinct texts, cache hits "
            f"{r['cache_hits']}/{lookups} = {r['cache_hits'] / max(lookups, 1):.1%} of lookups"
        )
    for i, r in enumerate(res["ray_cached"]["runs"], start=1):
        print(
            f"  ray run {i}:   {r['wall_s']:.1f} s ({args.rows / r['wall_s']:.1f} rows/s), "
            f"new cache entries {r['new_entries']}, hit rate "
            f"{1 - r['new_entries'] / distinct:.1%} of distinct texts"
        )
    if args.json:
        args.json.write_text(
            json.dumps({"args": vars(args), "results": res, "diffs": diffs}, default=str, indent=2)
        )


if __name__ == "__main__":
    main()
