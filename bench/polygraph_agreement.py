"""Agreement of lmuq's semantic density, CoCoA, SAR, CCP, RAUQ, attention score and
EigenScore with LM-Polygraph 0.7.0.

Not run in CI. LM-Polygraph pins its own torch / transformers, so it lives in its own
virtual environment and the two libraries meet through a file. Both sides compute from the
*same statistics* (log-probs, similarities, NLI probabilities drawn at random here), so the
comparison checks the formulas, not the models:

    # 1. in lmuq's environment: draw the cases and lmuq's values
    PYTHONPATH=src .venv/bin/python bench/polygraph_agreement.py export /tmp/cases.json

    # 2. in a separate venv with LM-Polygraph (once):
    python -m venv /tmp/venv-polygraph
    /tmp/venv-polygraph/bin/pip install torch==2.13.0 lm-polygraph==0.7.0
    #    then feed the same statistics to LM-Polygraph's estimators and compare:
    /tmp/venv-polygraph/bin/python bench/polygraph_agreement.py compare /tmp/cases.json

    # (a quicker check of the formulas alone: the package without its dependencies)
    pip install --no-deps --target /tmp/pgpkg lm-polygraph==0.7.0
    PYTHONPATH=/tmp/pgpkg .venv/bin/python bench/polygraph_agreement.py compare /tmp/cases.json

``compare`` needs only numpy and ``lm_polygraph.estimators`` (no model is loaded); it prints,
per estimator, the largest absolute difference between LM-Polygraph's value and lmuq's value
in LM-Polygraph's convention (an uncertainty: higher = less confident). Expected
differences, by design (see the functional modules' docstrings):

* SemanticDensity: LM-Polygraph adds the answer itself as a reference with kernel 1; the
  ``lmuq_polygraph_form`` value reproduces that (and should agree), ``lmuq`` is the paper's
  form over the unique samples only.
* TokenSAR: when every token has similarity 1, LM-Polygraph returns 0 and lmuq the mean
  surprisal (uniform relevance); the cases here avoid that tie.
* CCP: LM-Polygraph's sequence-level CCP returns −Π CCP_t, and reads the NLI label of each
  alternative in both directions (row 0 and column 0 of its label matrix); lmuq's
  ``combine_directions`` does the same. Its NLI inputs are the bare token strings, lmuq's
  scorer the answer's prefix ending in each; here both get the same labels.

* RAUQ: LM-Polygraph returns u + 1 (``1 − mean log c``); ``lmuq`` here is lmuq's u + 1.
* AttentionScore: LM-Polygraph reads a second forward pass, so its full form also counts
  the response's last token, which lmuq's generation pass never reads; the full form is
  compared on the positions lmuq has (prompt and response but the last token), the
  ``gen_only`` form on LM-Polygraph's own slice (which leaves the last token out too).

An estimator whose statistics' names differ in the installed LM-Polygraph is reported as an
error, not silently skipped.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import warnings
from pathlib import Path

import numpy as np

TEMPERATURE = 0.001  # SAR's t, both libraries' default
LAYERS, HEADS, PROMPT = 6, 3, 4  # the shape of the random attention maps


def _draw(seed: int) -> dict:
    case = _draw_text_statistics(seed)
    # drawn from their own stream, so that the cases above stay as they were
    rng = np.random.default_rng([seed, 1])
    n_tok, m = len(case["answer_logprobs"]), len(case["sample_texts"])
    case["attention_prompt"] = rng.uniform(0.01, 1.0, size=(LAYERS, HEADS, PROMPT)).tolist()
    case["attention_tokens"] = rng.uniform(0.01, 1.0, size=(LAYERS, HEADS, n_tok - 1)).tolist()
    case["sample_embeddings"] = rng.normal(size=(m, 8)).tolist()
    return case


def _draw_text_statistics(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    m = int(rng.integers(2, 6))
    n_tok = int(rng.integers(1, 6))
    k = 3

    def lps(n: int) -> list[float]:
        return np.log(rng.uniform(0.05, 1.0, size=n)).tolist()

    def probs(n: int) -> list[list[float]]:
        p = rng.dirichlet([1.0, 1.0, 1.0], size=n)
        return p.tolist()

    g = rng.uniform(0.0, 1.0, size=(m, m))
    g = (g + g.T) / 2
    np.fill_diagonal(g, 1.0)
    texts = [f"text {int(rng.integers(0, 3))}" for _ in range(m)]  # some repeat
    sample_token_lps = [lps(int(rng.integers(1, 5))) for _ in range(m)]
    return {
        "seed": seed,
        "answer_logprobs": lps(n_tok),
        "answer_token_entropies": rng.uniform(0.0, math.log(k), size=n_tok).tolist(),
        "answer_sample_similarity": rng.uniform(0.0, 1.0, size=m).tolist(),
        "answer_token_similarity": rng.uniform(0.0, 0.99, size=n_tok).tolist(),
        "sample_texts": texts,
        "sample_token_logprobs": sample_token_lps,
        "sample_token_similarity": [
            rng.uniform(0.0, 0.99, size=len(t)).tolist() for t in sample_token_lps
        ],
        "sample_similarity": g.tolist(),
        "answer_sample_nli": probs(m),  # NLI(answer → sample j)
        "ccp_alternative_logprobs": [sorted(lps(k), reverse=True) for _ in range(n_tok)],
        # NLI(original → alternative) and NLI(alternative → original) at each step
        "ccp_forward": rng.choice(["entail", "neutral", "contra"], size=(n_tok, k)).tolist(),
        "ccp_backward": rng.choice(["entail", "neutral", "contra"], size=(n_tok, k)).tolist(),
    }


def _lmuq_values(case: dict) -> dict[str, float]:
    from lmuq.constants import CONTRADICTION, ENTAILMENT, NEUTRAL
    from lmuq.scoring.functional import ccp as CCPF
    from lmuq.scoring.functional import cocoa as CoF
    from lmuq.scoring.functional import internals as IF
    from lmuq.scoring.functional import sar as SarF
    from lmuq.scoring.functional import semantic_density as SDF

    ans_lp = np.array(case["answer_logprobs"])
    sims = case["answer_sample_similarity"]
    out = {
        "CocoaMSP": CoF.cocoa_uncertainty(-ans_lp.sum(), sims),
        "CocoaPPL": CoF.cocoa_uncertainty(-ans_lp.mean(), sims),
        "CocoaMTE": CoF.cocoa_uncertainty(float(np.mean(case["answer_token_entropies"])), sims),
        "TokenSAR": SarF.token_sar(ans_lp, case["answer_token_similarity"]),
    }
    sample_ll = [float(np.sum(t)) for t in case["sample_token_logprobs"]]
    g = np.array(case["sample_similarity"])
    out["SentenceSAR"] = SarF.sentence_sar(sample_ll, g, TEMPERATURE)
    token_sars = [
        SarF.token_sar(t, s)
        for t, s in zip(case["sample_token_logprobs"], case["sample_token_similarity"], strict=True)
    ]
    out["SAR"] = SarF.sentence_sar(-np.array(token_sars), g, TEMPERATURE)
    # semantic density: unique samples (first occurrence), length-normalised weights
    first: dict[str, int] = {}
    for j, t in enumerate(case["sample_texts"]):
        first.setdefault(t, j)
    idx = list(first.values())
    nli = np.array(case["answer_sample_nli"])[idx]
    ll = [float(np.mean(case["sample_token_logprobs"][j])) for j in idx]
    out["SemanticDensity"] = -SDF.semantic_density(nli, ll)
    # LM-Polygraph's form: the answer as one more reference, kernel 1
    with_answer = np.vstack([nli, [1.0, 0.0, 0.0]])
    out["SemanticDensity/lmuq_polygraph_form"] = -SDF.semantic_density(
        with_answer, [*ll, float(ans_lp.mean())]
    )
    codes = {"entail": ENTAILMENT, "neutral": NEUTRAL, "contra": CONTRADICTION}
    steps = []
    for lp, fwd, bwd in zip(
        case["ccp_alternative_logprobs"], case["ccp_forward"], case["ccp_backward"], strict=True
    ):
        labels = [
            CCPF.combine_directions(codes[f], codes[b]) for f, b in zip(fwd, bwd, strict=True)
        ]
        steps.append((lp, [-1, *labels[1:]]))
    out["CCP"] = -math.exp(CCPF.claim_conditioned_log_probability(steps))
    tokens = np.array(case["attention_tokens"]).reshape(LAYERS, HEADS, -1)
    prompt = np.log(np.array(case["attention_prompt"]) + 1e-12).sum(-1)
    out["RAUQ"] = IF.rauq(ans_lp, tokens, alpha=0.2) + 1.0
    mid = LAYERS // 2
    out["AttentionScore"] = IF.attention_score(tokens[mid], prompt[mid])
    out["AttentionScore/gen_only"] = IF.attention_score(tokens[mid])
    out["EigenScore"] = IF.eigenscore(np.array(case["sample_embeddings"]))
    return out


def export(path: Path, n: int) -> None:
    cases = []
    for seed in range(n):
        case = _draw(seed)
        case["lmuq"] = _lmuq_values(case)
        cases.append(case)
    path.write_text(json.dumps(cases, indent=1), encoding="utf-8")
    print(f"wrote {n} cases to {path}")


def _nli_matrix(forward: list[str], backward: list[str]) -> list[list[str]]:
    """LM-Polygraph's (k, k) label matrix: row 0 = NLI(original → alternative i), column 0 =
    NLI(alternative i → original); the other cells are not read by its CCP."""
    k = len(forward)
    matrix = [["neutral"] * k for _ in range(k)]
    matrix[0] = list(forward)
    for i in range(k):
        matrix[i][0] = backward[i]
    matrix[0][0] = forward[0]
    return matrix


_ESTIMATORS = {
    "cocoa": ("CocoaMSP", "CocoaPPL", "CocoaMTE"),
    "token_sar": ("TokenSAR",),
    "sentence_sar": ("SentenceSAR",),
    "sar": ("SAR",),
    "semantic_density": ("SemanticDensity",),
    "claim_conditioned_probability": ("ClaimConditionedProbability",),
    "rauq": ("RAUQ",),
    "attention_score": ("AttentionScore",),
    "eigenscore": ("EigenScore",),
}


def _attention_maps(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LM-Polygraph's attention inputs built from the case's diagonals: ``attention_all``
    (layers * heads, T, T) with a[t, t - 1] = the token attention, and the forward pass's
    (layers, heads, N, N) maps over N = prompt + T - 1 positions (lmuq's) and N + 1 (with
    the last token, for ``gen_only``)."""
    prompt = np.array(case["attention_prompt"])
    tokens = np.array(case["attention_tokens"]).reshape(LAYERS, HEADS, -1)
    t = tokens.shape[2] + 1
    attention_all = np.zeros((LAYERS * HEADS, t, t))
    for j in range(1, t):
        attention_all[:, j, j - 1] = tokens[:, :, j - 1].reshape(-1)
    diag = np.concatenate([prompt, tokens], axis=2)
    n = diag.shape[2]
    full = np.zeros((LAYERS, HEADS, n, n))
    full[:, :, np.arange(n), np.arange(n)] = diag
    longer = np.zeros((LAYERS, HEADS, n + 1, n + 1))
    longer[:, :, np.arange(n), np.arange(n)] = diag
    longer[:, :, n, n] = 0.5  # the last token's entry, which gen_only leaves out
    return attention_all, full, longer


@functools.cache
def _estimators():
    """LM-Polygraph's estimator classes. With a full install, from the package; with
    ``pip install --no-deps lm-polygraph==0.7.0``, the estimator modules alone (the package's
    ``__init__`` imports its model adapters and their dependencies; these modules need only
    numpy and the ``polygraph_module_init`` logging decorator, stood in for here)."""
    try:
        from lm_polygraph import estimators

        return estimators
    except ImportError:
        pass
    import importlib
    import importlib.util
    import types

    for name in [n for n in sys.modules if n == "lm_polygraph" or n.startswith("lm_polygraph.")]:
        del sys.modules[name]
    spec = importlib.util.find_spec("lm_polygraph")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("lm_polygraph is not installed in this environment")
    root = Path(next(iter(spec.submodule_search_locations)))
    for name, folder in [
        ("lm_polygraph", root),
        ("lm_polygraph.estimators", root / "estimators"),
        ("lm_polygraph.utils", root / "utils"),
    ]:
        package = types.ModuleType(name)
        package.__path__ = [str(folder)]
        sys.modules[name] = package
    common = types.ModuleType("lm_polygraph.utils.common")
    common.polygraph_module_init = lambda func: func
    sys.modules["lm_polygraph.utils.common"] = common
    found = types.SimpleNamespace()
    for module, names in _ESTIMATORS.items():
        loaded = importlib.import_module(f"lm_polygraph.estimators.{module}")
        for n in names:
            setattr(found, n, getattr(loaded, n))
    return found


def _polygraph_values(case: dict) -> dict[str, float]:
    E = _estimators()

    ans_lp = np.array(case["answer_logprobs"])
    g = np.array(case["sample_similarity"])
    sample_lls = [np.array(t) for t in case["sample_token_logprobs"]]
    stats = {
        "greedy_log_likelihoods": [ans_lp],
        "greedy_log_probs": [ans_lp],
        "greedy_sentence_similarity": [np.array(case["answer_sample_similarity"])],
        "entropy": [np.array(case["answer_token_entropies"])],
        "token_similarity": [np.array(case["answer_token_similarity"])],
        "sample_sentence_similarity": [g],
        "sample_log_probs": [np.array([t.sum() for t in sample_lls])],
        "sample_log_likelihoods": [sample_lls],
        "sample_token_similarity": [[np.array(s) for s in case["sample_token_similarity"]]],
        "sample_tokens": [[list(range(len(t))) for t in sample_lls]],
        "sample_texts": [case["sample_texts"]],
        # NLI(answer → sample j): 0.7.0's names, and the later releases' ("greedy_sample")
        **{
            f"concat_greedy{infix}_semantic_matrix_{label}_forward": [
                np.array(case["answer_sample_nli"])[:, column]
            ]
            for infix in ("", "_sample")
            for label, column in (("contra", 2), ("neutral", 1))
        },
        "greedy_tokens": [list(range(len(ans_lp)))],
        "greedy_tokens_alternatives": [
            [
                [(f"w{j}", lp) for j, lp in enumerate(alts)]
                for alts in case["ccp_alternative_logprobs"]
            ]
        ],
        "greedy_tokens_alternatives_nli": [
            [
                _nli_matrix(f, b)
                for f, b in zip(case["ccp_forward"], case["ccp_backward"], strict=True)
            ]
        ],
    }
    attention_all, full, longer = _attention_maps(case)
    with_last = {"greedy_tokens": [list(range(len(ans_lp)))]}
    makers = {
        "CocoaMSP": lambda: E.CocoaMSP(),
        "CocoaPPL": lambda: E.CocoaPPL(),
        "CocoaMTE": lambda: E.CocoaMTE(),
        "TokenSAR": lambda: E.TokenSAR(),
        "SentenceSAR": lambda: E.SentenceSAR(),
        "SAR": lambda: E.SAR(),
        "SemanticDensity": lambda: E.SemanticDensity(),
        "CCP": lambda: E.ClaimConditionedProbability(),
        "RAUQ": lambda: E.RAUQ(alpha=0.2, n_layers=LAYERS, n_heads=HEADS),
        "AttentionScore": lambda: E.AttentionScore(layer=LAYERS // 2),
        "AttentionScore/gen_only": lambda: E.AttentionScore(layer=LAYERS // 2, gen_only=True),
        "EigenScore": lambda: E.EigenScore(),
    }
    extra = {
        "RAUQ": {"attention_all": [attention_all]},
        "AttentionScore": {"forwardpass_attention_weights": [full]},
        "AttentionScore/gen_only": {"forwardpass_attention_weights": [longer], **with_last},
        "EigenScore": {"sample_embeddings": [np.array(case["sample_embeddings"])]},
    }
    out = {}
    for name, make in makers.items():
        try:
            inputs = {**stats, **extra.get(name, {})}
            out[name] = float(np.asarray(make()(inputs)).reshape(-1)[0])
        except Exception as exc:  # an API difference in the installed version: report it
            out[name] = f"error: {type(exc).__name__}: {exc}"
    return out


def compare(path: Path) -> int:
    # LM-Polygraph's RAUQ averages an empty slice for a one-token answer (then picks head 0,
    # which it never reads): numpy's warning, not a difference
    warnings.simplefilter("ignore", RuntimeWarning)
    cases = json.loads(path.read_text(encoding="utf-8"))
    worst: dict[str, float | str] = {}
    for case in cases:
        theirs = _polygraph_values(case)
        for name, ours in case["lmuq"].items():
            key = name if name in theirs else name.split("/")[0]
            got = theirs.get(key)
            if isinstance(got, str):
                worst[name] = got
                continue
            if isinstance(worst.get(name), str):
                continue
            worst[name] = max(float(worst.get(name, 0.0)), abs(got - ours))
    width = max(len(n) for n in worst)
    print(f"{'estimator':<{width}}  max |LM-Polygraph − lmuq| over {len(cases)} cases")
    for name, diff in worst.items():
        print(f"{name:<{width}}  {diff if isinstance(diff, str) else f'{diff:.3g}'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="draw the cases and lmuq's values (lmuq's venv)")
    ex.add_argument("path", type=Path)
    ex.add_argument("-n", type=int, default=50)
    cmp_ = sub.add_parser("compare", help="LM-Polygraph's values on the same cases (its venv)")
    cmp_.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if args.command == "export":
        export(args.path, args.n)
        return 0
    return compare(args.path)


if __name__ == "__main__":
    sys.exit(main())
