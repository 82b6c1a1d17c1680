"""Score large tables of (prompt, response, samples) rows on Ray Data.

The rows are those of :func:`lmuq.app.score_file.score_jsonl` (``prompt``, ``response``,
``sampled_responses``, optional ``logprobs`` / ``sampled_logprobs``; any other field is
passed through). :func:`score_dataset_on_ray` maps them with
``ray.data.Dataset.map_batches`` onto an actor pool of :class:`BatchScorer`:

* each actor builds **one** :class:`~lmuq.uq.scorer.UQScorer`, so the NLI and embedding
  models load once per actor, not once per batch;
* each call scores a whole pandas batch with it, so the scoring engine's cross-row batching
  (one embedding call for every distinct text, NLI pairs batched across prompts) works
  inside the batch, exactly as on a chunk of ``score_jsonl``; the results equal the local
  path's row by row.

Output columns: the input columns, one float64 column per scorer (NaN where undefined),
the scorers' raw-value columns (float64), ``best_response`` when ``use_best`` is on, and
``score_errors``: a JSON object string (scorer -> reason; ``"{}"`` when none) so that Arrow
can hold it. Written as JSONL, NaN becomes ``null``.

Models are built **inside each actor**: pass ``nli_factory`` / ``embedder_factory``
(picklable zero-argument callables, e.g. a class, a module-level function,
``functools.partial``, :class:`NLIFactory`, :class:`EmbedderFactory`) in ``blackbox_kwargs``
rather than ready model objects, which would be pickled to every actor. Without them the
actor builds the defaults (``nli_model_name``, the packaged MiniLM).

Memory stays bounded: Ray Data streams blocks through the pool (nothing is materialised on
the driver unless you ask for a DataFrame), and each actor's in-memory NLI / embedding
caches are emptied once they hold more than ``cache_limit`` entries. Persistent caches
(:mod:`lmuq.storage.cache_file`) bound themselves and are flushed after every batch.

Needs ``pip install 'lmuq[ray]'``.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from lmuq.codec import INPUT_FIELDS, plain, sample_set_from_record
from lmuq.extras import require
from lmuq.scoring.registry import resolve_scorers
from lmuq.uq.scorer import UQScorer

if TYPE_CHECKING:
    import ray.data

__all__ = [
    "DEFAULT_CACHE_LIMIT",
    "BatchScorer",
    "EmbedderFactory",
    "NLIFactory",
    "score_dataset_on_ray",
    "score_jsonl_on_ray",
    "score_records_on_ray",
]

#: Default bound on each actor's in-memory NLI pairs and embeddings (each, entries).
DEFAULT_CACHE_LIMIT = 50_000

_FACTORIES = {"nli_factory": "nli_model", "embedder_factory": "embedder"}
_SCORER_OPTIONS = frozenset(inspect.signature(UQScorer).parameters) - {"scorers", "on_error"}


# ---------------------------------------------------------------------------- factories


@dataclass(frozen=True)
class NLIFactory:
    """Builds an :class:`~lmuq.statistics.nli.HFNLIModel` inside each actor (picklable).

    With ``cache_path`` the model is wrapped in a
    :class:`~lmuq.storage.nli_cache.PersistentCachedNLI` on that SQLite file, so
    pairs computed by one run (or actor) serve the next. Use a node-local path: SQLite
    over a network filesystem is not safe.
    """

    model_name_or_path: str
    device: str | None = None
    batch_size: int = 32
    cache_path: str | None = None

    def __call__(self) -> Any:
        from lmuq.statistics.nli import HFNLIModel

        model = HFNLIModel(self.model_name_or_path, device=self.device, batch_size=self.batch_size)
        if self.cache_path is None:
            return model
        from lmuq.storage.nli_cache import PersistentCachedNLI, PersistentNLICache

        return PersistentCachedNLI(model, PersistentNLICache(self.cache_path))


@dataclass(frozen=True)
class EmbedderFactory:
    """Builds a :class:`~lmuq.statistics.embeddings.SentenceEmbedder` inside each actor.

    ``model_name_or_path=None`` is the packaged all-MiniLM-L6-v2 (offline). With
    ``cache_path`` the embeddings live in a
    :class:`~lmuq.storage.embedding_cache.PersistentEmbeddingCache` on that file (node-local).
    """

    model_name_or_path: str | None = None
    device: str | None = None
    batch_size: int = 64
    cache_path: str | None = None

    def __call__(self) -> Any:
        from lmuq.statistics.embeddings import SentenceEmbedder

        cache = None
        if self.cache_path is not None:
            from lmuq.storage.embedding_cache import PersistentEmbeddingCache

            cache = PersistentEmbeddingCache(self.cache_path)
        return SentenceEmbedder(
            self.model_name_or_path, device=self.device, batch_size=self.batch_size, cache=cache
        )


# ---------------------------------------------------------------------------- options


def _check_scorers(scorers: Sequence[str]) -> list[str]:
    if isinstance(scorers, str):
        scorers = [scorers]
    names = list(scorers)
    if not names:
        raise ValueError("scorers is empty: name at least one scorer")
    resolve_scorers(names)
    return names


def _blackbox_kwargs(blackbox_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """:class:`~lmuq.uq.scorer.UQScorer` options (BlackBoxUQ's ``bleurt_model`` is read as
    ``bleurt``), with file scoring's default ``use_best=False``."""
    if blackbox_kwargs is None:
        blackbox_kwargs = {}
    if not isinstance(blackbox_kwargs, Mapping):
        raise TypeError(f"blackbox_kwargs must be a dict, got {type(blackbox_kwargs).__name__}")
    kwargs = {"use_best": False, **blackbox_kwargs}
    if "bleurt_model" in kwargs:
        kwargs["bleurt"] = kwargs.pop("bleurt_model")
    unknown = sorted(set(kwargs) - _SCORER_OPTIONS - set(_FACTORIES) - {"scorers", "llm"})
    if unknown:
        raise ValueError(
            f"blackbox_kwargs has options Ray scoring does not take: {unknown}; it takes "
            f"{sorted(_SCORER_OPTIONS | set(_FACTORIES))} (responses are scored as given: "
            "postprocess them before)"
        )
    for key in ("scorers", "llm"):
        if key in kwargs:
            raise ValueError(
                f"blackbox_kwargs must not hold {key!r}: pass scorers as an argument; "
                "scoring on Ray scores given responses and calls no LLM"
            )
    for factory, target in _FACTORIES.items():
        if kwargs.get(factory) is None:
            kwargs.pop(factory, None)
            continue
        if not callable(kwargs[factory]):
            raise TypeError(f"{factory} must be a zero-argument callable")
        if kwargs.get(target) is not None:
            raise ValueError(f"pass either {factory} or {target}, not both")
    return kwargs


# ---------------------------------------------------------------------------- the actor


class BatchScorer:
    """Scores pandas batches of records: the callable class Ray Data runs in each actor.

    It can also be used directly, without Ray, on a DataFrame.

    Args:
        scorers: scorer names (any family, as ``score_jsonl``).
        blackbox_kwargs: options of :class:`~lmuq.uq.scorer.UQScorer` (``equivalence``,
            ``nli_model_name``, ``strict_entailment``, ...; BlackBoxUQ's names), plus
            ``nli_factory`` / ``embedder_factory``: zero-argument callables called here,
            once, whose results become ``nli_model=`` / ``embedder=``. ``use_best``
            defaults to False, as in ``score_jsonl``: the input's response is the one judged.
        cache_limit: once the in-memory NLI pair cache or embedding cache holds more than
            this many entries after a batch, it is emptied (None: never). Persistent caches
            are never emptied here; they are flushed after each batch.
    """

    def __init__(
        self,
        scorers: Sequence[str],
        blackbox_kwargs: Mapping[str, Any] | None = None,
        cache_limit: int | None = DEFAULT_CACHE_LIMIT,
    ) -> None:
        self.scorers = _check_scorers(scorers)
        if cache_limit is not None and (not isinstance(cache_limit, int) or cache_limit < 0):
            raise ValueError(f"cache_limit must be None or an int >= 0, got {cache_limit!r}")
        self.cache_limit = cache_limit
        kwargs = _blackbox_kwargs(blackbox_kwargs)
        for factory, target in _FACTORIES.items():
            if factory in kwargs:
                kwargs[target] = kwargs.pop(factory)()
        self.uq = UQScorer(self.scorers, **kwargs)
        self._float_columns = frozenset(
            [*self.scorers, *(raw for s in self.uq.specs for raw in s.raw_columns)]
        )

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        """The batch with score columns, raw-value columns and ``score_errors`` added."""
        out = _with_nulls(batch)
        if len(out) == 0:
            for name in sorted(self._float_columns):
                out[name] = pd.Series([], dtype=np.float64)
            out["score_errors"] = pd.Series([], dtype=object)
            return out
        records = out.to_dict("records")
        sets = [sample_set_from_record(rec, _where(rec, i)) for i, rec in enumerate(records)]
        fields = self.uq.score(sets).score_fields()
        for key in fields[0]:
            if key == "score_errors" or key in INPUT_FIELDS:
                continue
            values = [f[key] for f in fields]
            if key in self._float_columns:
                out[key] = np.array(
                    [math.nan if v is None else v for v in values], dtype=np.float64
                )
            else:
                out[key] = pd.Series(values, index=out.index, dtype=_dtype(values))
        out["score_errors"] = [
            json.dumps(f["score_errors"], sort_keys=True, ensure_ascii=False) for f in fields
        ]
        self._after_batch()
        return out

    def cache_info(self) -> dict[str, int]:
        """Sizes and counters of this scorer's NLI and embedding caches."""
        info: dict[str, int] = {}
        nli, embedder = self._statistics()
        if nli is not None:
            info["nli_cached"] = len(nli)
            info["nli_hits"] = int(getattr(nli, "hits", 0))
            info["nli_misses"] = int(getattr(nli, "misses", 0))
        if embedder is not None:
            store = getattr(embedder, "cache", None)
            info["embeddings_cached"] = len(store) if store is not None else 0
            info["embedding_texts_encoded"] = int(getattr(embedder, "texts_encoded", 0))
            if hasattr(store, "hits"):
                info["embedding_cache_hits"] = int(store.hits)
                info["embedding_cache_misses"] = int(store.misses)
        return info

    def _statistics(self) -> tuple[Any, Any]:
        return self.uq.statistics.nli, self.uq.statistics.embedder

    def _after_batch(self) -> None:
        """Flush persistent caches; empty in-memory caches beyond ``cache_limit``."""
        from lmuq.statistics.nli_cache import CachedNLI

        nli, embedder = self._statistics()
        store = getattr(embedder, "cache", None)
        flush = getattr(store, "flush", None)
        if callable(flush):
            flush()
        if self.cache_limit is None:
            return
        if isinstance(nli, CachedNLI) and len(nli) > self.cache_limit:
            nli.clear()
        if isinstance(store, dict) and len(store) > self.cache_limit:
            embedder.clear_cache()


# ---------------------------------------------------------------------------- batch helpers


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def _with_nulls(batch: pd.DataFrame) -> pd.DataFrame:
    """A copy of the batch, index 0..n-1, with NaN cells of object columns as None.

    A column of lists with NaN where a row lacks the field would make Arrow fall back to
    pickled objects; with None it converts to a nullable list column.
    """
    out = batch.reset_index(drop=True).copy()
    for col in out.columns:
        if out[col].dtype == object:
            values = out[col].tolist()
            if any(_is_missing(v) for v in values):
                out[col] = pd.Series([None if _is_missing(v) else v for v in values], dtype=object)
    return out


def _dtype(values: list) -> Any:
    return object if any(isinstance(v, (list, tuple, dict)) for v in values) else None


def _where(rec: Mapping[str, Any], i: int) -> str:
    ident = rec.get("id")
    return f"batch row {i}" + ("" if _is_missing(ident) else f" (id={plain(ident)!r})")


# ---------------------------------------------------------------------------- Ray


def _ray_data() -> Any:
    require("ray", "ray", "scoring on Ray")
    return require("ray.data", "ray", "scoring on Ray")


def _as_dataset(rd: Any, data: Any) -> Any:
    if isinstance(data, rd.Dataset):
        return data
    if isinstance(data, pd.DataFrame):
        return rd.from_pandas(data)
    if isinstance(data, (str, bytes, Mapping)) or not isinstance(data, Iterable):
        raise TypeError(
            "dataset_or_records must be a ray.data.Dataset, a pandas DataFrame or an "
            f"iterable of dicts, got {type(data).__name__}"
        )
    records = list(data)
    if not records:
        raise ValueError("no records to score")
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise TypeError(f"records[{i}] is a {type(rec).__name__}, expected a dict")
    return rd.from_items(records)


def score_dataset_on_ray(
    dataset_or_records: ray.data.Dataset | pd.DataFrame | Iterable[Mapping[str, Any]],
    scorers: Sequence[str],
    *,
    blackbox_kwargs: Mapping[str, Any] | None = None,
    batch_size: int = 256,
    concurrency: int | tuple[int, int] = 2,
    num_cpus_per_actor: float = 1,
    num_gpus_per_actor: float = 0,
    cache_limit: int | None = DEFAULT_CACHE_LIMIT,
    preserve_order: bool = True,
    check_resources: bool = True,
) -> ray.data.Dataset:
    """Score rows on Ray Data with an actor pool; returns the lazy scored Dataset.

    Nothing runs until the Dataset is consumed (``write_json``, ``write_parquet``,
    ``iter_batches``, ``to_pandas``, ...). Ray is started locally if it is not running;
    call ``ray.init(address=...)`` first to use a cluster.

    Args:
        dataset_or_records: a ``ray.data.Dataset``, a pandas DataFrame, or dicts (records as
            in :func:`lmuq.app.score_file.score_jsonl`).
        scorers: scorer names, black- and white-box.
        blackbox_kwargs: see :class:`BatchScorer`; ``nli_factory`` / ``embedder_factory``
            are called inside each actor.
        batch_size: rows per actor call; cross-row batching of NLI pairs and embeddings
            happens within a batch.
        concurrency: actors in the pool (or ``(min, max)`` for an autoscaling pool); each
            holds its own models.
        num_cpus_per_actor, num_gpus_per_actor: resources each actor reserves (with a GPU,
            the default device resolves to CUDA inside the actor).
        cache_limit: per-actor bound on in-memory cache entries (see :class:`BatchScorer`).
        preserve_order: keep the input's row order (sets the execution option on the
            dataset's context, which Ray shares with the dataset it derives from).
        check_resources: refuse a pool whose actors would hold every CPU of the cluster
            (``concurrency x num_cpus_per_actor > CPUs - 1``): Ray Data's read and write
            tasks need a CPU each and would wait forever. Starts a local Ray instance if
            none is running (as Ray Data would when the Dataset runs). Turn it off for an
            autoscaling cluster that adds CPUs on demand.
    """
    rd = _ray_data()
    scorers = _check_scorers(scorers)
    kwargs = _blackbox_kwargs(blackbox_kwargs)
    # Validate the options on the driver, without loading any model.
    UQScorer(scorers, **{k: v for k, v in kwargs.items() if k not in _FACTORIES})
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if isinstance(concurrency, tuple):
        lo, hi = concurrency
        if not (isinstance(lo, int) and isinstance(hi, int) and 1 <= lo <= hi):
            raise ValueError(f"concurrency (min, max) needs 1 <= min <= max, got {concurrency}")
        compute = rd.ActorPoolStrategy(min_size=lo, max_size=hi)
    elif isinstance(concurrency, int) and not isinstance(concurrency, bool) and concurrency >= 1:
        compute = rd.ActorPoolStrategy(size=concurrency)
    else:
        raise ValueError(f"concurrency must be an int >= 1 or (min, max), got {concurrency!r}")
    if check_resources:
        _check_cpus(
            compute_max=concurrency[1] if isinstance(concurrency, tuple) else concurrency,
            cpus_per_actor=num_cpus_per_actor,
        )
    ds = _as_dataset(rd, dataset_or_records)
    if preserve_order and hasattr(ds, "context"):
        ds.context.execution_options.preserve_order = True
    return ds.map_batches(
        BatchScorer,
        fn_constructor_kwargs={
            "scorers": scorers,
            "blackbox_kwargs": dict(blackbox_kwargs or {}),
            "cache_limit": cache_limit,
        },
        batch_size=batch_size,
        batch_format="pandas",
        compute=compute,
        num_cpus=num_cpus_per_actor,
        num_gpus=num_gpus_per_actor,
    )


def _check_cpus(compute_max: int, cpus_per_actor: float) -> None:
    import ray

    if not ray.is_initialized():
        ray.init()
    total = float(ray.cluster_resources().get("CPU", 0))
    held = compute_max * cpus_per_actor
    if total and held > total - 1:
        raise ValueError(
            f"{compute_max} actors x {cpus_per_actor} CPU would hold {held:g} of the cluster's "
            f"{total:g} CPUs, leaving less than one for Ray Data's read and write tasks, which "
            "would then wait forever. Use fewer actors or a fractional num_cpus_per_actor "
            "(e.g. 0.5), or pass check_resources=False on an autoscaling cluster."
        )


def score_records_on_ray(
    dataset_or_records: ray.data.Dataset | pd.DataFrame | Iterable[Mapping[str, Any]],
    scorers: Sequence[str],
    **kwargs: Any,
) -> pd.DataFrame:
    """Score on Ray and collect the result as a pandas DataFrame (for inputs that fit in
    the driver's memory; for large ones use :func:`score_jsonl_on_ray` or consume the
    Dataset of :func:`score_dataset_on_ray` in a streaming way). Keyword arguments are
    those of :func:`score_dataset_on_ray`; rows keep the input order."""
    kwargs.setdefault("preserve_order", True)
    return _numpy_backed(score_dataset_on_ray(dataset_or_records, scorers, **kwargs).to_pandas())


def _numpy_backed(df: pd.DataFrame) -> pd.DataFrame:
    """Plain pandas dtypes (NaN for missing floats) where Ray returned Arrow-backed ones."""
    if not any(isinstance(t, pd.ArrowDtype) for t in df.dtypes):
        return df
    import pyarrow as pa

    table = pa.Table.from_pandas(df, preserve_index=False)
    return table.to_pandas(ignore_metadata=True)


def score_jsonl_on_ray(
    input_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    scorers: Sequence[str],
    *,
    output_format: Literal["json", "parquet"] = "json",
    **kwargs: Any,
) -> Path | str:
    """Read JSONL with Ray Data, score it on an actor pool, write JSONL or Parquet files.

    Streaming end to end: each input file is read by one Ray task (with Arrow's JSON reader,
    which keeps strings as strings), blocks flow through the actor pool and are written
    as they are scored, and the driver never holds the table. Split very large inputs into
    several files (``split -l``) so that reading is parallel and each read task stays
    small. Fields missing from some rows come out as null in those rows.

    Args:
        input_path: a JSONL file, a folder of them, or a list of files.
        output_dir: a new or empty local folder, or a URI Ray can write to (``s3://...``,
            not checked for emptiness); Ray writes one file per block into it.
        scorers: scorer names.
        output_format: ``"json"`` (JSON lines, NaN written as null) or ``"parquet"``.
        **kwargs: options of :func:`score_dataset_on_ray`.

    Returns:
        ``output_dir``: a Path for a local folder, the string for a URI.
    """
    if output_format not in ("json", "parquet"):
        raise ValueError(f"output_format must be 'json' or 'parquet', got {output_format!r}")
    target = os.fspath(output_dir)
    out: Path | str = target
    if "://" not in target:
        out = Path(target)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise FileExistsError(f"{out} exists and is not an empty folder")
    rd = _ray_data()
    paths: Any = (
        [os.fspath(p) for p in input_path]
        if isinstance(input_path, Sequence) and not isinstance(input_path, str)
        else os.fspath(input_path)
    )
    scored = score_dataset_on_ray(_read_jsonl(rd, paths), scorers, **kwargs)
    if output_format == "json":
        # pandas writes 10 significant digits by default; 15 is its maximum.
        scored.write_json(str(out), force_ascii=False, double_precision=15)
    else:
        scored.write_parquet(str(out))
    return out


def _read_jsonl(rd: Any, paths: Any) -> Any:
    """``ray.data.read_json`` with Arrow's reader (``lines=False``): Ray's pandas-based
    line reader (``lines=True``) would turn strings such as ``"42"`` into numbers."""
    params = inspect.signature(rd.read_json).parameters
    extra: dict[str, Any] = {"lines": False} if "lines" in params else {}
    return rd.read_json(paths, **extra)
