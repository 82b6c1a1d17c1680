"""lmuq's own API after the restructure: the fake backend, the one draw path, the engine's
judged family, UQScorer and shared statistics, the secrets policy."""

from __future__ import annotations

import asyncio
import math
import warnings

import pytest

from lmuq import BlackBoxUQ, UQScorer
from lmuq.backends import FakeBackend, GenerationBackend
from lmuq.backends.base import AsyncGenerationBackend
from lmuq.generation import (
    ANSWER,
    SAMPLE,
    DrawFailureWarning,
    GenerationFailedError,
    adraw,
    draw,
    draw_cells,
)
from lmuq.generation.draws import RowInvariantError
from lmuq.scoring import (
    ScoringContext,
    llm_judge_scorer,
    panel_scorer,
    score,
    verbalized_confidence_scorer,
)
from lmuq.scoring.engine import ascore, required_statistics
from lmuq.secrets import MASK, Secret, redact_settings, redact_text, redact_url
from lmuq.statistics.shared import SharedStatistics
from lmuq.types import Generation, SampleSet, SamplingParams

GREEDY = SamplingParams(temperature=0.0, max_new_tokens=8)
HOT = SamplingParams(temperature=1.0, max_new_tokens=8, seed=100)


# --------------------------------------------------------------------------- FakeBackend


def test_fake_backend_implements_both_protocols_and_records_calls():
    fake = FakeBackend({"France": "Paris", "boom": RuntimeError("server down")}, default="?")
    assert isinstance(fake, GenerationBackend) and isinstance(fake, AsyncGenerationBackend)
    rows = fake.generate(["Capital of France?", "boom now", "other"], GREEDY, 2)
    assert [[g.text for g in r] for r in rows] == [["Paris", "Paris"], ["", ""], ["?", "?"]]
    assert rows[1][0].error == "RuntimeError: server down" and rows[1][0].failed
    assert fake.calls[0].prompts == ("Capital of France?", "boom now", "other")
    assert fake.calls[0].n == 2 and not fake.calls[0].asynchronous
    assert fake.generations == 6
    async_rows = asyncio.run(fake.agenerate(["France?"], GREEDY))
    assert async_rows[0][0].text == "Paris" and fake.calls[-1].asynchronous


def test_fake_backend_reply_function_sees_the_sample_index_and_params():
    fake = FakeBackend(lambda prompt, params, j: f"{prompt}/{params.temperature}/{j}")
    rows = fake.generate(["p"], HOT, 3)
    assert [g.text for g in rows[0]] == ["p/1.0/0", "p/1.0/1", "p/1.0/2"]


def test_fake_backend_without_a_match_is_an_error_row():
    rows = FakeBackend({"x": "y"}).generate(["nothing here"], GREEDY)
    assert rows[0][0].failed and "no scripted reply" in rows[0][0].error


# --------------------------------------------------------------------------- the draw path


def _seeded(prompt: str, params: SamplingParams, j: int) -> str:
    """Text that shows which seed a sample was drawn with (the call's seed + its index)."""
    seed = None if params.seed is None else params.seed + j
    return f"{prompt}|T={params.temperature}|seed={seed}"


def test_draw_gives_sample_sets_with_one_params_schema():
    fake = FakeBackend(_seeded, name="seeded")
    sets = draw(fake, ["a", "b"], 3, answer_params=GREEDY, sample_params=HOT, progress=False)
    assert [ss.answer.text for ss in sets] == ["a|T=0.0|seed=None", "b|T=0.0|seed=None"]
    assert sets[1].sample_texts == [f"b|T=1.0|seed={100 + j}" for j in range(3)]
    assert sets[0].params == {
        "backend": "seeded",
        "answer_params": GREEDY.to_dict(),
        "sample_params": HOT.to_dict(),
        "num_samples": 3,
    }
    # one call for the answers, one for the samples
    assert [(c.params.temperature, c.n) for c in fake.calls] == [(0.0, 1), (1.0, 3)]


def test_partial_cells_are_seeded_by_their_position():
    fake = FakeBackend(_seeded)
    cells = [(0, SAMPLE, 3), (0, SAMPLE, 4), (1, SAMPLE, 1), (1, ANSWER, 0)]
    got = draw_cells(fake, ["a", "b"], cells, answer_params=GREEDY, sample_params=HOT)
    # sample j gets seed 100 + j, exactly as in an uninterrupted run of 5 samples
    assert got[(0, SAMPLE, 3)].text == "a|T=1.0|seed=103"
    assert got[(0, SAMPLE, 4)].text == "a|T=1.0|seed=104"
    assert got[(1, SAMPLE, 1)].text == "b|T=1.0|seed=101"
    full = draw(fake, ["a", "b"], 5, answer_params=GREEDY, sample_params=HOT, progress=False)
    assert full[0].samples[3].text == got[(0, SAMPLE, 3)].text


class _RaisesFor:
    """A user's backend that raises (instead of recording an error row) for one prompt."""

    name = "raises"

    def __init__(self, bad: str) -> None:
        self.bad = bad
        self.calls: list[list[str]] = []

    def generate(self, prompts, params, n=1, *, progress=None):
        self.calls.append(list(prompts))
        if self.bad in prompts:
            raise ConnectionError("refused")
        return [[Generation(f"{p}:{j}") for j in range(n)] for p in prompts]


def test_a_raising_call_is_split_so_only_its_prompt_fails_and_a_warning_says_so():
    backend = _RaisesFor("b")
    with pytest.warns(DrawFailureWarning, match=r"3 of 9 generations from 'raises' failed"):
        sets = draw(backend, ["a", "b", "c"], 2, progress=False)
    assert [ss.answer.text for ss in sets] == ["a:0", "", "c:0"]
    assert sets[1].answer.error == "ConnectionError: refused"
    assert all(s.failed for s in sets[1].samples)
    assert not any(s.failed for s in sets[2].samples)
    with pytest.raises(GenerationFailedError) as info:
        draw(backend, ["a", "b"], 1, progress=False, on_failure="raise")
    assert info.value.results[(1, ANSWER, 0)].failed


def test_adraw_equals_draw_and_uses_agenerate():
    fake = FakeBackend(_seeded)
    sync = draw(fake, ["x", "y"], 2, sample_params=HOT, progress=False)
    asynch = asyncio.run(adraw(fake, ["x", "y"], 2, sample_params=HOT, progress=False))
    assert [[g.text for g in (s.answer, *s.samples)] for s in sync] == [
        [g.text for g in (s.answer, *s.samples)] for s in asynch
    ]
    assert fake.calls[-1].asynchronous


def test_a_sink_sees_each_generation_as_it_arrives():
    seen: list[tuple] = []
    fake = FakeBackend({"": "ok"})
    draw_cells(
        fake,
        ["a", "b"],
        [(0, ANSWER, 0), (1, ANSWER, 0), (1, SAMPLE, 0)],
        sink=lambda items: seen.append([(r, k, i) for r, k, i, _ in items]),
        progress=False,
    )
    # FakeBackend reports through on_result: one item per arrival
    assert seen == [[(0, "answer", 0)], [(1, "answer", 0)], [(1, "sample", 0)]]


def test_a_backend_returning_too_few_rows_is_refused():
    class Short(FakeBackend):
        def generate(self, prompts, params, n=1, **kw):
            return super().generate(prompts, params, n)[:-1]

    with pytest.raises(RowInvariantError, match="returned 1 rows for 2 prompts"):
        draw(Short({"": "x"}), ["a", "b"], 1, progress=False)


# --------------------------------------------------------------------------- judged family


def _questions():
    return [
        SampleSet("What is 2+2?", Generation("4"), []),
        SampleSet("Capital of France?", Generation("Lyon"), []),
        SampleSet("Who wrote Hamlet?", Generation("Shakespeare"), []),
    ]


def test_judged_scorers_read_the_contexts_judge_in_one_batched_call():
    judge = FakeBackend({"2+2": "Confidence: 0.9", "France": "20%", "Hamlet": "unsure"})
    result = score(_questions(), ["verbalized_confidence"], ScoringContext(judge=judge))
    values = result.columns["verbalized_confidence"]
    assert values[:2] == pytest.approx([0.9, 0.2]) and math.isnan(values[2])
    assert "could not read a score" in result.columns["score_errors"][2]["verbalized_confidence"]
    details = result.details["verbalized_confidence"]
    assert details[0].output == "Confidence: 0.9" and "2+2" in details[0].prompt
    assert len(judge.calls) == 1 and len(judge.calls[0].prompts) == 3


def test_a_panel_batches_every_members_calls_and_aggregates():
    a = FakeBackend({"2+2": "Correct", "France": "Incorrect", "Hamlet": "Correct"}, name="a")
    b = FakeBackend({"2+2": "Correct", "France": "Partially correct", "Hamlet": "??"}, name="b")
    panel = panel_scorer(
        [llm_judge_scorer(a, name="judge_1"), llm_judge_scorer(b, name="judge_2")],
        aggregate="mean",
    )
    result = score(_questions(), [panel])
    assert result.columns["llm_panel"] == pytest.approx([1.0, 0.25, 1.0])
    assert [len(j.calls) for j in (a, b)] == [1, 1]  # one round, both judges at once
    members = result.details["llm_panel"][2].judges
    assert members[0].value == 1.0 and math.isnan(members[1].value)


def test_a_judged_scorer_without_a_judge_says_what_to_pass():
    result = score(_questions()[:1], ["llm_judge"], on_error="nan")
    assert "needs a judge model" in result.columns["score_errors"][0]["llm_judge"]


def test_ascore_gives_the_same_values_through_agenerate():
    judge = FakeBackend({"2+2": "0.5", "France": "Confidence: 1", "Hamlet": "0.25"})
    spec = verbalized_confidence_scorer(judge)
    sync = score(_questions(), [spec]).columns["verbalized_confidence"]
    asynch = asyncio.run(ascore(_questions(), [spec])).columns["verbalized_confidence"]
    assert sync == asynch == pytest.approx([0.5, 1.0, 0.25])
    assert judge.calls[-1].asynchronous


# --------------------------------------------------------------------------- UQScorer


def test_required_statistics_follow_the_equivalence():
    assert required_statistics(["semantic_negentropy"], "nli") == {"nli"}
    assert required_statistics(["semantic_negentropy"], "normalized_match") == set()
    assert required_statistics(["semantic_negentropy"], "embedding") == {"embeddings"}
    assert required_statistics(["noncontradiction", "cosine_sim"], "numeric") == {
        "nli",
        "embeddings",
    }
    assert required_statistics(["p_true", "sequence_probability"]) == {"judge"}


def test_shared_statistics_name_what_to_pass_when_no_nli_model_is_configured():
    stats = SharedStatistics()
    with pytest.raises(ValueError, match="nli_model_name="):
        stats.require({"nli"})
    stats.require({"judge", "answer"})  # nothing to load
    assert stats.nli is None and stats.embedder is None


def test_uq_scorer_scores_any_family_together():
    ss = SampleSet(
        "Capital of France?",
        Generation("Paris", logprobs=[math.log(0.5), math.log(0.8)]),
        [Generation("paris"), Generation("Paris."), Generation("Lyon")],
    )
    scorer = UQScorer(
        ["sequence_probability", "exact_match", "semantic_sets_confidence"],
        equivalence="normalized_match",
    )
    result = scorer.score([ss])
    assert result.columns["sequence_probability"] == pytest.approx([0.4])
    assert result.columns["exact_match"] == pytest.approx([2 / 3])
    # K = 2 clusters among n = 4 responses: (n - K) / (n - 1)
    assert result.columns["semantic_sets_confidence"] == pytest.approx([2 / 3])
    assert scorer.scorers == ["sequence_probability", "exact_match", "semantic_sets_confidence"]


def test_exact_match_normalizer_is_honoured():
    bb = BlackBoxUQ(
        scorers=["exact_match"],
        use_best=False,
        nli_model_name=None,
        exact_match_normalizer=lambda t: t[:1].lower(),
    )
    res = bb.score(["Paris"], [["pancake", "Lyon"]])
    assert res.columns["exact_match"] == [0.5]  # "p" == "p", "p" != "l"
    raw = BlackBoxUQ(
        scorers=["exact_match"], use_best=False, nli_model_name=None, exact_match_normalizer=None
    )
    assert raw.score(["Paris"], [["Paris ", "Paris"]]).columns["exact_match"] == [0.5]


def test_settings_for_a_langchain_llm_given_with_an_lmuq_backend_warn():
    with pytest.warns(UserWarning, match="max_calls_per_min, system_prompt apply to a LangChain"):
        BlackBoxUQ(
            llm=FakeBackend({"": "x"}),
            scorers=["exact_match"],
            max_calls_per_min=10,
            system_prompt="be brief",
        )


def test_generate_and_score_sync_works_inside_a_running_loop():
    bb = BlackBoxUQ(llm=FakeBackend({"": "Paris"}), scorers=["exact_match"], nli_model_name=None)

    async def notebook_cell():
        return bb.generate_and_score_sync(["Capital of France?"], num_responses=2)

    result = asyncio.run(notebook_cell())
    assert result.columns["exact_match"] == [1.0]


def test_verbose_prints_each_stage(capsys):
    bb = BlackBoxUQ(scorers=["exact_match"], nli_model_name=None, verbose=True, use_best=False)
    bb.score(["a"], [["a", "b"]], show_progress_bars=False)
    err = capsys.readouterr().err
    assert "[BlackBoxUQ] scoring 1 responses with exact_match" in err
    assert "scored in" in err


def test_len_of_a_result_without_prompts_counts_its_rows():
    res = BlackBoxUQ(scorers=["exact_match"], use_best=False, nli_model_name=None).score(
        ["a", "b"], [["a"], ["c"]], show_progress_bars=False
    )
    assert "prompt" not in res.columns and len(res) == 2


# --------------------------------------------------------------------------- secrets


def test_one_secrets_policy():
    key = "sk-live-0123456789abcdef"
    assert (
        redact_text(f"401: bad key {key} for user", [Secret(key)])
        == f"401: bad key {MASK} for user"
    )
    assert redact_text("Authorization: Bearer abc.def") == f"Authorization: {MASK}"
    assert redact_text("token hf_AbCdEfGhIjKlMnOp leaked") == f"token {MASK} leaked"
    assert redact_url("http://bob:pw@host:8000/v1") == f"http://{MASK}@host:8000/v1"
    assert redact_url("http://host/v1") == "http://host/v1"
    out = redact_settings({"base_url": "https://u:p@x.org/v1", "n": 3, "apiKey": "k"})
    assert out == {"base_url": f"https://{MASK}@x.org/v1", "n": 3, "apiKey": MASK}
    assert repr(Secret(key)) == f"'{MASK}'" and key not in str(Secret(key))
    with pytest.raises(TypeError, match="not pickled"):
        import pickle

        pickle.dumps(Secret(key))


def test_no_warning_when_every_generation_succeeds():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a DrawFailureWarning would fail the test
        sets = draw(FakeBackend({"": "ok"}), ["a"], 1, progress=False)
    assert sets[0].answer.text == "ok" and not sets[0].samples[0].failed


# --------------------------------------------------------------------------- messages (issue 10)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda bb: bb.score(["a"], None), TypeError, "sampled_responses must be a list of lists"),
        (lambda bb: bb.score(["a"], [["a"]], prompts=[None]), TypeError, r"prompts\[0\] is a"),
        (lambda bb: bb.score(["a"], [["a"]], prompts="p"), TypeError, "prompts must be a list"),
        (lambda bb: bb.score(None, [["a"]]), TypeError, "responses must be a list of str"),
    ],
)
def test_bad_inputs_name_the_argument_and_what_to_pass(call, error, message):
    bb = BlackBoxUQ(scorers=["exact_match"], nli_model_name=None)
    with pytest.raises(error, match=message):
        call(bb)


def test_scoring_none_or_negative_cluster_labels_name_the_argument():
    from lmuq import WhiteBoxUQ
    from lmuq.scoring.functional.semantic import semantic_entropy_discrete

    with pytest.raises(TypeError, match="sample_sets is None: pass a list of SampleSet"):
        WhiteBoxUQ().score(None)
    with pytest.raises(ValueError, match=r"labels must be cluster ids >= 0"):
        semantic_entropy_discrete([-1, 0])
