"""Storage: the run store (everything a run produced, resumable) and persistent caches.

* :class:`RunStore` — runs, prompts, generations, scores and labels in one SQLite file,
  written as they arrive; :func:`generate_with_store` draws only what a run lacks;
  :func:`export_run` writes a run to JSONL / CSV / Parquet.
* :class:`PersistentNLICache`, :class:`PersistentEmbeddingCache`,
  :class:`PersistentCachedNLI` — NLI results and embeddings kept on disk across runs.
"""

from lmuq.codec import generation_from_json, generation_to_json
from lmuq.storage.cache_file import (
    DEFAULT_MAX_BYTES,
    CacheStats,
    ContentHash,
    default_stats_dir,
    embedding_key,
    nli_pair_key,
)
from lmuq.storage.embedding_cache import PersistentEmbeddingCache
from lmuq.storage.errors import (
    IncompleteRunError,
    RunMismatchError,
    SchemaVersionError,
    StoreError,
)
from lmuq.storage.export import export_run
from lmuq.storage.nli_cache import PersistentCachedNLI, PersistentNLICache
from lmuq.storage.resume import generate_with_store, store_callback
from lmuq.storage.run_info import GenerationSpec, RunInfo
from lmuq.storage.run_store import ANSWER, SAMPLE, SCHEMA_VERSION, RunStore
from lmuq.storage.settings import REDACTED, redact_settings

__all__ = [
    "ANSWER",
    "DEFAULT_MAX_BYTES",
    "REDACTED",
    "SAMPLE",
    "SCHEMA_VERSION",
    "CacheStats",
    "ContentHash",
    "GenerationSpec",
    "IncompleteRunError",
    "PersistentCachedNLI",
    "PersistentEmbeddingCache",
    "PersistentNLICache",
    "RunInfo",
    "RunMismatchError",
    "RunStore",
    "SchemaVersionError",
    "StoreError",
    "default_stats_dir",
    "embedding_key",
    "export_run",
    "generate_with_store",
    "generation_from_json",
    "generation_to_json",
    "nli_pair_key",
    "redact_settings",
    "store_callback",
]
