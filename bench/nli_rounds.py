"""The NLI pairs lmuq asks on the benchmark workload, round by round (no model runs).

lmuq scores ``workload.py``'s prompts with the free rule NLI of ``nli_sim.py`` standing in
for the model; every ``predict_proba`` call is one planning round of the scoring engine, so
the calls are lmuq's rounds and their union is the floor's pairs. ``bench_blackbox.py``
checks on the real path that these are the pairs lmuq runs.

    from nli_rounds import SCENARIOS, record_rounds
    rounds = record_rounds("c")   # [[(premise, hypothesis), ...], ...] one list per round
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from nli_sim import RuleNLI
from workload import make_workload

#: bench_blackbox.py's scenarios that ask NLI: (scorers, use_best)
SCENARIOS = {
    "a": (["noncontradiction"], False),
    "b": (["semantic_negentropy"], True),
    "c": (["noncontradiction", "semantic_negentropy", "cosine_sim"], True),
}

Pair = tuple[str, str]


class _RoundRecorder:
    """The rule NLI, keeping the pairs of each call (one call per round)."""

    def __init__(self) -> None:
        self.rule = RuleNLI("simulated")
        self.name = self.rule.name
        self.calls: list[list[Pair]] = []

    def predict_proba(self, premises, hypotheses):
        self.calls.append(list(zip(premises, hypotheses, strict=True)))
        return self.rule.predict_proba(premises, hypotheses)


def record_rounds(
    scenario: str = "c", prompts: int = 75, samples: int = 10, seed: int = 0
) -> list[list[Pair]]:
    """lmuq's NLI rounds for a scenario of ``bench_blackbox.py`` on the seeded workload."""
    import lmuq
    from lmuq.statistics.embeddings import SentenceEmbedder, default_sentence_model_path

    scorers, use_best = SCENARIOS[scenario]
    recorder = _RoundRecorder()
    responses, sampled = make_workload(prompts, samples, seed).copy_inputs()
    lmuq.BlackBoxUQ(
        scorers=scorers,
        use_best=use_best,
        nli_model=recorder,
        embedder=SentenceEmbedder(default_sentence_model_path()),
    ).score(responses, sampled, show_progress_bars=False)
    return [call for call in recorder.calls if call]


def floor_pairs(rounds: list[list[Pair]]) -> list[Pair]:
    """The distinct pairs of all rounds, in the order first asked."""
    return list(dict.fromkeys(p for call in rounds for p in call))
