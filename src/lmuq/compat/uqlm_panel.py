"""``LLMPanel``: UQLM 0.6's panel of LLM judges, on lmuq's judges and scoring engine.

``from lmuq import LLMPanel`` is this class (UQLM's signature and its async
``generate_and_score`` / ``score`` returning a :class:`~lmuq.results.UQResult` with the
columns ``judge_1`` ... ``judge_k``, ``judge_k_explanation`` with ``explanations``, and the
aggregates ``avg``, ``max``, ``min``, ``median``). lmuq's own panel, whose ``score`` returns
one aggregated value per question, is :class:`lmuq.uq.LLMPanel`.

Each judge is an :class:`~lmuq.uq.judged.LLMJudge` (given, or built from a LangChain chat
model / lmuq backend with its ``scoring_templates`` entry: ``"true_false_uncertain"``,
``"true_false"``, ``"continuous"``, ``"likert"``); their calls are batched in one scoring
pass. An aggregate leaves out the judges whose reply could not be read (UQLM retries such
replies up to five times and then propagates NaN); a row where every judge failed is NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lmuq.backends.resolve import as_backend, is_backend
from lmuq.backends.sync import run_sync
from lmuq.generation.draws import adraw
from lmuq.results import UQResult
from lmuq.scoring.functional.llm_judge import panel_aggregate
from lmuq.types import Generation, SampleSet, SamplingParams
from lmuq.uq.judged import LLMJudge
from lmuq.uq.scorer import UQScorer

__all__ = ["LLMPanel"]

_AGGREGATES = {"avg": "mean", "max": "max", "min": "min", "median": "median"}


class LLMPanel:
    """UQLM 0.6's ``LLMPanel`` (see the module docstring).

    Args:
        judges: :class:`~lmuq.uq.judged.LLMJudge` instances, LangChain chat models or lmuq
            backends.
        llm: the model that answers the prompts in :meth:`generate_and_score`.
        system_prompt / max_calls_per_min: a LangChain ``llm``'s settings (the rate limit
            also applies to judges built here from LangChain models).
        scoring_templates: one template per judge (default ``"true_false_uncertain"``);
            applies to the judges built here, a given ``LLMJudge`` keeps its scale.
        explanations: ask every judge for an explanation (``judge_k_explanation``).
        additional_context: text that opens the prompts of the judges built here.

    Parameters are stored under their own names and never changed by scoring.
    """

    def __init__(
        self,
        judges: Sequence[Any],
        llm: Any = None,
        system_prompt: str | None = None,
        max_calls_per_min: int | None = None,
        scoring_templates: Sequence[str] | None = None,
        explanations: bool = False,
        additional_context: str | None = None,
    ) -> None:
        if isinstance(judges, (str, bytes)) or not isinstance(judges, Sequence) or not judges:
            raise ValueError("judges must be a non-empty list of judges")
        if scoring_templates is not None and len(scoring_templates) != len(judges):
            raise ValueError(
                "Length of scoring_templates list must be equal to length of judges list"
            )
        self.judges = judges
        self.llm = llm
        self.system_prompt = system_prompt
        self.max_calls_per_min = max_calls_per_min
        self.scoring_templates = scoring_templates
        self.explanations = explanations
        self.additional_context = additional_context
        self._members = self._build_members()
        self._core = UQScorer([j.spec(name=f"judge_{k + 1}") for k, j in enumerate(self._members)])

    def _build_members(self) -> list[LLMJudge]:
        templates = list(self.scoring_templates or ["true_false_uncertain"] * len(self.judges))
        members = []
        for i, (j, template) in enumerate(zip(self.judges, templates, strict=True)):
            if isinstance(j, LLMJudge):
                if self.explanations and not j.explanations:
                    j = LLMJudge(
                        j.backend,
                        j.scale,
                        j.params,
                        explanations=True,
                        additional_context=j.additional_context,
                        instruction=j.instruction,
                        keywords_to_scores=j.keywords_to_scores,
                    )
                members.append(j)
                continue
            from lmuq.backends.langchain import is_langchain_chat_model

            if not (is_langchain_chat_model(j) or is_backend(j)):
                raise ValueError(
                    f"judges[{i}] is a {type(j).__name__}: judges must be LLMJudge instances, "
                    "LangChain chat models or lmuq backends"
                )
            backend = as_backend(j, max_calls_per_min=self.max_calls_per_min, owner="LLMPanel")
            members.append(
                LLMJudge(
                    backend,
                    template,
                    explanations=self.explanations,
                    additional_context=self.additional_context,
                )
            )
        return members

    @property
    def members(self) -> list[LLMJudge]:
        """The judges as :class:`~lmuq.uq.judged.LLMJudge` objects, in order."""
        return list(self._members)

    async def score(
        self,
        prompts: Sequence[str],
        responses: Sequence[str] | None = None,
        show_progress_bars: bool = True,
    ) -> UQResult:
        """Judge the responses to the prompts (UQLM's ``score``)."""
        if isinstance(prompts, str) or responses is None or isinstance(responses, str):
            raise TypeError("prompts and responses must be lists of str")
        if len(prompts) != len(responses):
            raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
        for what, texts in (("prompts", prompts), ("responses", responses)):
            for i, t in enumerate(texts):
                if not isinstance(t, str):
                    raise TypeError(f"{what}[{i}] is a {type(t).__name__}, expected str")
        sets = [SampleSet(p, Generation(r), []) for p, r in zip(prompts, responses, strict=True)]
        result = await self._core.ascore(sets, progress=show_progress_bars)
        names = [f"judge_{k + 1}" for k in range(len(self._members))]
        if self.explanations:
            for name in names:
                result.columns[f"{name}_explanation"] = [
                    d.explanation for d in result.details[name]
                ]
        rows = list(zip(*(result.columns[n] for n in names), strict=True))
        for column, how in _AGGREGATES.items():
            result.columns[column] = [panel_aggregate(list(r), how) for r in rows]
        result.metadata["num_judges"] = len(names)
        return result

    async def generate_and_score(
        self, prompts: Sequence[str], show_progress_bars: bool = True
    ) -> UQResult:
        """Answer each prompt with ``llm`` (its own temperature; greedy for an lmuq
        backend), then judge the answers."""
        if not all(isinstance(p, str) for p in prompts):
            raise ValueError("prompts must be list of strings when using LLMPanel")
        backend = as_backend(
            self.llm,
            system_prompt=self.system_prompt,
            max_calls_per_min=self.max_calls_per_min,
            owner="LLMPanel",
        )
        temp = getattr(self.llm, "temperature", None)
        sets = await adraw(
            backend,
            list(prompts),
            0,
            answer_params=SamplingParams(temperature=float(temp) if temp is not None else 0.0),
            progress=show_progress_bars,
        )
        return await self.score(list(prompts), [ss.answer.text for ss in sets], show_progress_bars)

    def generate_and_score_sync(
        self, prompts: Sequence[str], show_progress_bars: bool = True
    ) -> UQResult:
        """Synchronous twin of :meth:`generate_and_score`."""
        return run_sync(lambda: self.generate_and_score(prompts, show_progress_bars))
