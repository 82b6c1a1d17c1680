#!/usr/bin/env python
"""Benchmark lmuq's black-box scoring against its floor and against UQLM 0.6.x.

Scenarios (rows of the table):
  a    noncontradiction                                   (use_best=False, see README)
  b    semantic_negentropy                                (use_best=True)
  c    noncontradiction + semantic_negentropy + cosine_sim (use_best=True)
  cos  cosine_sim                                         (use_best=False)
  a_best  noncontradiction with use_best=True (lmuq only; UQLM 0.6.7 ignores use_best there)

For each: NLI pairs run, forward passes and wall time of
  lmuq   lmuq.BlackBoxUQ.score with nli_model=HFNLIModel (its .model = simulated NLI)
  floor  the distinct (premise, hypothesis) pairs lmuq sent to the model, run once through the
         same HFNLIModel in full batches (+ one encode of the distinct texts when cosine_sim
         is requested)
  UQLM   uqlm.BlackBoxUQ.score on the same inputs, with the same simulated NLI module and
         the same packaged MiniLM (skipped when uqlm is not installed, or --skip-uqlm)
and the checks: lmuq's pairs = the distinct pairs the scorers need (from a slow reference
path), lmuq's scores = the reference's, cluster-count agreement with UQLM.

Run from the repository root in the bench venv (see bench/README.md):
  /work/venv-bench/bin/python bench/bench_blackbox.py --quick
  /work/venv-bench/bin/python bench/bench_blackbox.py            # full size
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nli_sim import (  # noqa: E402
    RuleNLI,
    build_simulated_nli,
    fit_pass_cost,
    make_tiny_nli_folder,
    modelled_seconds,
)
from quiet import OtherLoad, wait_for_idle  # noqa: E402
from workload import make_workload  # noqa: E402

SCENARIOS = {
    "a": (["noncontradiction"], False),
    "b": (["semantic_negentropy"], True),
    "c": (["noncontradiction", "semantic_negentropy", "cosine_sim"], True),
    "cos": (["cosine_sim"], False),
    "a_best": (["noncontradiction"], True),
}
NLI_NAMES = {"noncontradiction", "entailment", "semantic_negentropy", "semantic_sets_confidence"}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--prompts", type=int, default=75)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--layers", type=int, default=None, help="default 24 (6 with --quick)")
    ap.add_argument("--hidden", type=int, default=None, help="default 1024 (384 with --quick)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="repeats of lmuq and floor (default 2, 1 with --quick)",
    )
    ap.add_argument(
        "--uqlm-repeats", type=int, default=None, help="repeats of UQLM (default: --repeats)"
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--scenarios", default="a,b,c,cos", help=f"comma list of {','.join(SCENARIOS)}")
    ap.add_argument("--skip-uqlm", action="store_true")
    ap.add_argument(
        "--max-padding",
        type=float,
        default=None,
        help="HFNLIModel(max_padding=...) for lmuq and the floor (default: full batches)",
    )
    ap.add_argument(
        "--whole-batches",
        action="store_true",
        help="lmuq's rounds run whole NLI batches only, leaving each round's partial batch to "
        "the next (CachedNLI(whole_batches=True): the default on an accelerator, not on a CPU)",
    )
    ap.add_argument("--quick", action="store_true", help="6 layers, 384 wide, 1 repeat")
    ap.add_argument(
        "--no-cost-model", action="store_true", help="skip the fitted pass-cost estimate"
    )
    ap.add_argument("--json", default=None, help="write all measurements to this file")
    ap.add_argument(
        "--max-others-cpu",
        type=float,
        default=0.05,
        help="withhold a ratio when other processes used more than this share of the "
        "machine during any of its measurements (default 0.05)",
    )
    ap.add_argument(
        "--wait-idle", action="store_true", help="wait for an idle machine before each run"
    )
    args = ap.parse_args(argv)
    quick = {"layers": 6, "hidden": 384, "repeats": 1} if args.quick else {}
    full = {"layers": 24, "hidden": 1024, "repeats": 2}
    for name, value in full.items():
        if getattr(args, name) is None:
            setattr(args, name, quick.get(name, value))
    if args.uqlm_repeats is None:
        args.uqlm_repeats = args.repeats
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    for s in args.scenarios:
        if s not in SCENARIOS:
            ap.error(f"unknown scenario {s!r}; choose from {sorted(SCENARIOS)}")
    return args


# --------------------------------------------------------------------------- helpers


class Timed:
    """Wrap a bound method on an instance: count calls, items and seconds."""

    def __init__(self, obj, attr, count_items=None, record=None):
        self.obj, self.attr = obj, attr
        self.orig = getattr(obj, attr)
        self.count_items = count_items
        self.record = record
        self.reset()
        timed = self

        def wrapper(*a, **k):
            t0 = time.perf_counter()
            try:
                return timed.orig(*a, **k)
            finally:
                timed.seconds += time.perf_counter() - t0
                timed.calls += 1
                if timed.count_items:
                    timed.items += timed.count_items(*a, **k)
                if timed.record:
                    timed.recorded.extend(timed.record(*a, **k))

        setattr(obj, attr, wrapper)

    def reset(self):
        self.calls, self.items, self.seconds, self.recorded = 0, 0, 0.0, []


def _first_arg(a, k, name):
    return a[0] if a else k[name]


def summary(values):
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    return {
        "best": vals[0],
        "median": statistics.median(vals),
        "worst": vals[-1],
        "spread": (vals[-1] - vals[0]) / vals[0] if vals[0] > 0 else 0.0,
        "n": len(vals),
    }


def fmt_wall(s):
    if s is None:
        return "-"
    if s["n"] == 1:
        return f"{s['best']:.2f}s"
    return f"{s['best']:.2f}s (med {s['median']:.2f}, ±{100 * s['spread']:.0f}%)"


def max_abs_diff(a, b):
    d = [abs(x - y) for x, y in zip(a, b, strict=True) if not (math.isnan(x) and math.isnan(y))]
    nan_mismatch = sum(math.isnan(x) != math.isnan(y) for x, y in zip(a, b, strict=True))
    return (max(d) if d else 0.0), nan_mismatch


# --------------------------------------------------------------------------- the bench


class Bench:
    def __init__(self, args):
        import torch

        torch.set_num_threads(args.threads)
        self.torch = torch
        self.args = args
        from lmuq.statistics.embeddings import SentenceEmbedder, default_sentence_model_path
        from lmuq.statistics.nli import HFNLIModel

        self.minilm = default_sentence_model_path()
        self.tiny = make_tiny_nli_folder(self.minilm)
        t0 = time.perf_counter()
        self.sim = build_simulated_nli(self.minilm, layers=args.layers, hidden=args.hidden)
        n_params = sum(p.numel() for p in self.sim.parameters())
        print(
            f"simulated NLI: BERT {args.layers} layers x {args.hidden} wide, {n_params / 1e6:.0f}M params, "
            f"random init, fp32, {args.threads} threads (built in {time.perf_counter() - t0:.1f}s)"
        )
        self.hf = HFNLIModel(
            str(self.tiny), device="cpu", batch_size=args.batch_size, max_padding=args.max_padding
        )
        self.hf.model = self.sim
        self.hf_predict = self.hf.predict_proba  # un-recorded, for the floor
        self.hf_rec = Timed(
            self.hf,
            "predict_proba",
            count_items=lambda *a, **k: len(_first_arg(a, k, "premises")),
            record=lambda *a, **k: list(
                zip(_first_arg(a, k, "premises"), a[1] if len(a) > 1 else k["hypotheses"])
            ),
        )
        self.emb = SentenceEmbedder(self.minilm)
        self.emb_enc = Timed(
            self.emb.model, "encode", count_items=lambda *a, **k: len(_first_arg(a, k, "sentences"))
        )
        self.wl = make_workload(args.prompts, args.samples, args.seed)
        self.distinct_texts = self.wl.distinct_texts()
        try:
            import uqlm  # noqa: F401

            self.uqlm_version = __import__("importlib.metadata").metadata.version("uqlm")
        except ImportError:
            self.uqlm_version = None
        self.warm_up()

    def calibrate(self):
        """Seconds of one full forward pass (a fixed batch): a contention gauge, printed per
        scenario; if it drifts, other work was sharing the CPU."""
        bs = self.args.batch_size
        t0 = time.perf_counter()
        self.hf_predict(["The answer is 1."] * bs, ["I believe the answer is 2."] * bs)
        return time.perf_counter() - t0

    def warm_up(self):
        bs = self.args.batch_size
        self.hf_predict(["The answer is 1."] * bs, ["2"] * bs)
        self.emb.model.encode(["warm up"] * 8)
        self.sim.counter.reset()
        self.hf.pairs_run = self.hf.forward_passes = 0
        self.emb_enc.reset()

    # ------------------------------------------------------------------ lmuq

    def run_lmuq(self, scorers, use_best):
        import lmuq

        self.emb.clear_cache()
        self.emb.texts_encoded = self.emb.encode_calls = 0
        self.emb_enc.reset()
        self.hf_rec.reset()
        self.hf.pairs_run = self.hf.forward_passes = 0
        self.sim.counter.reset()
        nli = self.hf
        if self.args.whole_batches:  # the accelerator default, forced on this CPU
            from lmuq.statistics.nli_cache import CachedNLI

            nli = CachedNLI(self.hf, whole_batches=True)
        bb = lmuq.BlackBoxUQ(
            scorers=scorers,
            use_best=use_best,
            nli_model=nli,
            embedder=self.emb,
            nli_batch_size=self.args.batch_size,
        )
        r, s = self.wl.copy_inputs()
        cpu0, t0 = time.process_time(), time.perf_counter()
        res = bb.score(r, s, show_progress_bars=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        c = self.sim.counter
        return {
            "wall": wall,
            "cpu": cpu,
            "shapes": list(c.shapes),
            "pairs": self.hf.pairs_run,
            "passes": self.hf.forward_passes,
            "sim_pairs": c.pairs,
            "sim_passes": c.passes,
            "partial_passes": sum(b < self.args.batch_size for b in c.batch_sizes),
            "model_s": c.seconds,
            "rounds": self.hf_rec.calls,
            "pair_list": list(self.hf_rec.recorded),
            "texts_encoded": self.emb.texts_encoded,
            "encode_calls": self.emb.encode_calls,
            "encode_s": self.emb_enc.seconds,
            "result": res,
        }

    def run_floor(self, pairs, with_embeddings):
        distinct = list(dict.fromkeys(pairs))
        self.hf.pairs_run = self.hf.forward_passes = 0
        self.sim.counter.reset()
        cpu0, t0 = time.process_time(), time.perf_counter()
        if distinct:
            self.hf_predict([p for p, _ in distinct], [h for _, h in distinct])
        nli_wall = time.perf_counter() - t0
        enc_wall = 0.0
        if with_embeddings:
            t1 = time.perf_counter()
            self.emb.model.encode(
                self.distinct_texts, batch_size=self.emb.batch_size, show_progress_bar=False
            )
            enc_wall = time.perf_counter() - t1
        return {
            "wall": nli_wall + enc_wall,
            "cpu": time.process_time() - cpu0,
            "shapes": list(self.sim.counter.shapes),
            "nli_wall": nli_wall,
            "encode_wall": enc_wall,
            "pairs": self.hf.pairs_run,
            "passes": self.hf.forward_passes,
            "model_s": self.sim.counter.seconds,
            "texts_encoded": len(self.distinct_texts) if with_embeddings else 0,
            "encode_calls": 1 if with_embeddings else 0,
        }

    # ------------------------------------------------------------------ UQLM

    def run_uqlm(self, scorers, use_best):
        import uqlm

        bb = uqlm.BlackBoxUQ(
            scorers=scorers,
            device="cpu",
            use_best=use_best,
            nli_model_name=str(self.tiny),
            sentence_transformer=str(self.minilm),
            nli_batch_size=self.args.batch_size,
        )
        nlis = {id(o.nli): o.nli for o in bb.scorer_objects.values() if hasattr(o, "nli")}
        assert len(nlis) <= 1, "UQLM built more than one NLI object"
        rec = None
        for nli in nlis.values():
            nli.model = self.sim
            rec = Timed(
                nli,
                "predict_batch",
                count_items=lambda pairs: len(pairs),
                record=lambda pairs: list(pairs),
            )
        enc = None
        if "cosine_sim" in bb.scorer_objects:
            model = bb.scorer_objects["cosine_sim"].model
            model.encode(["warm up"] * 8)
            enc = Timed(
                model, "encode", count_items=lambda *a, **k: len(_first_arg(a, k, "sentences"))
            )
        se_results = []
        se = bb.scorer_objects.get("semantic_negentropy")
        if se is not None:
            orig = se.score

            def capture(*a, **k):
                out = orig(*a, **k)
                se_results.append(out)
                return out

            se.score = capture
        self.sim.counter.reset()
        r, s = self.wl.copy_inputs()
        cpu0, t0 = time.process_time(), time.perf_counter()
        res = bb.score(responses=r, sampled_responses=s, show_progress_bars=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        c = self.sim.counter
        pair_list = rec.recorded if rec else []
        return {
            "wall": wall,
            "cpu": cpu,
            "shapes": list(c.shapes),
            "pairs": c.pairs,
            "passes": c.passes,
            "distinct_pairs": len(set(pair_list)),
            "model_s": c.seconds,
            "texts_encoded": enc.items if enc else 0,
            "encode_calls": enc.calls if enc else 0,
            "encode_s": enc.seconds if enc else 0.0,
            "pair_list": pair_list,
            "result": res,
            "num_sets": se_results[0].data["num_semantic_sets"] if se_results else None,
        }

    # ------------------------------------------------------------------ reference

    def run_reference(self, scorers, use_best):
        """lmuq with no NLI cache: every NLI lookup computes its pair again with the rule
        (no encoder), so nothing is shared between scorers or prompts. Also lists the pairs
        the scorers need."""
        import lmuq
        from lmuq.statistics.nli_cache import CachedNLI

        class NoCacheNLI(CachedNLI):
            def get(self, premise, hypothesis):
                return None

            def predict_proba(self, premises, hypotheses):
                return self.model.predict_proba(premises, hypotheses)

        from unittest import mock

        from lmuq.scoring import engine

        rule = RuleNLI(self.hf.name)
        bb = lmuq.BlackBoxUQ(
            scorers=scorers, use_best=use_best, nli_model=NoCacheNLI(rule), embedder=self.emb
        )
        r, s = self.wl.copy_inputs()
        # No planning rounds: each scorer's lookups compute their pairs on the spot, one by
        # one (a cache that keeps nothing would be asked for the same pairs forever).
        with mock.patch.object(engine, "_planning_rounds", lambda *a: iter(())):
            res = bb.score(r, s, show_progress_bars=False)
        return res, set(rule.requested)

    def run_free_model(self, scorers, use_best):
        """lmuq's batched path with a free NLI model (the rule, no encoder): its wall time is
        lmuq's own Python overhead plus the rule's."""
        import lmuq

        rule = RuleNLI(self.hf.name)
        bb = lmuq.BlackBoxUQ(scorers=scorers, use_best=use_best, nli_model=rule, embedder=self.emb)
        r, s = self.wl.copy_inputs()
        t0 = time.perf_counter()
        bb.score(r, s, show_progress_bars=False)
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        rule.predict_proba([p for p, _ in rule.requested], [h for _, h in rule.requested])
        rule_s = time.perf_counter() - t1
        return {"wall": wall, "rule_s": rule_s, "calls": rule.calls, "pairs": len(rule.requested)}

    # ------------------------------------------------------------------ one scenario

    def measured(self, run, *args):
        """One measurement, with the other processes' share of the machine while it ran
        (bench/quiet.py); waits for an idle machine first with --wait-idle."""
        if self.args.wait_idle:
            wait_for_idle(self.args.max_others_cpu)
        with OtherLoad() as load:
            out = run(*args)
        out["others_cpu"] = load.share
        if load.share > self.args.max_others_cpu:
            print(f"    (others used {100 * load.share:.0f}% of the machine)", flush=True)
        return out

    def scenario(self, key):
        scorers, use_best = SCENARIOS[key]
        wants_nli = bool(NLI_NAMES & set(scorers)) or use_best
        wants_emb = "cosine_sim" in scorers
        run_uqlm = self.uqlm_version is not None and not self.args.skip_uqlm and key != "a_best"
        cal = self.calibrate()
        print(
            f"\n=== scenario {key}: {' + '.join(scorers)} (use_best={use_best}); "
            f"calibration pass {cal:.3f}s, load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        lm, fl, uq = [], [], []
        for rep in range(max(self.args.repeats, self.args.uqlm_repeats if run_uqlm else 0)):
            if rep < self.args.repeats:
                # Alternate the order (odd repeats run the floor first, on the pairs of the
                # previous lmuq run: the set is deterministic) so drift in machine load does
                # not favour one side.
                if rep % 2 == 1:
                    fl.append(
                        self.measured(
                            self.run_floor, lm[-1]["pair_list"] if wants_nli else [], wants_emb
                        )
                    )
                    lm.append(self.measured(self.run_lmuq, scorers, use_best))
                else:
                    lm.append(self.measured(self.run_lmuq, scorers, use_best))
                    fl.append(
                        self.measured(
                            self.run_floor, lm[-1]["pair_list"] if wants_nli else [], wants_emb
                        )
                    )
                print(
                    f"  rep {rep + 1}: lmuq {lm[-1]['wall']:.2f}s ({lm[-1]['pairs']} pairs, {lm[-1]['passes']} passes)"
                    f" | floor {fl[-1]['wall']:.2f}s ({fl[-1]['pairs']} pairs, {fl[-1]['passes']} passes)",
                    flush=True,
                )
            if run_uqlm and rep < self.args.uqlm_repeats:
                uq.append(self.measured(self.run_uqlm, scorers, use_best))
                print(
                    f"  rep {rep + 1}: UQLM {uq[-1]['wall']:.2f}s ({uq[-1]['pairs']} pairs, {uq[-1]['passes']} passes)",
                    flush=True,
                )
        ref, needed = self.run_reference(scorers, use_best)
        free = self.run_free_model(scorers, use_best) if wants_nli else None
        out = self.report(key, scorers, use_best, lm, fl, uq, ref, needed, free, wants_nli)
        out["calibration_s"] = [cal, self.calibrate()]
        print(f"  calibration pass after: {out['calibration_s'][1]:.3f}s", flush=True)
        return out

    def report(self, key, scorers, use_best, lm, fl, uq, ref, needed, free, wants_nli):
        first = lm[0]
        ran = first["pair_list"]
        ran_set = set(ran)
        out = {
            "scenario": key,
            "scorers": scorers,
            "use_best": use_best,
            "lmuq": summary([r["wall"] for r in lm]),
            "floor": summary([r["wall"] for r in fl]),
            "uqlm": summary([r["wall"] for r in uq]) if uq else None,
            "others_cpu_max": max(r["others_cpu"] for r in [*lm, *fl, *uq]),
            "lmuq_cpu": summary([r["cpu"] for r in lm]),
            "floor_cpu": summary([r["cpu"] for r in fl]),
            "uqlm_cpu": summary([r["cpu"] for r in uq]) if uq else None,
            "shapes": {
                "lmuq": first["shapes"],
                "floor": fl[0]["shapes"],
                "uqlm": uq[0]["shapes"] if uq else None,
            },
            "lmuq_pairs": first["pairs"],
            "lmuq_distinct_pairs": len(ran_set),
            "lmuq_passes": first["passes"],
            "lmuq_partial_passes": first["partial_passes"],
            "lmuq_rounds": first["rounds"],
            "lmuq_model_s": summary([r["model_s"] for r in lm]),
            "lmuq_encode_s": summary([r["encode_s"] for r in lm]),
            "lmuq_texts_encoded": first["texts_encoded"],
            "lmuq_encode_calls": first["encode_calls"],
            "floor_pairs": fl[0]["pairs"],
            "floor_passes": fl[0]["passes"],
            "floor_model_s": summary([r["model_s"] for r in fl]),
            "floor_encode_s": summary([r["encode_wall"] for r in fl]),
            "needed_pairs": len(needed),
            "pairs_equal_needed": ran_set == needed,
            "pairs_run_twice": len(ran) - len(ran_set),
            "lmuq_over_floor_per_rep": [
                a["wall"] / b["wall"] for a, b in zip(lm, fl) if b["wall"] > 0
            ],
            "free_model": free,
        }
        if ran_set != needed:
            out["pairs_not_needed"] = len(ran_set - needed)
            out["pairs_needed_not_run"] = len(needed - ran_set)
        # lmuq batched vs the slow reference.
        diffs = {}
        for name in scorers:
            diffs[name] = max_abs_diff(first["result"].columns[name], ref.columns[name])
        out["ref_max_abs_diff"] = {k: v[0] for k, v in diffs.items()}
        out["ref_nan_mismatch"] = sum(v[1] for v in diffs.values())
        if use_best:
            out["ref_best_equal"] = (
                first["result"].columns["best_response_index"] == ref.columns["best_response_index"]
            )
        if uq:
            u = uq[0]
            out.update(
                uqlm_pairs=u["pairs"],
                uqlm_passes=u["passes"],
                uqlm_distinct_pairs=u["distinct_pairs"],
                uqlm_model_s=summary([r["model_s"] for r in uq]),
                uqlm_texts_encoded=u["texts_encoded"],
                uqlm_encode_calls=u["encode_calls"],
                uqlm_encode_s=summary([r["encode_s"] for r in uq]),
            )
            lres, ures = first["result"].columns, u["result"].data
            same_best = [a == b for a, b in zip(lres["response"], ures["responses"], strict=True)]
            out["uqlm_same_response"] = sum(same_best)
            cmp = {}
            for name in scorers:
                a = [x for x, keep in zip(lres[name], same_best) if keep]
                b = [float(x) for x, keep in zip(ures[name], same_best) if keep]
                cmp[name] = max_abs_diff(a, b)[0]
            out["uqlm_max_abs_diff_same_response"] = cmp
            if u["num_sets"] is not None and "num_semantic_sets" in lres:
                agree = sum(
                    int(a) == int(b)
                    for a, b in zip(lres["num_semantic_sets"], u["num_sets"], strict=True)
                )
                out["cluster_count_agreement"] = agree
                out["lmuq_clusters_total"] = int(sum(lres["num_semantic_sets"]))
                out["uqlm_clusters_total"] = int(sum(u["num_sets"]))
        self.print_scenario(out)
        return out

    def print_scenario(self, o):
        n = self.args.prompts
        print(
            f"  lmuq : {o['lmuq_pairs']} pairs ({o['lmuq_distinct_pairs']} distinct, {o['pairs_run_twice']} run twice), "
            f"{o['lmuq_passes']} passes ({o['lmuq_partial_passes']} partial), {o['lmuq_rounds']} model calls (rounds), "
            f"wall {fmt_wall(o['lmuq'])}"
        )
        if o["lmuq_texts_encoded"] or o["lmuq_encode_calls"]:
            print(
                f"         encoded {o['lmuq_texts_encoded']} texts in {o['lmuq_encode_calls']} call(s), "
                f"{o['lmuq_encode_s']['best']:.2f}s"
            )
        print(
            f"         time in NLI forward {o['lmuq_model_s']['best']:.2f}s; "
            f"other (lmuq + tokeniser + encode) {o['lmuq']['best'] - o['lmuq_model_s']['best']:.2f}s"
        )
        print(
            f"  floor: {o['floor_pairs']} pairs, {o['floor_passes']} passes, wall {fmt_wall(o['floor'])}, "
            f"NLI forward {o['floor_model_s']['best']:.2f}s"
            + (
                f", encode {o['floor_encode_s']['best']:.2f}s"
                if o["floor_encode_s"]["best"]
                else ""
            )
        )
        if "uqlm" in o and o["uqlm"]:
            print(
                f"  UQLM : {o['uqlm_pairs']} pairs ({o['uqlm_distinct_pairs']} distinct), {o['uqlm_passes']} passes, "
                f"wall {fmt_wall(o['uqlm'])}, NLI forward {o['uqlm_model_s']['best']:.2f}s"
                + (
                    f", encoded {o['uqlm_texts_encoded']} texts in {o['uqlm_encode_calls']} calls "
                    f"({o['uqlm_encode_s']['best']:.2f}s)"
                    if o["uqlm_encode_calls"]
                    else ""
                )
            )
        print(
            f"  needed pairs (slow reference): {o['needed_pairs']}; lmuq ran exactly these: {o['pairs_equal_needed']}"
            + (
                ""
                if o["pairs_equal_needed"]
                else f" (ran but not needed {o['pairs_not_needed']}, needed but not run {o['pairs_needed_not_run']})"
            )
        )
        print(
            f"  lmuq vs slow reference: max|diff| {o['ref_max_abs_diff']}, NaN mismatches {o['ref_nan_mismatch']}"
            + (f", same best response: {o['ref_best_equal']}" if "ref_best_equal" in o else "")
        )
        if o.get("free_model"):
            f = o["free_model"]
            print(
                f"  lmuq with a free NLI model: {f['wall']:.3f}s wall ({f['calls']} model calls; the rule itself "
                f"{f['rule_s']:.3f}s)"
            )
        if "uqlm_same_response" in o:
            print(
                f"  vs UQLM: same judged response on {o['uqlm_same_response']}/{n} prompts; max|diff| there "
                f"{o['uqlm_max_abs_diff_same_response']}"
            )
        if "cluster_count_agreement" in o:
            print(
                f"  cluster counts agree on {o['cluster_count_agreement']}/{n} prompts "
                f"(total clusters lmuq {o['lmuq_clusters_total']}, UQLM {o['uqlm_clusters_total']})"
            )
        per = o["lmuq_over_floor_per_rep"]
        if per:
            print(f"  lmuq/floor wall per repeat: {', '.join(f'{x:.3f}' for x in per)}")
        cpu = f"  process CPU seconds (best): lmuq {o['lmuq_cpu']['best']:.2f}, floor {o['floor_cpu']['best']:.2f}"
        if o.get("uqlm_cpu"):
            cpu += f", UQLM {o['uqlm_cpu']['best']:.2f}"
        print(cpu)


def print_table(rows, args):
    print("\n" + "=" * 100)
    print(
        f"Summary: {args.prompts} prompts x {args.samples} samples, NLI {args.layers}x{args.hidden}, "
        f"batch {args.batch_size}, {args.threads} threads; wall = best of repeats "
        f"(lmuq/floor {args.repeats}, UQLM {args.uqlm_repeats})"
    )
    head = [
        "scorer set",
        "lmuq pairs/passes/wall",
        "floor pairs/passes/wall",
        "UQLM pairs/passes/wall",
        "lmuq/floor",
        "UQLM/lmuq",
    ]
    lines = []
    for o in rows:
        lm, fl, uq = o["lmuq"], o["floor"], o.get("uqlm")
        if o["scorers"] == ["cosine_sim"]:
            lcell = (
                f"{o['lmuq_texts_encoded']} texts/{o['lmuq_encode_calls']} calls/{lm['best']:.2f}s"
            )
            fcell = f"{o['lmuq_texts_encoded']} texts/1 call/{fl['best']:.2f}s"
            ucell = (
                f"{o['uqlm_texts_encoded']} texts/{o['uqlm_encode_calls']} calls/{uq['best']:.2f}s"
                if uq
                else "skipped"
            )
        else:
            lcell = f"{o['lmuq_pairs']}/{o['lmuq_passes']}/{lm['best']:.2f}s"
            fcell = f"{o['floor_pairs']}/{o['floor_passes']}/{fl['best']:.2f}s"
            ucell = f"{o['uqlm_pairs']}/{o['uqlm_passes']}/{uq['best']:.2f}s" if uq else "skipped"
        r1 = f"{lm['best'] / fl['best']:.2f}x" if fl["best"] > 0 else "-"
        r2 = f"{uq['best'] / lm['best']:.2f}x" if uq else "-"
        if o["others_cpu_max"] > args.max_others_cpu:
            # not a quiet measurement: a ratio would mostly measure the contention
            r1 = r2 = f"withheld (others {100 * o['others_cpu_max']:.0f}%)"
        label = f"{o['scenario']}: {'+'.join(o['scorers'])}" + (" [best]" if o["use_best"] else "")
        lines.append([label, lcell, fcell, ucell, r1, r2])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    for row in [head, *lines]:
        print(" | ".join(str(x).ljust(w) for x, w in zip(row, widths)))
    print("wall spreads (best, median, (worst-best)/best):")
    for o in rows:
        parts = [f"lmuq {fmt_wall(o['lmuq'])}", f"floor {fmt_wall(o['floor'])}"]
        if o.get("uqlm"):
            parts.append(f"UQLM {fmt_wall(o['uqlm'])}")
        print(f"  {o['scenario']}: " + "; ".join(parts))
    targets(rows, args)


def targets(rows, args):
    noisy = [o for o in rows if o["others_cpu_max"] > args.max_others_cpu]
    rows = [o for o in rows if o not in noisy]
    by = {o["scenario"]: o for o in rows}
    print("targets:")
    for o in noisy:
        print(
            f"  {o['scenario']}: withheld: other processes used up to "
            f"{100 * o['others_cpu_max']:.0f}% of the machine (limit "
            f"{100 * args.max_others_cpu:.0f}%; run with --wait-idle on a quiet machine)"
        )
    if "c" in by:
        o = by["c"]
        r = o["lmuq"]["best"] / o["floor"]["best"]
        print(f"  c: lmuq/floor = {r:.3f} (target <= 1.15): {'MET' if r <= 1.15 else 'MISSED'}")
        if o.get("uqlm"):
            s = o["uqlm"]["best"] / o["lmuq"]["best"]
            print(f"  c: UQLM/lmuq = {s:.2f}x (target >= 2.5x): {'MET' if s >= 2.5 else 'MISSED'}")
    if "cos" in by and by["cos"].get("uqlm"):
        o = by["cos"]
        s = o["uqlm"]["best"] / o["lmuq"]["best"]
        print(f"  cos: UQLM/lmuq = {s:.2f}x (target >= 5x): {'MET' if s >= 5 else 'MISSED'}")
    for o in rows:
        if o["scorers"] != ["cosine_sim"]:
            print(
                f"  {o['scenario']}: NLI pairs run = distinct pairs needed: "
                f"{'MET' if o['pairs_equal_needed'] and o['pairs_run_twice'] == 0 and o['lmuq_pairs'] == o['needed_pairs'] else 'MISSED'}"
                f" ({o['lmuq_pairs']} run, {o['needed_pairs']} needed)"
            )


def cost_model(bench, rows):
    """NLI encoder time each run's passes would take on an otherwise idle machine.

    The pass cost t(B, L) is fitted on a grid of batch sizes and padded lengths from the
    minimum of 5 timings per shape; each run's recorded (B, L) passes are then summed. It
    drops the noise of other work on the machine (which inflates wall times, and inflates
    runs with many small passes most), and keeps what the pass structure costs: partial
    batches, padding, extra passes."""
    print(
        "\nfitting the pass cost t(B, L) = a + b*B + c*B*L + d*B*L^2 (min of 5 per shape) ...",
        flush=True,
    )
    t0 = time.perf_counter()
    coef, err, grid = fit_pass_cost(bench.sim)
    print(
        f"  a={coef[0] * 1e3:.1f}ms b={coef[1] * 1e3:.2f}ms c={coef[2] * 1e3:.3f}ms d={coef[3] * 1e6:.2f}us; "
        f"worst relative error on the grid {100 * err:.0f}% ({time.perf_counter() - t0:.0f}s)"
    )
    print("modelled NLI encoder seconds (idle machine), from each run's pass shapes:")
    head = ["scorer set", "lmuq", "floor", "UQLM", "lmuq/floor", "UQLM/lmuq"]
    lines = []
    for o in rows:
        sh = o["shapes"]
        lm, fl = modelled_seconds(coef, sh["lmuq"]), modelled_seconds(coef, sh["floor"])
        uq = modelled_seconds(coef, sh["uqlm"]) if sh["uqlm"] is not None else None
        o["modelled"] = {
            "lmuq": lm,
            "floor": fl,
            "uqlm": uq,
            "coef": list(map(float, coef)),
            "fit_err": err,
            "grid": grid,
        }
        if not sh["lmuq"] and not sh["floor"]:
            continue
        lines.append(
            [
                o["scenario"],
                f"{lm:.2f}s",
                f"{fl:.2f}s",
                "-" if uq is None else f"{uq:.2f}s",
                f"{lm / fl:.3f}x" if fl else "-",
                "-" if uq is None or not lm else f"{uq / lm:.2f}x",
            ]
        )
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    for row in [head, *lines]:
        print("  " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths)))


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    bench = Bench(args)
    wl = bench.wl
    print(
        f"workload: {args.prompts} prompts x (1 + {args.samples}) responses = {len(wl.texts())} texts, "
        f"{len(bench.distinct_texts)} distinct (seed {args.seed})"
    )
    if bench.uqlm_version is None:
        print("UQLM: not installed, skipped")
    elif args.skip_uqlm:
        print("UQLM: skipped (--skip-uqlm)")
    else:
        print(f"UQLM: {bench.uqlm_version}")
    rows = [bench.scenario(key) for key in args.scenarios]
    print_table(rows, args)
    if not args.no_cost_model and any(o["shapes"]["lmuq"] or o["shapes"]["floor"] for o in rows):
        cost_model(bench, rows)
    print(f"total run time {time.perf_counter() - t_start:.0f}s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "args": vars(args),
                    "uqlm": bench.uqlm_version,
                    "distinct_texts": len(bench.distinct_texts),
                    "rows": rows,
                },
                fh,
                indent=1,
                default=str,
            )
    with contextlib.suppress(Exception):
        sys.stdout.flush()


if __name__ == "__main__":
    main()
