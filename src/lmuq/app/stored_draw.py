"""A job's answers and samples, drawn straight or through a run store (``--store``).

``lmuq run`` / ``lmuq demo`` and ``lmuq longform`` draw the same way: without a store, one
call to :func:`lmuq.generation.draw`; with one, :func:`lmuq.storage.resume.generate_with_store`
under a run named after the settings that determine the generations (or ``--run-name``), so
that running the same command again draws only what is not stored. Ctrl-C while drawing
becomes :class:`JobInterrupted`, whose message says how much is saved and how to resume.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lmuq.generation import draw
from lmuq.types import SampleSet, SamplingParams

__all__ = ["JobInterrupted", "StoredRun", "draw_for_job", "job_sampling", "settings_digest"]


class JobInterrupted(KeyboardInterrupt):
    """Ctrl-C during generation; the message says what was saved and how to resume."""


@dataclass(frozen=True)
class StoredRun:
    """The run store a job drew through, and its run (open: the job records its scores
    there, then closes it)."""

    store: Any  # lmuq.storage.run_store.RunStore
    run_id: str
    path: str


def settings_digest(settings: dict[str, Any]) -> str:
    """12 hex digits naming a run by its settings (``run-<digest>``)."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


def job_sampling(
    max_new_tokens: int,
    temperature: float,
    top_p: float | None,
    seed: int,
    top_k: int | None = None,
) -> tuple[SamplingParams, SamplingParams]:
    """A job's decoding: the greedy answer's, and the samples' (seeded)."""
    answer = SamplingParams(temperature=0.0, max_new_tokens=max_new_tokens)
    sample = SamplingParams(
        temperature=temperature, top_p=top_p, top_k=top_k, max_new_tokens=max_new_tokens, seed=seed
    )
    return answer, sample


def draw_for_job(
    backend: Any,
    prompts: Sequence[str],
    num_samples: int,
    answer_params: SamplingParams,
    sample_params: SamplingParams,
    *,
    store: str | None = None,
    run_name: str | None = None,
    settings: dict[str, Any] | None = None,
    extras: Sequence[dict[str, Any]] | None = None,
    on_failure: str = "ignore",
    progress: bool = False,
    echo: Callable[[str], Any] = print,
) -> tuple[list[SampleSet], StoredRun | None]:
    """The greedy answer and ``num_samples`` samples per prompt, and the store they were
    drawn through (None without ``store``).

    Args:
        store: the run store file; None draws without one (nothing is kept).
        run_name: the run in the store (default ``run-<settings_digest(settings)>``).
        settings: what determines the generations (model, prompts' source, sampling): a
            stored run with other settings is refused rather than mixed.
        extras: one JSON-able record per prompt, stored with it (ids, gold answers).
        on_failure: as for :func:`lmuq.generation.draw` (without a store).
    """
    if not store:
        sets = draw(
            backend,
            prompts,
            num_samples,
            answer_params=answer_params,
            sample_params=sample_params,
            progress=progress,
            on_failure=on_failure,
        )
        return sets, None
    from lmuq.storage.resume import generate_with_store
    from lmuq.storage.run_store import RunStore

    settings = dict(settings or {})
    opened = RunStore(store)
    run_id = run_name or "run-" + settings_digest(settings)
    run_id = opened.open_or_create_run(
        run_id, settings, list(prompts), extras=None if extras is None else list(extras)
    )
    echo(f"Run store: {store} (run {run_id!r}; re-run the same command to resume)")
    try:
        sets = generate_with_store(
            backend,
            opened,
            run_id,
            prompts,
            num_samples,
            answer_params,
            sample_params,
            progress=progress,
        )
    except KeyboardInterrupt:
        total = len(prompts) * (1 + num_samples)
        left = len(opened.missing_generations(run_id, num_samples))
        opened.close()
        raise JobInterrupted(
            f"{total - left} of {total} generations are saved in {store} (run "
            f"{run_id!r}); run the same command again to draw only the other {left}"
        ) from None
    return sets, StoredRun(opened, run_id, store)
