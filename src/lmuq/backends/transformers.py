"""Local Hugging Face transformers backend: batched generation with exact log-probs.

Log-probabilities are the model's own, untempered: the log-softmax of the raw logits
(``output_logits=True``), not of the processed scores, so the temperature, top-k and top-p
used to *draw* a sample do not change the probability recorded for it. This is what the
white-box scorers' definitions assume.

Nothing here mutates the user's model or tokenizer: padding is built by hand (left side) and
sampling settings are passed per call. With ``internals=True`` the backend also keeps, from
the same ``generate`` pass, what the internals scorers read (RAUQ, attention score,
EigenScore; see :class:`~lmuq.types.ModelInternals`): every response's hidden state, and
the attention weights of the greedy calls (the answers being judged, which RAUQ and the
attention score read; ``attention_for="all"`` keeps them for sampled responses too).
Attention weights need the "eager" attention implementation, so the model is switched to it
for the duration of those calls and back after; the sampled responses keep the model's own
(faster) attention. ``bench/internals_cost.py`` measures what capturing costs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from lmuq.backends.base import GenOptions, Prompts, check_generate_args, generate_options
from lmuq.chat import chat_messages
from lmuq.constants import ATTENTION_EPS
from lmuq.extras import require
from lmuq.model_source import resolve_local_or_hub
from lmuq.types import Generation, ModelInternals, SamplingParams

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["TransformersBackend", "load_model_and_tokenizer"]


def _torch():
    return require("torch", "hf", "the transformers backend")


def load_model_and_tokenizer(
    name_or_path: str | os.PathLike,
    *,
    gguf_file: str | None = None,
    device: str | None = None,
    dtype: Any = None,
):
    """Load a causal LM and its tokenizer from a local folder or a hub id.

    A name that looks like a path must exist (a clear ``FileNotFoundError`` otherwise); a hub
    id needs network access.
    """
    transformers = require("transformers", "hf", "loading Hugging Face models")
    name = resolve_local_or_hub(name_or_path)
    kwargs: dict[str, Any] = {}
    if gguf_file:
        kwargs["gguf_file"] = gguf_file
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(name, **kwargs)
        model = transformers.AutoModelForCausalLM.from_pretrained(
            name, **kwargs, **({"dtype": dtype} if dtype is not None else {})
        )
    except OSError as exc:
        raise OSError(
            f"could not load model {name!r}: {exc}. A hub id needs network access; "
            "pass a local folder to work offline."
        ) from exc
    model.eval()
    if device is not None:
        model.to(device)
    return tokenizer, model


class TransformersBackend:
    """Generate with a local ``transformers`` causal LM and record exact token log-probs.

    Args:
        model, tokenizer: a loaded ``PreTrainedModel`` and its tokenizer.
        system_prompt: prepended as a system message when a chat template is used.
        use_chat_template: ``None`` (default) applies the tokenizer's chat template when it
            has one; ``False`` feeds the prompt text as is.
        top_logprobs: how many top alternatives to record per token (0 = none).
        batch_size: how many prompts go into one ``generate`` call (each with its n samples).
        internals: also capture, in the same pass, each response's last hidden state and,
            for greedy calls, its attention to itself (:class:`~lmuq.types.ModelInternals`),
            which the ``eigenscore``, ``rauq`` and ``attention_score`` scorers read. Off by
            default: a greedy call then keeps every layer's attention maps until its batch
            finishes (the hidden state costs one (rows, d) slice per step).
        attention_for: with ``internals``, which calls keep attention weights: ``"greedy"``
            (default; temperature 0, the answers being judged) or ``"all"``.
        embedding_layer: which hidden state ``internals`` keeps as the response's embedding
            (0 = token embeddings, ``num_hidden_layers`` = the last layer); default the
            middle one, ``num_hidden_layers // 2``, as EigenScore (Chen et al. 2024) and
            LM-Polygraph use.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        system_prompt: str | None = None,
        use_chat_template: bool | None = None,
        top_logprobs: int = 10,
        batch_size: int = 8,
        internals: bool = False,
        attention_for: Literal["greedy", "all"] = "greedy",
        embedding_layer: int | None = None,
    ) -> None:
        torch = _torch()
        if not isinstance(model, torch.nn.Module) or not hasattr(model, "generate"):
            raise TypeError(f"model must be a transformers generative model, got {type(model)}")
        if not callable(tokenizer) or not hasattr(tokenizer, "decode"):
            raise TypeError(f"tokenizer must be a transformers tokenizer, got {type(tokenizer)}")
        if top_logprobs < 0:
            raise ValueError(f"top_logprobs must be >= 0, got {top_logprobs}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.system_prompt = system_prompt
        has_template = getattr(tokenizer, "chat_template", None) is not None
        if use_chat_template and not has_template:
            raise ValueError("use_chat_template=True but the tokenizer has no chat template")
        self.use_chat_template = has_template if use_chat_template is None else use_chat_template
        self.top_logprobs = top_logprobs
        self.batch_size = batch_size
        if not isinstance(internals, bool):
            raise TypeError(f"internals must be True or False, got {internals!r}")
        self.internals = internals
        if attention_for not in ("greedy", "all"):
            raise ValueError(f"attention_for must be 'greedy' or 'all', got {attention_for!r}")
        self.attention_for = attention_for
        layers = _num_layers(model)
        if embedding_layer is not None and not (
            isinstance(embedding_layer, int) and 0 <= embedding_layer <= layers
        ):
            raise ValueError(
                f"embedding_layer must be an int in [0, {layers}] (this model has {layers} "
                f"layers), got {embedding_layer!r}"
            )
        self.embedding_layer = embedding_layer
        self.eos_token_ids = self._eos_ids()
        pad = tokenizer.pad_token_id
        self.pad_token_id = pad if pad is not None else self.eos_token_ids[0]

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | os.PathLike,
        *,
        device: str | None = None,
        gguf_file: str | None = None,
        **kwargs: Any,
    ) -> TransformersBackend:
        tokenizer, model = load_model_and_tokenizer(
            name_or_path, gguf_file=gguf_file, device=device
        )
        return cls(model, tokenizer, **kwargs)

    @property
    def name(self) -> str:
        return str(getattr(self.model, "name_or_path", "") or type(self.model).__name__)

    def _eos_ids(self) -> list[int]:
        ids: list[int] = []
        cfg = getattr(self.model, "generation_config", None)
        for source in (getattr(cfg, "eos_token_id", None), self.tokenizer.eos_token_id):
            if source is None:
                continue
            for i in source if isinstance(source, (list, tuple)) else [source]:
                if int(i) not in ids:
                    ids.append(int(i))
        if not ids:
            raise ValueError("neither the model nor the tokenizer defines an EOS token id")
        return ids

    # ------------------------------------------------------------------ prompt encoding

    def format_prompt(self, prompt: str) -> str:
        """The exact text fed to the model for ``prompt`` (chat template applied if used)."""
        if not self.use_chat_template:
            return prompt
        messages = chat_messages(prompt, self.system_prompt)
        return self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False
        )

    def encode_prompt(self, prompt: str) -> list[int]:
        text = self.format_prompt(prompt)
        # The chat template already carries the special tokens it needs.
        enc = self.tokenizer(text, add_special_tokens=not self.use_chat_template)
        return list(enc["input_ids"])

    # ------------------------------------------------------------------ generation

    def generate(
        self, prompts: Prompts, params: SamplingParams, n: int = 1, **options: Unpack[GenOptions]
    ) -> list[list[Generation]]:
        """Draw ``n`` generations for each prompt.

        Returns one list per prompt, in prompt order, each with ``n`` generations. Prompts
        are batched ``batch_size`` at a time; each batch runs as one ``generate`` call with
        ``num_return_sequences=n``. ``progress(k)`` reports the prompts finished (e.g.
        ``tqdm.update``) and ``on_result(prompt_index, sample_index, generation)`` each
        generation, as each batch completes.
        """
        torch = _torch()
        check_generate_args(prompts, n)
        progress, on_result = generate_options(options)
        results: list[list[Generation]] = []
        for start in range(0, len(prompts), self.batch_size):
            batch = list(prompts[start : start + self.batch_size])
            seed = None if params.seed is None else params.seed + start
            with torch.random.fork_rng(devices=self._rng_devices()):
                if seed is not None:
                    torch.manual_seed(seed)
                rows = self._generate_batch(batch, params, n)
            results.extend(rows)
            if on_result is not None:
                for i, row in enumerate(rows, start=start):
                    for j, gen in enumerate(row):
                        on_result(i, j, gen)
            if progress is not None:
                progress(len(batch))
        return results

    def _rng_devices(self) -> list:
        dev = self.model.device
        return [dev] if dev.type == "cuda" else []

    def _generate_batch(
        self, prompts: list[str], params: SamplingParams, n: int
    ) -> list[list[Generation]]:
        if params.greedy and n > 1:
            # greedy decoding is deterministic (and transformers refuses n > 1 for it): one
            # decode per prompt, returned n times
            return [row * n for row in self._generate_batch(prompts, params, 1)]
        torch = _torch()
        encoded = [self.encode_prompt(p) for p in prompts]
        width = max(len(e) for e in encoded)
        input_ids = torch.full((len(encoded), width), self.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(encoded), width), dtype=torch.long)
        for i, ids in enumerate(encoded):
            input_ids[i, width - len(ids) :] = torch.tensor(ids, dtype=torch.long)
            attention[i, width - len(ids) :] = 1
        device = self.model.device
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "num_return_sequences": n,
            "return_dict_in_generate": True,
            "output_logits": True,
            "pad_token_id": self.pad_token_id,
            "eos_token_id": self.eos_token_ids,
        }
        if params.greedy:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            # top_k=0 and top_p=1.0 disable truncation explicitly: transformers otherwise
            # applies a default top_k=50 when sampling.
            kwargs.update(
                do_sample=True,
                temperature=float(params.temperature),
                top_k=params.top_k or 0,
                top_p=params.top_p if params.top_p is not None else 1.0,
            )
        keep_attention = self.internals and (self.attention_for == "all" or params.greedy)
        if keep_attention:
            kwargs["output_attentions"] = True
        steps_hidden: list[Any] = []  # the embedding layer's last position, step by step
        hook = self._hidden_hook(steps_hidden, kwargs)
        with torch.no_grad(), self._eager_attention(keep_attention), hook:
            out = self.model.generate(
                input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs
            )
        new_tokens = out.sequences[:, width:].cpu()
        steps = len(out.logits)
        chosen = torch.empty((new_tokens.shape[0], steps), dtype=torch.float64)
        k = self.top_logprobs
        top_vals = torch.empty((new_tokens.shape[0], steps, k), dtype=torch.float64) if k else None
        top_ids = torch.empty((new_tokens.shape[0], steps, k), dtype=torch.long) if k else None
        for t, logits_t in enumerate(out.logits):
            logp = torch.log_softmax(logits_t.float(), dim=-1).cpu()
            chosen[:, t] = logp.gather(1, new_tokens[:, t : t + 1]).squeeze(1).double()
            if k:
                v, ix = logp.topk(k, dim=-1)
                top_vals[:, t] = v.double()
                top_ids[:, t] = ix
        used = _used_params(params)
        captured = (
            self._captured(out, width, keep_attention, steps_hidden) if self.internals else None
        )
        grouped: list[list[Generation]] = []
        for i in range(len(prompts)):
            row = []
            for j in range(n):
                r = i * n + j
                gen = self._to_generation(new_tokens[r], chosen[r], top_vals, top_ids, r, used)
                if captured is not None:
                    gen = self._with_internals(gen, captured, r, len(encoded[i]), width)
                row.append(gen)
            grouped.append(row)
        return grouped

    # ------------------------------------------------------------------ internals

    @contextlib.contextmanager
    def _eager_attention(self, needed: bool) -> Iterator[None]:
        """Switch the model to eager attention for one call that keeps attention weights
        (SDPA and flash attention return none), and back after."""
        current = getattr(self.model.config, "_attn_implementation", None)
        if not needed or current in (None, "eager"):
            yield
            return
        self.model.set_attn_implementation("eager")
        try:
            yield
        finally:
            self.model.set_attn_implementation(current)

    def _layer_index(self) -> int:
        layers = _num_layers(self.model)
        return layers // 2 if self.embedding_layer is None else self.embedding_layer

    @contextlib.contextmanager
    def _hidden_hook(self, steps: list[Any], kwargs: dict[str, Any]) -> Iterator[None]:
        """Keep the embedding layer's hidden state at the last position of each step.

        A forward hook on the module whose output is ``hidden_states[layer]`` (the token
        embeddings for 0, decoder layer ``layer - 1`` otherwise) keeps one (rows, d) slice
        per step; asking ``generate`` for every layer's hidden states instead would keep all
        of them until the batch ends. Models whose decoder layers are not found (and the last
        layer, which transformers reports after the final norm) use ``output_hidden_states``.
        """
        if not self.internals:
            yield
            return
        layer = self._layer_index()
        module = None
        if layer == 0:
            module = self.model.get_input_embeddings()
        elif layer < _num_layers(self.model):
            layers = _decoder_layers(self.model)
            module = None if layers is None else layers[layer - 1]
        if module is None:
            kwargs["output_hidden_states"] = True
            yield
            return

        def keep(_module: Any, _inputs: Any, output: Any) -> None:
            hidden = output[0] if isinstance(output, tuple) else output
            steps.append(hidden[:, -1].detach().float().cpu())

        handle = module.register_forward_hook(keep)
        try:
            yield
        finally:
            handle.remove()

    def _captured(
        self, out: Any, width: int, attention: bool, steps_hidden: list[Any]
    ) -> dict[str, Any]:
        """The batch's hidden states (and self-attention), stacked once for every row.

        ``out.attentions[t][l]`` is step t's attention at layer l: the prompt's full map at
        t = 0 (rows, heads, width, width), then one query row over the ``width + t`` keys.
        At step t >= 1 the newest position, ``width + t - 1``, holds token t - 1.
        """
        torch = _torch()
        layer = self._layer_index()
        if not steps_hidden:  # no hook: generate returned every layer's hidden states
            steps_hidden = [h[layer][:, -1].float().cpu() for h in out.hidden_states]
        captured: dict[str, Any] = {
            "hidden": torch.stack(steps_hidden[: len(out.logits)], dim=1),  # (rows, steps, d)
            "layer": layer,
            "prefill": None,
            "token": None,
        }
        if not attention:
            return captured
        if not out.attentions or not out.attentions[0]:
            raise RuntimeError(
                "the model returned no attention weights; internals=True needs a model whose "
                "eager attention implementation returns them"
            )
        prefill = torch.stack(
            [a.diagonal(dim1=-2, dim2=-1) for a in out.attentions[0]]
        )  # (layers, rows, heads, width)
        steps = [
            torch.stack([a[:, :, 0, width + t - 1] for a in layer_atts])
            for t, layer_atts in enumerate(out.attentions[1:], start=1)
        ]  # each (layers, rows, heads)
        token = torch.stack(steps, dim=-1) if steps else prefill[..., :0]
        captured["prefill"] = prefill.float().cpu()
        captured["token"] = token.float().cpu()
        return captured

    @staticmethod
    def _with_internals(
        gen: Generation, captured: dict[str, Any], r: int, prompt_len: int, width: int
    ) -> Generation:
        torch = _torch()
        steps = gen.num_tokens
        token_attention = prompt_log_attention = None
        if captured["token"] is not None:
            prompt = captured["prefill"][:, r, :, width - prompt_len :]  # (layers, heads, P)
            token_attention = captured["token"][:, r, :, : steps - 1].numpy()
            prompt_log_attention = torch.log(prompt.double() + ATTENTION_EPS).sum(-1).numpy()
        internals = ModelInternals(
            token_attention=token_attention,
            prompt_log_attention=prompt_log_attention,
            # the last position read: its output is the response's last token
            embedding=captured["hidden"][r, steps - 1].numpy(),
            embedding_layer=captured["layer"],
        )
        return replace(gen, internals=internals)

    def _to_generation(self, ids, chosen, top_vals, top_ids, r, used) -> Generation:
        ids_list = ids.tolist()
        end = len(ids_list)
        finish = "length"
        for t, tok in enumerate(ids_list):
            if tok in self.eos_token_ids:
                end, finish = t + 1, "stop"
                break
        ids_list = ids_list[:end]
        content = ids_list[:-1] if finish == "stop" else ids_list
        text = self.tokenizer.decode(content, skip_special_tokens=True)
        return Generation(
            text=text,
            logprobs=chosen[:end].numpy(),
            token_ids=tuple(ids_list),
            tokens=tuple(self.tokenizer.decode([t]) for t in ids_list),
            top_logprobs=None if top_vals is None else top_vals[r, :end].numpy(),
            top_token_ids=None if top_ids is None else top_ids[r, :end].numpy(),
            finish_reason=finish,
            params=used,
        )

    # ------------------------------------------------------------------ rescoring

    def score_tokens(self, prompt: str, token_ids: Sequence[int]) -> np.ndarray:
        """Teacher-forced log p(token_t | prompt, tokens_<t) for a given continuation."""
        torch = _torch()
        if len(token_ids) == 0:
            raise ValueError("token_ids is empty: nothing to score")
        prompt_ids = self.encode_prompt(prompt)
        ids = torch.tensor([prompt_ids + [int(t) for t in token_ids]], device=self.model.device)
        with torch.no_grad():
            logits = self.model(input_ids=ids).logits[0].float()
        logp = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], dim=-1)
        target = ids[0, len(prompt_ids) :].unsqueeze(1)
        return logp.gather(1, target).squeeze(1).double().cpu().numpy()


def _decoder_layers(model: Any) -> Any:
    """The model's list of decoder layers, where the common architectures keep it."""
    for path in ("model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers"):
        obj = model
        for name in path.split("."):
            obj = getattr(obj, name, None)
            if obj is None:
                break
        if obj is not None and hasattr(obj, "__getitem__") and hasattr(obj, "__len__"):
            return obj
    return None


def _num_layers(model: Any) -> int:
    config = getattr(model.config, "text_config", model.config)
    layers = getattr(config, "num_hidden_layers", None)
    if not isinstance(layers, int):
        raise ValueError("the model's config has no num_hidden_layers")
    return layers


def _used_params(params: SamplingParams) -> SamplingParams:
    """Record what was really applied: greedy ignores truncation; sampling without a
    top-k/top-p means the full distribution."""
    if params.greedy:
        return SamplingParams(
            temperature=0.0, max_new_tokens=params.max_new_tokens, seed=params.seed
        )
    return SamplingParams(
        temperature=params.temperature,
        top_p=params.top_p if params.top_p not in (None, 1.0) else None,
        top_k=params.top_k or None,
        max_new_tokens=params.max_new_tokens,
        seed=params.seed,
    )
