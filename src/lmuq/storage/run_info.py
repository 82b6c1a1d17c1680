"""What a store says about a run: how its generations are drawn, and how far it got."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from lmuq.generation.draws import sample_set_params
from lmuq.types import SamplingParams

__all__ = ["GenerationSpec", "RunInfo"]


@dataclass(frozen=True)
class GenerationSpec:
    """How a run's generations are drawn; bound to the run by the first resume.

    Resuming with a different backend name or different sampling parameters is refused
    (mixing samples drawn two ways would silently bias every score); ``num_samples`` may
    change (it records the latest request).
    """

    backend: str
    answer_params: dict[str, Any]
    sample_params: dict[str, Any]
    num_samples: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationSpec:
        return cls(
            backend=str(data["backend"]),
            answer_params=dict(data["answer_params"]),
            sample_params=dict(data["sample_params"]),
            num_samples=int(data["num_samples"]),
        )

    def sample_set_params(self, num_samples: int) -> dict[str, Any]:
        """The ``SampleSet.params`` that :func:`~lmuq.generation.draws` sets."""
        return sample_set_params(
            self.backend,
            SamplingParams(**self.answer_params),
            SamplingParams(**self.sample_params),
            num_samples,
        )


@dataclass(frozen=True)
class RunInfo:
    """One run in :meth:`RunStore.runs`: its settings and how far it got."""

    run_id: str
    created: str
    settings: dict[str, Any]
    num_prompts: int
    num_generations: int
    num_failed: int
    num_scores: int
    num_labels: int
    generation: GenerationSpec | None = field(default=None)
