"""The settings of ``lmuq longform`` (:func:`lmuq.app.longform_job.run_longform`).

Apart from the job so that the CLI can read its defaults for ``--help`` without importing
the scoring layer; :meth:`LongFormConfig.check` reads the scorer registry only when called.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmuq.app.config import ConfigError
from lmuq.claims.prompts import DECOMPOSITION_PROMPTS

__all__ = [
    "CLAIM_LENGTH_BASELINE",
    "MODEL_FREE_SCORERS",
    "NLI_SCORERS",
    "LongFormConfig",
    "needs_nli",
]

#: Not a scorer: minus the claim's length in characters, evaluated like the scorers.
CLAIM_LENGTH_BASELINE = "baseline:short_claim"
#: Scorers that need no NLI model (the embedded MiniLM encoder serves both).
MODEL_FREE_SCORERS = ("claim_cosine_sim", "claim_bert_score")
#: Added when an NLI judge is given (--nli-model, or --llm-nli).
NLI_SCORERS = ("claim_entailment", "claim_noncontradiction", "claim_contrasted_entailment")


@dataclass
class LongFormConfig:
    """Settings of :func:`run_longform`; :meth:`check` refuses a bad one before any model
    loads, naming the CLI flag."""

    # 60: about 90 labelled sentences, claim-AUROC intervals about ±0.11 (docs/longform.md)
    n_prompts: int = 60
    num_samples: int = 4
    seed: int = 0
    max_new_tokens: int = 64
    # the short-form demo's sampling (bench/sampling_sweep.py)
    sample_temperature: float = 0.5
    sample_top_p: float | None = 0.9
    batch_size: int = 8
    model: str | None = None
    base_url: str | None = None
    scorers: tuple[str, ...] | None = None  # None: MODEL_FREE_SCORERS (+ NLI_SCORERS)
    nli_model: str | None = None
    llm_nli: bool = False  # the generating model judges entailment (LLM-as-NLI)
    granularity: str = "sentence"  # "claim": the generating model extracts the claims
    decomposition_prompt: str = "zhang_2025"  # a DECOMPOSITION_PROMPTS preset
    store: str | None = None  # run store: generations (and NLI verdicts) kept, resumable
    run_name: str | None = None
    n_boot: int = 1000
    out_dir: str = "lmuq-out/longform"
    progress: bool = True

    def scorer_names(self) -> tuple[str, ...]:
        if self.scorers is not None:
            return tuple(self.scorers)
        judged = self.nli_model is not None or self.llm_nli
        return MODEL_FREE_SCORERS + (NLI_SCORERS if judged else ())

    def check(self) -> None:
        from lmuq.scoring.longform import LONGFORM_SCORERS

        if self.n_prompts < 1:
            raise ConfigError(f"-n/--n-prompts must be >= 1, got {self.n_prompts}")
        if self.num_samples < 1:
            raise ConfigError(f"--num-samples must be >= 1, got {self.num_samples}")
        if self.sample_temperature < 0:
            raise ConfigError(f"--temperature must be >= 0, got {self.sample_temperature}")
        if self.sample_top_p is not None and not 0.0 < self.sample_top_p <= 1.0:
            raise ConfigError(f"--top-p must be in (0, 1], got {self.sample_top_p}")
        if self.nli_model and self.llm_nli:
            raise ConfigError("--nli-model and --llm-nli both pick the NLI judge: pass one")
        if self.base_url and not self.model:
            raise ConfigError("--base-url needs --model NAME (the model name the server serves)")
        if self.granularity not in ("sentence", "claim"):
            raise ConfigError(
                f"--granularity must be 'sentence' or 'claim', got {self.granularity!r}"
            )
        if self.decomposition_prompt not in DECOMPOSITION_PROMPTS:
            raise ConfigError(
                f"--decomposition-prompt: {self.decomposition_prompt!r} is not a preset; "
                f"choose from {', '.join(DECOMPOSITION_PROMPTS)}"
            )
        if self.run_name is not None and not self.store:
            raise ConfigError("--run-name names a run in a store: pass --store FILE as well")
        names = self.scorer_names()
        if not names:
            raise ConfigError("--scorers is empty: name at least one long-form scorer")
        for name in names:
            if name not in LONGFORM_SCORERS:
                raise ConfigError(
                    f"--scorers: {name!r} is not a long-form scorer; choose from "
                    f"{', '.join(LONGFORM_SCORERS)}"
                )
            if name == "claim_context_support":
                raise ConfigError(
                    "--scorers: claim_context_support checks claims against given context, "
                    "which the country set has none of (use `lmuq score` with a context field)"
                )
            if needs_nli(name) and not (self.nli_model or self.llm_nli):
                raise ConfigError(
                    f"--scorers: {name} needs an NLI judge: pass --nli-model PATH_OR_HUB_ID, "
                    "or --llm-nli (the generating model judges)"
                )


def needs_nli(scorer: str) -> bool:
    """Whether a long-form scorer needs an NLI judge (all but the embedding ones)."""
    return scorer not in MODEL_FREE_SCORERS
