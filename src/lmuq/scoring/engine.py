"""The one scoring entry point: ``score(sample_sets, scorers, context) -> UQResult``.

Every orchestrator (``WhiteBoxUQ``, ``BlackBoxUQ``, the judges, file and Ray scoring) calls
this. It resolves the scorers in the registry (or takes ready specs), gathers the shared
statistics once for all rows, then applies the pure scorer functions row by row and lays
the values out as a :class:`~lmuq.results.UQResult`. It keeps nothing between calls.

Statistics are gathered in two ways:

* sentence embeddings and BERTScore encodings of every distinct text, in one call each;
* everything read through a lookup (NLI pairs, judge replies, teacher-forced log-probs) by
  *planning rounds*: each round replays the pending (row, scorer) computations with a
  planning context, where a lookup that misses raises
  :class:`~lmuq.statistics.missing.MissingStatistics`; the missing keys of all rows are
  computed source by source in one batched call, and the rounds repeat until every
  computation completes (see :mod:`lmuq.statistics.missing`). On an accelerator the NLI
  cache runs whole model batches only and leaves a round's partial batch to the next round,
  so the model sees about as few passes as if every pair had been known at the start.

:func:`ascore` is the async twin: the same rounds, with the sources filled concurrently
(judges through their ``agenerate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any, Literal

from lmuq.results import UQResult
from lmuq.scoring.blackbox import CLUSTER_ONLY
from lmuq.scoring.context import Equivalence, ScoringContext, Similarity
from lmuq.scoring.registry import resolve_scorers
from lmuq.scoring.spec import ScorerSpec
from lmuq.scoring.whitebox import SIMILARITY_SCORERS
from lmuq.statistics.missing import MissingStatistics
from lmuq.twins import async_twin
from lmuq.types import SampleSet

__all__ = ["ascore", "required_statistics", "score"]

OnError = Literal["raise", "nan"]
_Batch = list[tuple[Any, list[Any]]]


def score(
    sample_sets: Sequence[SampleSet],
    scorers: str | ScorerSpec | Sequence[str | ScorerSpec],
    context: ScoringContext | None = None,
    *,
    on_error: OnError = "raise",
    progress: bool = False,
) -> UQResult:
    """Apply the scorers to each sample set.

    Args:
        sample_sets: one per prompt, in prompt order.
        scorers: registered names (see :data:`lmuq.scoring.SCORERS`) or ready
            :class:`~lmuq.scoring.spec.ScorerSpec` s (a judge bound to its own model).
        context: shared statistics and options (NLI model, embedder, judge, clustering
            choices); default: an empty context (scorers that need a model say so).
        on_error: ``"raise"`` stops at the first input a scorer rejects, naming the row and
            scorer; ``"nan"`` records NaN and the reason in ``score_errors`` and goes on.
            A generation that failed upstream (``Generation.error``) and a scorer that ran
            but found no value (an unreadable judge reply) always give NaN with the reason,
            never an exception.
        progress: show a progress bar (statistics rounds, then the rows).
    """
    sets, specs, ctx = _prepare(sample_sets, scorers, context, on_error)
    with _Progress(progress, len(sets)) as bar:
        _prefetch_encodings(sets, specs, ctx)
        for batch in _planning_rounds(sets, specs, ctx):
            bar.round(batch)
            for source, keys in batch:
                _fill_round(source)(keys)
        return _score_rows(sets, specs, ctx, on_error, bar)


@async_twin(score)
async def ascore(
    sample_sets: Sequence[SampleSet],
    scorers: Any,
    context: ScoringContext | None = None,
    **options: Any,
) -> UQResult:
    """Async twin of :func:`score` (same values): each round's sources fill concurrently,
    judges through ``agenerate``, model-bound sources in worker threads."""
    on_error = options.get("on_error", "raise")
    sets, specs, ctx = _prepare(sample_sets, scorers, context, on_error)
    with _Progress(options.get("progress", False), len(sets)) as bar:
        await asyncio.to_thread(_prefetch_encodings, sets, specs, ctx)
        for batch in _planning_rounds(sets, specs, ctx):
            bar.round(batch)
            await asyncio.gather(*(_afill(source, keys) for source, keys in batch))
        return await asyncio.to_thread(_score_rows, sets, specs, ctx, on_error, bar)


def required_statistics(
    scorers: str | ScorerSpec | Sequence[str | ScorerSpec],
    equivalence: Equivalence = "nli",
    similarity: Similarity = "embedding",
) -> set[str]:
    """The models the scorers need: ``"nli"``, ``"embeddings"``, ``"bertscore"``,
    ``"bleurt"``, ``"judge"``.

    A semantic scorer that reads NLI only through clustering needs an NLI model only when
    clustering by NLI (``equivalence="nli"``); clustering by embeddings needs the embedder.
    The scorers of ``SIMILARITY_SCORERS`` (CoCoA, SAR) need the embedder with
    ``similarity="embedding"`` and the NLI model with ``similarity="nli"``.
    """
    specs = resolve_scorers(scorers)
    out: set[str] = set()
    for spec in specs:
        out |= _statistics(spec, equivalence, similarity)
    return out


def _statistics(spec: ScorerSpec, equivalence: str, similarity: str) -> set[str]:
    needs = set(spec.needs)
    if spec.name in CLUSTER_ONLY and equivalence != "nli":
        needs.discard("nli")
        if equivalence == "embedding":
            needs.add("embeddings")
    if spec.name in SIMILARITY_SCORERS and similarity == "nli":
        needs.discard("embeddings")
        needs.add("nli")
    return needs & {"nli", "embeddings", "bertscore", "bleurt", "judge"}


def _fill_round(source: Any) -> Any:
    """The source's ``fill_round`` where it has one (it may leave keys for the next round),
    else its ``fill``."""
    fill_round = getattr(source, "fill_round", None)
    return fill_round if callable(fill_round) else source.fill


async def _afill(source: Any, keys: list[Any]) -> None:
    afill = getattr(source, "afill", None)
    if callable(afill):
        await afill(keys)
    else:
        await asyncio.to_thread(_fill_round(source), keys)


def _prepare(
    sample_sets: Sequence[SampleSet],
    scorers: Any,
    context: ScoringContext | None,
    on_error: str,
) -> tuple[list[SampleSet], list[ScorerSpec], ScoringContext]:
    if sample_sets is None:
        raise TypeError("sample_sets is None: pass a list of SampleSet (one per prompt)")
    if isinstance(sample_sets, SampleSet):
        sample_sets = [sample_sets]
    sets = list(sample_sets)
    if not sets:
        raise ValueError("no sample sets to score: pass at least one SampleSet")
    for i, ss in enumerate(sets):
        if not isinstance(ss, SampleSet):
            raise TypeError(f"sample_sets[{i}] is a {type(ss).__name__}, expected SampleSet")
    if on_error not in ("raise", "nan"):
        raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
    if context is not None and not isinstance(context, ScoringContext):
        raise TypeError(f"context must be a ScoringContext, got {type(context).__name__}")
    return sets, resolve_scorers(scorers), context or ScoringContext()


class _Progress:
    """A progress bar over the rows, noting each statistics round while it runs."""

    def __init__(self, enabled: bool, rows: int) -> None:
        self.bar = None
        self.rounds = self.asked = 0
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=rows, desc="Scoring", unit="row")

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()

    def round(self, batch: _Batch) -> None:
        self.rounds += 1
        self.asked += sum(len(keys) for _, keys in batch)
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"statistics: round {self.rounds}, {self.asked} asked", refresh=True
            )

    def row(self) -> None:
        if self.bar is not None:
            self.bar.update(1)


def _texts(sets: list[SampleSet]) -> list[str]:
    return list(dict.fromkeys(t for ss in sets for t in (ss.answer.text, *ss.sample_texts)))


def _prefetch_encodings(
    sets: list[SampleSet], specs: list[ScorerSpec], ctx: ScoringContext
) -> None:
    """Encode every distinct text once, in one call, before scoring row by row: the
    responses, and whatever else a scorer declares it embeds (``ScorerSpec.embeds``).
    Long-form scorers compare units, not whole responses: they encode their units
    themselves."""
    specs = [s for s in specs if s.family != "long-form"]
    wants_emb = any(
        "embeddings" in _statistics(s, ctx.equivalence, ctx.similarity) for s in specs
    ) or (ctx.equivalence == "embedding" and any("nli" in s.needs for s in specs))
    if ctx.embedder is not None:
        texts = _texts(sets) if wants_emb else []
        texts += _declared_texts(sets, specs, ctx)
        if texts:
            ctx.embedder.encode(list(dict.fromkeys(texts)))
    if any("bertscore" in s.needs for s in specs) and ctx.bertscorer is not None:
        prefetch = getattr(ctx.bertscorer, "prefetch", None)
        if prefetch is not None:
            prefetch(_texts(sets))


def _declared_texts(
    sets: list[SampleSet], specs: list[ScorerSpec], ctx: ScoringContext
) -> list[str]:
    out: list[str] = []
    for spec in specs:
        if spec.embeds is None:
            continue
        for ss in sets:
            if _failed_input(spec.needs, ss) is not None:
                continue
            # an input the scorer rejects is reported by the scoring pass
            with contextlib.suppress(ValueError, TypeError):
                out.extend(spec.embeds(ss, ctx))
    return out


def _planning_rounds(
    sets: list[SampleSet], specs: list[ScorerSpec], ctx: ScoringContext
) -> Iterator[_Batch]:
    """Yield, round by round, the missing statistics of every pending computation, grouped
    by source; the caller fills them before asking for the next round."""
    planning = ctx.planning()
    pending = [(ss, spec) for ss in sets for spec in specs if _failed_input(spec.needs, ss) is None]
    asked_before: dict[int, frozenset[Any]] = {}
    while pending:
        missing: dict[int, tuple[Any, dict[Any, None]]] = {}
        still = []
        for ss, spec in pending:
            try:
                spec.compute(ss, planning)
            except MissingStatistics as exc:
                for source, keys in exc.requests:
                    missing.setdefault(id(source), (source, {}))[1].update(dict.fromkeys(keys))
                still.append((ss, spec))
            except (ValueError, TypeError):
                pass  # reported by the scoring pass
        if not missing:
            return
        asked = {sid: frozenset(keys) for sid, (_, keys) in missing.items()}
        if asked == asked_before:  # the last fill made none of them available
            source, keys = next(iter(missing.values()))
            raise RuntimeError(
                f"the statistics source {type(source).__name__} was asked for the same "
                f"{len(keys)} keys in two rounds running: its fill() / fill_round() must make "
                "the keys it computes readable by its lookups"
            )
        asked_before = asked
        yield [(source, list(keys)) for source, keys in missing.values()]
        pending = still


def _score_rows(
    sets: list[SampleSet],
    specs: list[ScorerSpec],
    ctx: ScoringContext,
    on_error: str,
    bar: _Progress,
) -> UQResult:
    columns: dict[str, list] = {
        "prompt": [ss.prompt for ss in sets],
        "response": [ss.answer.text for ss in sets],
        "sampled_responses": [ss.sample_texts for ss in sets],
    }
    for spec in specs:
        columns[spec.name] = []
        for raw in spec.raw_columns:
            columns.setdefault(raw, [])
    row_details: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    for i, ss in enumerate(sets):
        row_errors: dict[str, str] = {}
        row_raw: dict[str, float] = {}
        kept: dict[str, Any] = {}
        for spec in specs:
            upstream = _failed_input(spec.needs, ss)
            if upstream is not None:
                row_errors[spec.name] = upstream
                columns[spec.name].append(math.nan)
            else:
                try:
                    value = spec.compute(ss, ctx)
                except (ValueError, TypeError) as exc:
                    if on_error == "raise":
                        raise type(exc)(
                            f"row {i} ({ss.prompt[:60]!r}), scorer {spec.name}: {exc}"
                        ) from exc
                    row_errors[spec.name] = str(exc)
                    columns[spec.name].append(math.nan)
                else:
                    if value.detail is not None:
                        kept[spec.name] = value.detail
                    if value.error is not None:
                        row_errors[spec.name] = value.error
                        columns[spec.name].append(math.nan)
                    else:
                        columns[spec.name].append(value.confidence)
                    row_raw.update(value.raw)
        # Raw columns shared by several scorers (e.g. num_semantic_sets) are filled once.
        for spec in specs:
            for raw in spec.raw_columns:
                if len(columns[raw]) == i:
                    columns[raw].append(row_raw.get(raw, math.nan))
        row_details.append(kept)
        errors.append(row_errors)
        bar.row()
    columns["score_errors"] = errors
    with_details = [s.name for s in specs if any(s.name in row for row in row_details)]
    return UQResult(
        columns=columns,
        scorers=[s.name for s in specs],
        sample_sets=sets,
        metadata={
            "equivalence": ctx.equivalence,
            "strict_entailment": ctx.strict_entailment,
            "use_best": ctx.use_best,
            "clustering": ctx.clustering,
            "best_response": ctx.best_response,
            "condition_on_question": ctx.condition_on_question,
            "similarity": ctx.similarity,
            "nli_model": getattr(ctx.nli, "name", None),
        },
        raw_columns={s.name: s.raw_columns for s in specs},
        details={name: [row.get(name) for row in row_details] for name in with_details},
    )


_ANSWER_NEEDS = frozenset(
    {
        "answer",
        "answer_logprobs",
        "answer_top_logprobs",
        "answer_tokens",
        "answer_internals",
        "samples",
        "judge",
    }
)


def _failed_input(needs: frozenset[str], ss: SampleSet) -> str | None:
    """The upstream error of the first failed generation this scorer reads, if any."""
    if ss.answer.failed and needs & _ANSWER_NEEDS:
        return f"generation failed (answer): {ss.answer.error}"
    if needs & {"sample_logprobs", "sample_tokens", "sample_internals", "samples"}:
        for j, s in enumerate(ss.samples):
            if s.failed:
                return f"generation failed (sample {j}): {s.error}"
    return None
