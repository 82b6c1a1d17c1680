"""Trust policies (issue 11): fit on a graded run, save as JSON, apply identically.

The numbers checked here are worked out in the test from the definitions (the conformal
rule, the weighted mean, the Platt and isotonic maps, Clopper–Pearson), never read back from
what the code printed.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest

from lmuq.app.cli import main
from lmuq.evaluation.metrics import auroc
from lmuq.evaluation.policy import (
    SAMPLE_MEAN_SCORERS,
    PolicyError,
    TrustPolicy,
    fit_policy,
    load_policy,
    policy_report,
)
from lmuq.storage.run_store import RunStore
from lmuq.types import Generation, SampleSet

ALPHA = 0.1


def synthetic_scores(n: int, seed: int) -> pd.DataFrame:
    """A graded run whose two scores both carry signal: correct ~ Bernoulli(sigmoid(2z)),
    sequence_probability = sigmoid(z + noise), exact_match = Binomial(5, sigmoid(z + noise))
    / 5 (a share of 5 samples, as the real scorer is)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    correct = rng.random(n) < 1 / (1 + np.exp(-2 * z))
    sp = 1 / (1 + np.exp(-(z + rng.normal(scale=0.8, size=n))))
    em = rng.binomial(5, 1 / (1 + np.exp(-(z + rng.normal(scale=1.0, size=n))))) / 5
    return pd.DataFrame(
        {
            "id": [f"q{i}" for i in range(n)],
            "correct": correct,
            "sequence_probability": sp,
            "exact_match": em,
            "baseline:short_answer": -rng.integers(1, 9, n),
        }
    )


def write_folder(folder: Path, table: pd.DataFrame) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "results.csv", index=False)
    run = {
        "sample_set_params": {
            "answer_params": {"temperature": 0.0, "max_new_tokens": 16},
            "sample_params": {
                "temperature": 0.5,
                "top_p": 0.9,
                "top_k": None,
                "max_new_tokens": 16,
            },
            "num_samples": 5,
        },
        "config": {"top_logprobs": 7, "nli_model": None},
        "scoring_metadata": {
            "equivalence": "normalized_match",
            "strict_entailment": True,
            "condition_on_question": False,
            "nli_model": None,
        },
    }
    (folder / "run.json").write_text(json.dumps(run))
    return folder


def by_hand_confidence(doc: dict, table: pd.DataFrame) -> np.ndarray:
    """The policy's confidence from its JSON, re-implemented: weighted mean, then Platt."""
    w = np.array(doc["ensemble"]["weights"])
    v = np.stack([table[s].to_numpy(float) for s in doc["scorers"]], axis=1)
    e = (v * w).sum(axis=1) / w.sum()
    cal = doc["calibrator"]
    assert cal["kind"] == "platt"
    return 1 / (1 + np.exp(-(cal["coef"] * e + cal["intercept"])))


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    table = synthetic_scores(3000, seed=1)
    return write_folder(tmp_path_factory.mktemp("run") / "out", table), table


def test_calibrate_writes_a_versioned_json_policy(graded, tmp_path, capsys):
    folder, table = graded
    out = tmp_path / "policy.json"
    assert main(["calibrate", str(folder), "-o", str(out), "--alpha", "0.1"]) == 0
    text = out.read_text()
    doc = json.loads(text)  # plain JSON: nothing to unpickle
    assert doc["format"] == "lmuq.trust_policy" and doc["version"] == 1
    assert doc["id"].startswith("pol-") and doc["id"] in capsys.readouterr().out
    # auto: the best answer-only scorer and the best sample-based one (only two columns)
    assert set(doc["scorers"]) == {"sequence_probability", "exact_match"}
    assert math.isclose(sum(doc["ensemble"]["weights"]), 1.0)
    assert doc["alpha"] == 0.1 and 0 < doc["threshold"] < 1
    assert "alpha = 0.1" in doc["guarantee"] and "accepted and wrong" in doc["guarantee"]
    assert "lower bound is >= threshold" in doc["adaptive_rule"]
    # sampling settings are the run's (run.json), plus the batch size
    assert doc["sampling"] == {
        "num_samples": 5,
        "batch_size": 2,
        "temperature": 0.5,
        "top_p": 0.9,
        "top_k": None,
        "max_new_tokens": 16,
        "top_logprobs": 7,
        "answer_temperature": 0.0,
        "answer_max_new_tokens": 16,
    }
    assert doc["scoring"]["equivalence"] == "normalized_match"
    # the data hash: canonical JSON of [correct, v_1, ..., v_K] per row, in order
    rows = [
        [int(c), *(float(table[s][i]) for s in doc["scorers"])]
        for i, c in enumerate(table["correct"])
    ]
    canonical = json.dumps({"scorers": doc["scorers"], "rows": rows}, separators=(",", ":"))
    assert doc["data"]["sha256"] == hashlib.sha256(canonical.encode()).hexdigest()
    # the three splits partition the rows: 20% holdout, the rest halved
    d = doc["data"]
    assert (len(d["holdout"]), len(d["fit"]), len(d["conformal"])) == (600, 1200, 1200)
    assert sorted(d["holdout"] + d["fit"] + d["conformal"]) == list(range(3000))


def test_threshold_is_the_conformal_risk_control_rule(graded, tmp_path):
    folder, table = graded
    out = tmp_path / "policy.json"
    assert main(["calibrate", str(folder), "-o", str(out), "--alpha", "0.1"]) == 0
    doc = json.loads(out.read_text())
    conf = by_hand_confidence(doc, table)
    rows = np.array(doc["data"]["conformal"])
    c, y = conf[rows], table["correct"].to_numpy()[rows]
    n = rows.size
    # λ̂ = min{λ among calibration confidences : (#wrong with c >= λ + 1) / (n + 1) <= α}
    feasible = [lam for lam in np.unique(c) if ((~y & (c >= lam)).sum() + 1) / (n + 1) <= ALPHA]
    assert math.isclose(doc["threshold"], min(feasible), rel_tol=0, abs_tol=1e-12)
    wrong = int((~y & (c >= doc["threshold"])).sum())
    assert doc["report"]["conformal"]["accepted_wrong"] == wrong
    assert doc["report"]["conformal"]["risk_bound"] == (wrong + 1) / (n + 1)
    assert doc["report"]["conformal"]["risk_bound"] <= ALPHA


def test_holdout_accepted_and_wrong_rate_is_at_most_alpha_within_its_interval(graded, tmp_path):
    folder, table = graded
    out = tmp_path / "policy.json"
    assert main(["calibrate", str(folder), "-o", str(out), "--alpha", "0.1"]) == 0
    doc = json.loads(out.read_text())
    hold = np.array(doc["data"]["holdout"])
    conf = by_hand_confidence(doc, table)[hold]
    y = table["correct"].to_numpy()[hold]
    bad = int((~y & (conf >= doc["threshold"])).sum())
    ci = binomtest(bad, hold.size).proportion_ci(0.95, method="exact")
    assert ci.low <= ALPHA  # the policy's claim, within the interval
    rep = doc["report"]["holdout"]
    assert rep["accepted_wrong"] == bad and rep["n"] == hold.size
    assert math.isclose(rep["risk_low"], ci.low) and math.isclose(rep["risk_high"], ci.high)
    assert rep["alpha_within_interval"] is True


def test_the_guarantee_holds_on_average_over_calibration_draws():
    """CRC bounds the expectation over calibration sets: over 40 random splits of fresh
    data the mean held-out accepted-and-wrong rate stays at most α (up to 3 standard
    errors of that mean)."""
    risks = []
    for seed in range(40):
        table = synthetic_scores(1500, seed=100 + seed)
        policy = fit_policy(table, table["correct"], alpha=ALPHA, holdout=0.4, seed=seed)
        risks.append(policy.report["holdout"]["risk"])
    risks = np.array(risks)
    assert risks.mean() <= ALPHA + 3 * risks.std(ddof=1) / math.sqrt(risks.size)
    assert risks.mean() > ALPHA / 2  # and it is not vacuous: it accepts a lot


def test_the_saved_file_reproduces_the_reported_numbers_exactly(graded, tmp_path):
    folder, table = graded
    out = tmp_path / "policy.json"
    assert main(["calibrate", str(folder), "-o", str(out), "--calibrator", "isotonic"]) == 0
    doc = json.loads(out.read_text())
    policy = load_policy(out)
    # isotonic: numpy.interp on the stored knots, which are non-decreasing in [0, 1]
    x, yk = np.array(doc["calibrator"]["x"]), np.array(doc["calibrator"]["y"])
    assert (np.diff(x) >= 0).all() and (np.diff(yk) >= 0).all() and 0 <= yk.min() <= 1
    w = np.array(doc["ensemble"]["weights"])
    e = (np.stack([table[s] for s in doc["scorers"]], axis=1) * w).sum(axis=1) / w.sum()
    assert np.allclose(policy.confidence_of_table(table), np.interp(e, x, yk), atol=1e-12)
    again = policy_report(policy, policy.score_matrix(table), table["correct"])
    assert json.loads(json.dumps(again)) == doc["report"]  # equal floats, not close ones
    assert policy.id == doc["id"]


def _generation(rng: np.random.Generator, text: str) -> Generation:
    return Generation(text, logprobs=-rng.exponential(0.3, size=int(rng.integers(1, 6))))


def test_lmuq_score_policy_applies_the_file_to_a_run_folder(tmp_path):
    """A real scoring path: nested results.jsonl lines (answer and samples with log-probs)
    scored with the policy's scorers give the run's own scores, so `lmuq score --policy`
    on the calibration data reproduces the policy's confidences and decisions."""
    from lmuq.uq.scorer import UQScorer

    rng = np.random.default_rng(3)
    words = ["Paris", "Lyon", "Nice"]
    sets, correct = [], []
    for i in range(240):
        answer = _generation(rng, str(rng.choice(words)))
        samples = [_generation(rng, str(rng.choice(words))) for _ in range(4)]
        sets.append(SampleSet(f"q{i}", answer, samples))
        p = math.exp(float(answer.logprobs.sum()))
        correct.append(bool(rng.random() < 0.2 + 0.7 * p))
    scores = UQScorer(["sequence_probability", "exact_match"]).score(sets)
    table = pd.DataFrame(
        {
            "correct": correct,
            "sequence_probability": scores.columns["sequence_probability"],
            "exact_match": scores.columns["exact_match"],
        }
    )
    folder = write_folder(tmp_path / "run", table)
    with open(folder / "results.jsonl", "w") as fh:
        for ss, row in zip(sets, table.to_dict("records"), strict=True):
            rec = {"prompt": ss.prompt, **row, "answer": ss.answer.to_dict()}
            rec["samples"] = [s.to_dict() for s in ss.samples]
            fh.write(json.dumps(rec) + "\n")
    policy_path = tmp_path / "policy.json"
    assert main(["calibrate", str(folder), "-o", str(policy_path), "--holdout", "0"]) == 0
    scored = tmp_path / "scored.jsonl"
    args = ["score", str(folder / "results.jsonl"), "-o", str(scored), "--no-progress"]
    assert main([*args, "--policy", str(policy_path)]) == 0
    doc = json.loads(policy_path.read_text())
    expected = by_hand_confidence(doc, table)
    lines = [json.loads(line) for line in scored.read_text().splitlines()]
    got = np.array([rec["lmuq"]["confidence"] for rec in lines])
    assert np.array_equal(got, policy_path and load_policy(policy_path).confidence_of_table(table))
    assert np.allclose(got, expected, atol=1e-12)
    decisions = [rec["lmuq"]["decision"] for rec in lines]
    assert decisions == ["accept" if c >= doc["threshold"] else "flag" for c in got]
    assert all(rec["lmuq"]["policy_id"] == doc["id"] for rec in lines)
    # the reported conformal numbers, recomputed from the scored file
    rows = doc["data"]["conformal"]
    acc = [decisions[i] == "accept" for i in rows]
    wrong = sum(a and not correct[i] for a, i in zip(acc, rows, strict=True))
    assert doc["report"]["conformal"]["accepted"] == sum(acc)
    assert doc["report"]["conformal"]["accepted_wrong"] == wrong


def test_calibrate_reads_a_store(tmp_path):
    table = synthetic_scores(400, seed=5)
    path = tmp_path / "runs.sqlite"
    settings = {
        "num_samples": 5,
        "sample_params": {"temperature": 1.0, "top_p": None, "top_k": None, "max_new_tokens": 24},
        "answer_params": {"temperature": 0.0, "max_new_tokens": 24},
        "top_logprobs": 10,
    }
    with RunStore(path) as store:
        run = store.create_run(settings, [f"q{i}" for i in range(400)], run_id="r1")
        for i in range(400):
            for s in ("sequence_probability", "exact_match"):
                store.record_score(run, i, s, float(table[s][i]))
        store.record_labels(run, [bool(c) for c in table["correct"]])
    out = tmp_path / "p.json"
    args = ["calibrate", str(path), "-o", str(out), "--scorers", "sequence_probability"]
    assert main(args) == 0
    doc = json.loads(out.read_text())
    assert doc["scorers"] == ["sequence_probability"] and doc["ensemble"]["weights"] == [1.0]
    assert doc["data"]["source"] == f"{path}#r1"
    assert doc["sampling"]["max_new_tokens"] == 24 and doc["sampling"]["temperature"] == 1.0


def test_auto_picks_the_best_scorer_of_each_kind_on_the_fit_split():
    table = synthetic_scores(800, seed=9)
    rng = np.random.default_rng(0)
    table["min_probability"] = rng.random(800)  # answer-only noise: AUROC about 0.5
    table["rouge_l"] = rng.random(800)  # sample-based noise
    policy = fit_policy(table, table["correct"], alpha=0.2, holdout=0.0)
    fit = np.array(policy.data.fit)
    y = table["correct"].to_numpy()[fit]
    best_answer = max(
        ("sequence_probability", "min_probability"), key=lambda s: auroc(table[s][fit], y)
    )
    best_sample = max(("exact_match", "rouge_l"), key=lambda s: auroc(table[s][fit], y))
    assert set(policy.scorers) <= {best_answer, best_sample}
    assert best_answer == "sequence_probability" and best_sample == "exact_match"


def test_a_policy_file_is_checked_when_read(graded, tmp_path):
    folder, _ = graded
    out = tmp_path / "policy.json"
    assert main(["calibrate", str(folder), "-o", str(out)]) == 0
    doc = json.loads(out.read_text())

    def bad(change, match):
        d = json.loads(json.dumps(doc))
        change(d)
        out.write_text(json.dumps(d))
        with pytest.raises(PolicyError, match=match):
            load_policy(out)

    bad(lambda d: d.update(threshold=0.01), "was edited")
    bad(lambda d: d.update(version=99), "Upgrade lmuq")
    bad(lambda d: d.update(format="pickle"), "not an lmuq trust policy")
    bad(lambda d: (d.pop("id"), d.update(scorers=["nope", "exact_match"])), "not a registered")
    bad(lambda d: (d.pop("id"), d["ensemble"].update(weights=[1.0])), "one weight per scorer")
    bad(lambda d: (d.pop("id"), d["sampling"].update(num_samples=0)), "num_samples")
    bad(lambda d: (d.pop("id"), d["calibrator"].update(coef="x")), "calibrator.coef")
    out.write_text('{"format": "lmuq.trust_policy", "alpha": NaN}')
    with pytest.raises(PolicyError, match="NaN is not JSON"):
        load_policy(out)


def test_calibrate_refuses_bad_input_with_a_message(graded, tmp_path, capsys):
    folder, _ = graded
    out = str(tmp_path / "p.json")
    assert main(["calibrate", str(tmp_path / "nothing"), "-o", out]) == 2
    assert "no run folder or store" in capsys.readouterr().err
    assert main(["calibrate", str(folder), "-o", out, "--scorers", "rouge_l"]) == 2
    assert "no column 'rouge_l'" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # a usage error: Click names the flag
        main(["calibrate", str(folder), "-o", out, "--alpha", "1.5"])
    assert "--alpha" in capsys.readouterr().err
    args = ["score", "x.jsonl", "-o", out, "--policy", out, "--scorers", "exact_match"]
    assert main(args) == 2
    assert "cannot be combined with --policy" in capsys.readouterr().err


def test_too_few_calibration_rows_for_alpha_accept_nothing_and_say_so():
    table = synthetic_scores(30, seed=2)
    policy = fit_policy(table, table["correct"], alpha=0.05, holdout=0.0)
    # 15 conformal rows: (0 + 1) / 16 > 0.05, so no threshold keeps the bound
    assert policy.threshold is None and not policy.accept([1.0])[0]
    assert "accepts no answer" in policy.guarantee
    assert TrustPolicy.from_dict(json.loads(policy.to_json())).threshold is None


def test_sample_mean_scorers_are_means_of_per_sample_terms():
    """The adaptive bound relies on it: each listed scorer on m samples is the mean of its
    values on each single sample."""
    from lmuq.uq.scorer import UQScorer

    listed = sorted(SAMPLE_MEAN_SCORERS & {"exact_match", "rouge_l", "monte_carlo_probability"})
    rng = np.random.default_rng(4)
    answer = _generation(rng, "the capital is Paris")
    samples = [_generation(rng, t) for t in ("Paris", "the capital is Lyon", "paris", "Rome")]
    scorer = UQScorer(listed)
    full = scorer.score([SampleSet("q", answer, samples)])
    singles = scorer.score([SampleSet("q", answer, [s]) for s in samples])
    for name in listed:
        assert math.isclose(full.columns[name][0], np.mean(singles.columns[name]), rel_tol=1e-12)


def test_scores_on_extracted_answers_are_not_used(tmp_path, capsys):
    """A run that compared answers extracted with the question's help (the demo's default
    since answer extraction): live traffic has no question record, so those columns are
    left out of the choice and refused by name."""
    table = synthetic_scores(400, seed=3)
    folder = write_folder(tmp_path / "out", table)
    run = json.loads((folder / "run.json").read_text())
    run["config"]["extract_answers"] = True
    (folder / "run.json").write_text(json.dumps(run))
    out = tmp_path / "p.json"
    assert main(["calibrate", str(folder), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["scorers"] == ["sequence_probability"]
    capsys.readouterr()
    args = ["calibrate", str(folder), "-o", str(out), "--scorers", "exact_match"]
    assert main(args) == 2
    assert "extracted with the question's help" in capsys.readouterr().err
