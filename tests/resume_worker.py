"""Helpers for the run-store tests: a deterministic counting backend, and a worker script.

Imported by the tests (``from resume_worker import CountingBackend, ...``) and run by them as
a subprocess (``python tests/resume_worker.py MODE ...``); pytest does not collect it.

Modes:

* ``generate STORE RUN N_PROMPTS NUM_SAMPLES CHUNK LOG [BLOCK_ON] [DELAY] [GO]``: run
  ``generate_with_store`` with a :class:`CountingBackend` that appends ``start K`` /
  ``end K`` lines to LOG around its K-th call, sleeps DELAY seconds per call, and, on call
  BLOCK_ON (0: never), writes ``blocked K`` and hangs (so the test can SIGKILL it mid-call).
  With GO, it first writes ``GO.ready.PID`` and waits for the file GO (so that workers start
  together however long each took to start).
* ``write STORE RUN ROW_START ROW_STOP N_PROMPTS GO OWN_RUN``: open (or create) the shared
  run RUN, wait for the file GO, then write rows [ROW_START, ROW_STOP) one transaction per
  generation and score; also create OWN_RUN and fill it. Exercises concurrent writers.
* ``embed CACHE``: put embeddings into a PersistentEmbeddingCache and exit without closing
  it (the buffered writes must still reach the file at interpreter exit).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np


def _register_lmuq_without_init() -> None:
    """Make ``lmuq.*`` importable without running ``lmuq/__init__`` (which imports scipy,
    pandas and more, several seconds on a loaded machine); the storage modules need only
    numpy. Used by the subprocess only, to keep each start well under the test budget."""
    import importlib.util
    import types

    if "lmuq" in sys.modules:
        return
    spec = importlib.util.find_spec("lmuq")
    assert spec is not None and spec.submodule_search_locations
    pkg = types.ModuleType("lmuq")
    pkg.__path__ = list(spec.submodule_search_locations)
    pkg.__spec__ = spec
    sys.modules["lmuq"] = pkg


if __name__ == "__main__":
    _register_lmuq_without_init()

from lmuq.types import Generation, SamplingParams  # noqa: E402

ANSWER_PARAMS = SamplingParams(temperature=0.0, max_new_tokens=8)
SAMPLE_PARAMS = SamplingParams(temperature=1.0, max_new_tokens=8, seed=0)
SETTINGS = {"model": "fake", "num_samples": 2}


def prompts(n: int) -> list[str]:
    return [f"question {i}: what is {i} + {i}?" for i in range(n)]


def kind_of(params: SamplingParams) -> str:
    return "answer" if params.greedy else "sample"


def fake_generation(prompt: str, kind: str, j: int, params: SamplingParams) -> Generation:
    """A deterministic generation of (prompt, kind, j), with log-probs and top-k."""
    seed = int.from_bytes(hashlib.blake2b(f"{prompt}|{kind}|{j}".encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    length = 1 + seed % 4
    top = -np.sort(rng.uniform(0.01, 5.0, size=(length, 2)), axis=1)
    return Generation(
        text=f"{kind} {j} to {prompt}",
        logprobs=top[:, 0].copy(),
        token_ids=tuple(int(t) for t in rng.integers(0, 1000, size=length)),
        tokens=tuple(f"t{i}" for i in range(length)),
        top_logprobs=top,
        top_token_ids=rng.integers(0, 1000, size=(length, 2)),
        finish_reason="stop",
        params=params,
    )


class CountingBackend:
    """A deterministic backend that counts what it is asked for.

    ``requests`` lists ``(prompts, kind, n)`` per call; ``generated`` counts generations.
    Prompts listed in ``fail_prompts`` get a failed generation (``error`` set).
    """

    def __init__(
        self,
        *,
        log: str | os.PathLike[str] | None = None,
        delay: float = 0.0,
        block_on: int = 0,
        fail_prompts: Sequence[str] = (),
    ) -> None:
        self.log = None if log is None else Path(log)
        self.delay = delay
        self.block_on = block_on
        self.fail_prompts = set(fail_prompts)
        self.requests: list[tuple[tuple[str, ...], str, int]] = []
        self.generated = 0

    @property
    def name(self) -> str:
        return "counting-fake"

    def _note(self, line: str) -> None:
        if self.log is not None:
            fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{line}\n".encode())
            finally:
                os.close(fd)

    def generate(
        self,
        prompts: Sequence[str],
        params: SamplingParams,
        n: int = 1,
        *,
        progress: Callable[[int], object] | None = None,
    ) -> list[list[Generation]]:
        call = len(self.requests) + 1
        kind = kind_of(params)
        self.requests.append((tuple(prompts), kind, n))
        self._note(f"start {call}")
        if call == self.block_on:
            self._note(f"blocked {call}")
            time.sleep(600)
        if self.delay:
            time.sleep(self.delay)
        out = []
        for p in prompts:
            row = []
            for j in range(n):
                if p in self.fail_prompts:
                    row.append(Generation(text="", finish_reason="error", error="boom"))
                else:
                    row.append(fake_generation(p, kind, j, params))
            out.append(row)
            if progress is not None:
                progress(1)
        self.generated += len(prompts) * n
        self._note(f"end {call}")
        return out

    def asked(self) -> list[tuple[str, str, int]]:
        """Every (prompt, kind, j) this backend generated, in order."""
        return [(p, k, j) for ps, k, n in self.requests for p in ps for j in range(n)]


def _generate(argv: list[str]) -> None:
    from lmuq.storage.resume import generate_with_store
    from lmuq.storage.run_store import RunStore

    store_path, run_id, n_prompts, num_samples, chunk, log = argv[:6]
    block_on = int(argv[6]) if len(argv) > 6 else 0
    delay = float(argv[7]) if len(argv) > 7 else 0.0
    go = Path(argv[8]) if len(argv) > 8 else None
    backend = CountingBackend(log=log, delay=delay, block_on=block_on)
    with RunStore(store_path) as store:
        if go is not None:  # say ready, then start with the others
            Path(f"{go}.ready.{os.getpid()}").touch()
            while not go.exists():
                time.sleep(0.01)
        generate_with_store(
            backend,
            store,
            run_id,
            prompts(int(n_prompts)),
            int(num_samples),
            ANSWER_PARAMS,
            SAMPLE_PARAMS,
            chunk_size=int(chunk),
        )
    print("done", backend.generated)


def _write(argv: list[str]) -> None:
    from lmuq.storage.run_store import RunStore

    store_path, run_id, start, stop, n_prompts, go, own_run = argv[:7]
    texts = prompts(int(n_prompts))
    with RunStore(store_path) as store:
        store.open_or_create_run(run_id, SETTINGS, texts)
        store.open_or_create_run(own_run, SETTINGS, texts[:10])
        deadline = time.time() + 60
        while not os.path.exists(go):
            if time.time() > deadline:
                raise SystemExit("the go file never appeared")
            time.sleep(0.005)
        for row in range(int(start), int(stop)):
            store.record_generation(
                run_id, row, "answer", 0, fake_generation(texts[row], "answer", 0, ANSWER_PARAMS)
            )
            for j in range(2):
                gen = fake_generation(texts[row], "sample", j, SAMPLE_PARAMS)
                store.record_generation(run_id, row, "sample", j, gen)
            store.record_score(run_id, row, "fake_scorer", row / 100)
        for row in range(10):
            store.record_generation(
                own_run, row, "answer", 0, fake_generation(texts[row], "answer", 0, ANSWER_PARAMS)
            )
    print("written")


_KEEP_ALIVE = None


def _embed(argv: list[str]) -> None:
    from lmuq.storage.embedding_cache import PersistentEmbeddingCache

    global _KEEP_ALIVE
    cache = _KEEP_ALIVE = PersistentEmbeddingCache(argv[0], flush_every=1000)
    for i in range(3):
        cache[("emb-model", f"text {i}")] = np.full(4, i + 0.5, dtype=np.float32)
    # No close(): the buffered entries must be written at interpreter exit.
    print("embedded", len(cache._file.pending))


if __name__ == "__main__":
    mode, *rest = sys.argv[1:]
    {"generate": _generate, "write": _write, "embed": _embed}[mode](rest)
