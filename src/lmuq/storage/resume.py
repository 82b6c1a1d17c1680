"""Generate a run's answers and samples through a :class:`RunStore`, resumably.

:func:`generate_with_store` is the one call that both starts and resumes a run: it asks the
store which ``(row, kind, idx)`` generations are missing, draws only those (through
:func:`lmuq.generation.draw_cells`, the one draw path) and records each generation in the
store as it arrives, then returns the complete sample sets read back from the store. Killed
at any moment (SIGKILL included), the same call picks up where it stopped.

Granularity: rows are drawn in chunks of ``chunk_size`` prompts: per chunk, one call draws
the answers of the rows that lack one and one call the samples of the rows that lack the
same sample indices. A backend that reports each generation as it arrives (its
``generate`` takes ``on_result``, as lmuq's server backends and the transformers backend
do) has each one written the moment it arrives, so a kill loses only what was in flight;
a backend that reports a call's results only when it returns has them written in one
transaction then (a crash loses at most the call in flight).

Failed generations (``Generation.error`` set, e.g. an API call that failed after its
retries) are recorded as they are; the returned sample sets contain them (scorers give NaN
for them), and the next call to :func:`generate_with_store` retries them
(``retry_failed=False`` keeps them). A stored success is never overwritten by a failure.

Sample indices and seeds: when a row lacks only some samples, just those indices are drawn,
each seeded ``sample_params.seed + index`` as the uninterrupted run would have seeded it
(see :mod:`lmuq.generation.draws`), so a resumed sample never repeats a stored sample's seed.
Bit-identical outputs after a resume need a backend whose outputs do not depend on how the
rows were batched (a seeded sampler that draws per batch is statistically, not bit-,
equivalent).
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence

from lmuq.backends.base import GenerationBackend
from lmuq.generation.draws import DEFAULT_ANSWER_PARAMS, DEFAULT_SAMPLE_PARAMS, draw_cells
from lmuq.storage.run_store import ANSWER, SAMPLE, GenerationSpec, Kind, RunStore
from lmuq.types import Generation, SampleSet, SamplingParams

__all__ = ["generate_with_store", "store_callback"]

# How long a process waits before looking again at rows another process is drawing.
_WAIT_FOR_OTHERS_S = 0.5


def generate_with_store(
    backend: GenerationBackend,
    store: RunStore,
    run_id: str,
    prompts: Sequence[str] | None = None,
    num_samples: int = 5,
    answer_params: SamplingParams = DEFAULT_ANSWER_PARAMS,
    sample_params: SamplingParams = DEFAULT_SAMPLE_PARAMS,
    *,
    chunk_size: int = 4,
    retry_failed: bool = True,
    progress: bool = False,
) -> list[SampleSet]:
    """Fill in the run's missing generations, then return all its sample sets.

    Args:
        backend: draws the generations.
        store: where the run lives.
        run_id: the run. When it does not exist yet, ``prompts`` are required and the run
            is created with the generation settings as its settings.
        prompts: the run's prompts; when the run exists they are checked against it.
        num_samples: samples per prompt.
        answer_params / sample_params: how answers and samples are drawn. The first call
            binds them (with the backend's name) to the run; a later call with other ones
            is refused, since mixing them would bias the scores.
        chunk_size: prompts per backend call (see the module docstring).
        retry_failed: redo stored failed generations.
        progress: show a progress bar over the generations to draw.

    Returns:
        One :class:`SampleSet` per row, in row order, as
        :func:`~lmuq.generation.generate_sample_sets` would return them.

    Raises:
        RunMismatchError: when the prompts, backend or sampling parameters differ from the
            stored run's.
        RuntimeError: when the backend breaks its row invariant (nothing of that call is
            recorded).
    """
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an int >= 1, got {chunk_size!r}")
    if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples < 0:
        raise ValueError(f"num_samples must be an int >= 0, got {num_samples!r}")
    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings, not a single string")
    prompts = None if prompts is None else list(prompts)
    spec = GenerationSpec(
        backend=backend.name,
        answer_params=answer_params.to_dict(),
        sample_params=sample_params.to_dict(),
        num_samples=num_samples,
    )
    if store.has_run(run_id):
        if prompts is not None:
            store.check_prompts(run_id, prompts)
    elif prompts is None:
        raise KeyError(f"no run {run_id!r} in {store.path}; pass prompts= to create it")
    else:
        if not prompts:
            raise ValueError("prompts is empty: pass at least one prompt")
        store.create_run({"generation": spec.to_dict()}, prompts, run_id=run_id)
    store.bind_generation(run_id, spec)

    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def record(rows: list[int], items: list[tuple[int, str, int, Generation]]) -> None:
        store.record_generations(run_id, [(rows[r], kind, idx, g) for r, kind, idx, g in items])

    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = len(store.missing_generations(run_id, num_samples, include_failed=retry_failed))
        bar = tqdm(total=total, desc="Generating", unit="gen")
    attempted: set[tuple[int, str, int]] = set()  # each cell is drawn once per call
    try:
        while True:
            missing = store.missing_generations(run_id, num_samples, include_failed=retry_failed)
            by_row: dict[int, list[tuple[int, str, int]]] = {}
            for cell in missing:
                if cell not in attempted:
                    by_row.setdefault(cell[0], []).append(cell)
            if not by_row:
                break
            # The next chunk of rows no other process is drawing (a lease on each).
            chunk = store.claim_rows(run_id, sorted(by_row), owner, limit=chunk_size)
            if not chunk:  # every row left is being drawn elsewhere: wait for it
                time.sleep(_WAIT_FOR_OTHERS_S)
                continue
            try:
                # Another process may have drawn a row between the read of ``missing`` and
                # this claim (it released the row as it finished): read again under the lease.
                still = store.missing_generations(
                    run_id, num_samples, include_failed=retry_failed, rows=chunk
                )
                cells = [cell for cell in still if cell not in attempted]
                attempted.update(cells)
                local = {row: k for k, row in enumerate(chunk)}
                if cells:
                    draw_cells(
                        backend,
                        store.load_prompts(run_id, chunk),
                        [(local[r], kind, idx) for r, kind, idx in cells],
                        answer_params=answer_params,
                        sample_params=sample_params,
                        sink=lambda items, chunk=chunk: record(chunk, items),
                        progress=False,
                        on_failure="ignore",
                    )
            finally:
                store.release_rows(run_id, chunk, owner)
            if bar is not None:
                bar.update(len(cells))
    finally:
        if bar is not None:
            bar.close()
    return store.load_sample_sets(run_id, num_samples)


def store_callback(
    store: RunStore,
    run_id: str,
    rows: Sequence[int],
    kind: Kind,
    idxs: Sequence[int] | None = None,
) -> Callable[[int, int, Generation], None]:
    """An ``on_result(prompt_index, sample_index, generation)`` callback that records each
    generation in the store the moment it arrives (one transaction each).

    ``prompt_index`` indexes ``rows`` (the run rows of the prompts sent to the backend) and
    ``sample_index`` indexes ``idxs`` (the generation indices being filled; default
    ``0, 1, ...``). Safe to call from asyncio callbacks and worker threads.
    """
    rows = list(rows)
    idx_list = None if idxs is None else list(idxs)
    if kind not in (ANSWER, SAMPLE):
        raise ValueError(f"kind must be 'answer' or 'sample', got {kind!r}")

    def on_result(prompt_index: int, sample_index: int, generation: Generation) -> None:
        idx = sample_index if idx_list is None else idx_list[sample_index]
        store.record_generation(run_id, rows[prompt_index], kind, idx, generation)

    return on_result
