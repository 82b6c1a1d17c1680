"""The job's configuration, checked before anything is loaded: :class:`DemoConfig`.

Kept apart from the job so that ``lmuq --help`` reads the defaults without importing the
scorers, models or evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["ConfigError", "DemoConfig"]


@dataclass
class DemoConfig:
    dataset: str = "capitals"
    # None: every question of the set (239 capitals: AUROC intervals about ±0.05 instead
    # of ±0.1); 60 keeps the demo at about 3 minutes on 2 cores
    n_questions: int | None = 60
    num_samples: int = 5
    seed: int = 0
    max_new_tokens: int = 32
    # chosen by bench/sampling_sweep.py on a calibration split of the capitals set (best
    # mean AUROC of the sample-based scorers), confirmed on held-out questions (0.724 vs
    # 0.689 at T = 1); --temperature 1 --top-p 1 gives the full distribution
    sample_temperature: float = 0.5
    sample_top_p: float | None = 0.9
    sample_top_k: int | None = None
    batch_size: int = 8
    top_logprobs: int = 10
    model: str | None = None  # None: the embedded default model
    base_url: str | None = None  # an OpenAI-compatible server serving `model` (vLLM, ...)
    out_dir: str = "lmuq-out"
    n_boot: int = 1000
    max_rejection: float = 0.5
    scorers: tuple[str, ...] | None = None  # None: the model-free white-box scorers
    blackbox: bool = True
    nli_model: str | None = None  # None: black-box scorers that need no NLI model
    # the consistency scorers compare the answers extracted from the responses
    extract_answers: bool = True
    store: str | None = None  # SQLite run store: generations are saved as they arrive
    run_name: str | None = None  # None: derived from the generation settings
    progress: bool = True

    def whitebox_scorers(self) -> tuple[str, ...]:
        """The white-box scorers to run: ``scorers``, or every white-box scorer that needs no
        model beyond the generations."""
        if self.scorers is not None:
            return tuple(self.scorers)
        from lmuq.uq.whitebox import DEFAULT_WHITEBOX_SCORERS

        return DEFAULT_WHITEBOX_SCORERS

    def check(self) -> None:
        """Refuse a configuration that would fail later, before anything is loaded or drawn.

        Messages name the CLI flag (``--scorers``, ``--nli-model``, ...) and what to pass.
        """
        from lmuq.datasets import DATASETS
        from lmuq.scoring.registry import get_scorer

        if self.dataset not in DATASETS:
            raise ConfigError(
                f"--dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}"
            )
        if self.num_samples < 2:
            raise ConfigError(
                "--num-samples must be >= 2: the sample-based scorers compare samples"
            )
        for name in self.whitebox_scorers():
            try:
                spec = get_scorer(name)
            except ValueError as exc:
                raise ConfigError(f"--scorers: {exc}") from None
            if spec.family == "judged":
                raise ConfigError(
                    f"--scorers: {name} is a judged scorer (it needs a judge model); the job "
                    "runs the white-box and black-box families"
                )
            if self.base_url and spec.needs & {"answer_internals", "sample_internals"}:
                raise ConfigError(
                    f"--scorers: {name} reads the model's attention and hidden states, which "
                    "only a local model gives (a server behind --base-url cannot return "
                    "them): drop it, or run a local --model"
                )
        if self.sample_top_p is not None and not 0.0 < self.sample_top_p <= 1.0:
            raise ConfigError(f"--top-p must be in (0, 1], got {self.sample_top_p}")
        if self.sample_top_k is not None and self.sample_top_k < 1:
            raise ConfigError(f"--top-k must be >= 1, got {self.sample_top_k}")
        if self.sample_temperature < 0:
            raise ConfigError(f"--temperature must be >= 0, got {self.sample_temperature}")
        if self.base_url and not self.model:
            raise ConfigError("--base-url needs --model NAME (the model name the server serves)")
        if self.model and not self.base_url:
            from lmuq.model_source import looks_like_path

            if looks_like_path(self.model) and not Path(self.model).expanduser().exists():
                raise ConfigError(f"--model: the folder {self.model!r} does not exist")
        if self.nli_model:
            from lmuq.model_source import looks_like_path

            if looks_like_path(self.nli_model) and not Path(self.nli_model).expanduser().exists():
                raise ConfigError(f"--nli-model: the folder {self.nli_model!r} does not exist")
            if not self.blackbox:
                raise ConfigError("--nli-model is for the black-box scorers: drop --no-blackbox")
        self._check_extras()

    def _check_extras(self) -> None:
        from lmuq.extras import require

        def need(module: str, extra: str, purpose: str, flag: str) -> None:
            try:
                require(module, extra, purpose)
            except ImportError as exc:
                raise ConfigError(f"{flag}: {exc}") from None

        if self.base_url:
            need("openai", "openai", "OpenAI-compatible servers", "--base-url")
        else:
            need("torch", "hf", "local models", "--model" if self.model else "the embedded model")
            need(
                "transformers",
                "hf",
                "local models",
                "--model" if self.model else "the embedded model",
            )
        if self.nli_model:
            need("transformers", "hf", "NLI models", "--nli-model")
        if self.blackbox:
            need(
                "sentence_transformers",
                "embeddings",
                "cosine_sim and BERTScore",
                "black-box scorers (or --no-blackbox)",
            )


class ConfigError(ValueError):
    """A job configuration that cannot work; the message names the flag and the fix."""
