"""Where lmuq keeps its own code over a well-kept library, measure the difference.

Not part of CI. Needs `pip install diskcache` (not an lmuq dependency). Prints, for each
pair, the median wall time over ``--repeats`` interleaved runs and the ratio library/lmuq
measured in the same run:

* the persistent embedding cache (lmuq.storage.PersistentEmbeddingCache, SQLite with an
  LRU bound) against diskcache.Cache with its least-recently-used eviction, writing then
  reading N MiniLM-sized float32 vectors keyed by text, each read in a fresh instance;
* the bootstrap interval of AUROC (lmuq.evaluation.bootstrap_metric) against
  scipy.stats.bootstrap (paired, percentile method) with the same number of resamples,
  over the 18 scores of a demo-sized table (n = 60), plus how each treats resamples that
  hold one class only.

    python bench/bench_libraries.py --texts 5000 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def cache_round(kind: str, texts: list[str], vectors: np.ndarray) -> float:
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))

    def run() -> None:
        if kind == "lmuq":
            from lmuq.storage import PersistentEmbeddingCache

            path = folder / "emb.sqlite3"
            with PersistentEmbeddingCache(path) as cache:
                for t, v in zip(texts, vectors, strict=True):
                    cache[("minilm", t)] = v
            with PersistentEmbeddingCache(path) as cache:
                got = [cache.get(("minilm", t)) for t in texts]
        else:
            import diskcache

            with (
                diskcache.Cache(
                    str(folder), eviction_policy="least-recently-used", size_limit=2**30
                ) as cache,
                cache.transact(),
            ):  # one transaction, as lmuq's buffered writes
                for t, v in zip(texts, vectors, strict=True):
                    cache[("minilm", t)] = v.tobytes()
            with diskcache.Cache(str(folder), eviction_policy="least-recently-used") as cache:
                got = [np.frombuffer(cache.get(("minilm", t)), np.float32) for t in texts]
        assert all(g is not None for g in got)
        assert np.array_equal(np.asarray(got[-1]), vectors[-1])

    return _time(run)


def bootstrap_round(kind: str, table: np.ndarray, y: np.ndarray, n_boot: int) -> float:
    from lmuq.evaluation import auroc, bootstrap_metric

    def run() -> None:
        for col in table:
            if kind == "lmuq":
                bootstrap_metric(auroc, col, y, n_boot=n_boot, seed=0)
            else:
                from scipy.stats import bootstrap

                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    bootstrap(
                        (col, y),
                        lambda c, t: auroc(c, t),
                        paired=True,
                        vectorized=False,
                        n_resamples=n_boot,
                        method="percentile",
                        random_state=0,
                    )

    return _time(run)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-boot", type=int, default=1000)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    texts = [f"The capital of country {i} is city {i * 7 % 1013}." for i in range(args.texts)]
    vectors = rng.standard_normal((args.texts, 384)).astype(np.float32)
    table = rng.random((18, 60))
    y = (rng.random(60) < 0.45).astype(float)

    rows = []
    for name, fn in (
        (
            f"embedding cache, {args.texts} writes + reads",
            lambda k: cache_round(k, texts, vectors),
        ),
        (
            f"AUROC bootstrap, 18 scores x n=60, {args.n_boot} resamples",
            lambda k: bootstrap_round(k, table, y, args.n_boot),
        ),
    ):
        times: dict[str, list[float]] = {"lmuq": [], "library": []}
        for _ in range(args.repeats):  # interleaved: both see the same machine state
            times["lmuq"].append(fn("lmuq"))
            times["library"].append(fn("library"))
        lm, lib = statistics.median(times["lmuq"]), statistics.median(times["library"])
        rows.append((name, lm, lib, lib / lm))
    print(f"{'comparison':<52} {'lmuq s':>8} {'library s':>10} {'library/lmuq':>13}")
    for name, lm, lib, ratio in rows:
        print(f"{name:<52} {lm:>8.3f} {lib:>10.3f} {ratio:>12.2f}x")

    # What each does with a resample that holds one class (AUROC undefined).
    from scipy.stats import bootstrap

    from lmuq.evaluation import auroc, bootstrap_metric

    small_y = np.array([1.0, 0, 0, 0, 0, 0, 0, 0])
    small_c = np.linspace(0, 1, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = bootstrap_metric(auroc, small_c, small_y, n_boot=200, seed=0)
        theirs = bootstrap(
            (small_c, small_y),
            lambda c, t: auroc(c, t),
            paired=True,
            vectorized=False,
            n_resamples=200,
            method="percentile",
            random_state=0,
        ).confidence_interval
    print(
        "one positive in 8 rows (many resamples have none): "
        f"lmuq [{ours.low:.3f}, {ours.high:.3f}] from the defined resamples; "
        f"scipy [{theirs.low:.3f}, {theirs.high:.3f}]"
    )


if __name__ == "__main__":
    main()
