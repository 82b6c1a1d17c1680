"""The gateway's settings."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from lmuq.evaluation.policy import TrustPolicy

__all__ = ["DEFAULT_REFUSAL", "GATEWAY_KEYS_ENV", "GatewayConfig", "hash_key"]

#: The environment variable holding the gateway's own keys (comma-separated), if any.
GATEWAY_KEYS_ENV = "LMUQ_GATEWAY_KEYS"
DEFAULT_REFUSAL = "I am not confident enough in an answer to this question to give one."


def hash_key(key: str) -> str:
    """SHA-256 hex digest of a gateway key (only digests are kept in memory)."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class GatewayConfig:
    """How the gateway runs.

    Attributes:
        upstream: base URL of the OpenAI-compatible server, ending in ``/v1``.
        policy: the trust policy applied to every answer.
        abstain: ``"flag"``: an answer that is not accepted is returned unchanged with
            decision ``flag``; ``"refuse"``: its content is replaced by ``refusal`` and the
            decision is ``abstain``.
        refusal: the text of a refused answer.
        max_concurrency: requests handled at once; ``max_queue`` more wait; beyond that the
            gateway answers 429 with ``Retry-After: retry_after``.
        timeout: seconds for each upstream call (connect, read, write, pool).
        key_digests: SHA-256 digests of the gateway keys; empty: no gateway key needed.
            A client sends its key in the ``X-LMUQ-Key`` header (``Authorization`` is the
            upstream's and is passed through).
        audit: a run store file for the audit log (:mod:`lmuq.storage.audit`); None: none.
        hash_prompts: the audit log keeps each prompt's SHA-256, not its text.
        eager_samples: request the first batch of samples together with the answer (less
            latency when samples are needed; a wasted call when the answer alone decides).
    """

    upstream: str
    policy: TrustPolicy
    abstain: Literal["flag", "refuse"] = "flag"
    refusal: str = DEFAULT_REFUSAL
    max_concurrency: int = 64
    max_queue: int = 256
    retry_after: int = 1
    timeout: float = 60.0
    key_digests: frozenset[str] = field(default_factory=frozenset)
    audit: str | None = None
    hash_prompts: bool = False
    eager_samples: bool = False

    def __post_init__(self) -> None:
        if not self.upstream.startswith(("http://", "https://")):
            raise ValueError(f"upstream must be an http(s) URL, got {self.upstream!r}")
        if self.abstain not in ("flag", "refuse"):
            raise ValueError(f"abstain must be 'flag' or 'refuse', got {self.abstain!r}")
        for name in ("max_concurrency", "retry_after"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_queue < 0:
            raise ValueError(f"max_queue must be >= 0, got {self.max_queue}")
        if not self.timeout > 0:
            raise ValueError(f"timeout must be > 0, got {self.timeout}")

    @staticmethod
    def keys_from_env(environ: dict[str, str] | None = None) -> frozenset[str]:
        """Digests of the keys in ``$LMUQ_GATEWAY_KEYS`` (comma-separated; unset: none)."""
        raw = (os.environ if environ is None else environ).get(GATEWAY_KEYS_ENV, "")
        return digests(k.strip() for k in raw.split(",") if k.strip())

    def key_ok(self, presented: str | None) -> bool:
        """Whether a request may pass: no keys configured, or ``presented`` is one of them
        (compared digest to digest in constant time)."""
        if not self.key_digests:
            return True
        if not presented:
            return False
        d = hash_key(presented)
        return any(hmac.compare_digest(d, k) for k in self.key_digests)


def digests(keys: Iterable[str]) -> frozenset[str]:
    """The SHA-256 digests of ``keys``."""
    return frozenset(hash_key(k) for k in keys)
