#!/usr/bin/env python
"""Load benchmark of ``lmuq serve``: the gateway's throughput and added latency against a
fixed-latency loopback upstream, measured in one run.

Three processes: the fake OpenAI-style upstream (``tests/openai_server.py --latency L``),
the gateway (``lmuq serve`` with a white-box policy: sequence probability, no samples) in
front of it, and this load generator (an ``httpx.AsyncClient`` keeping ``--concurrency``
requests in flight). Each round sends ``--requests`` chat completions directly to the
upstream, then the same number through the gateway; rounds alternate ``--rounds`` times and
the best-throughput round of each is kept (the machine is shared and noisy).

Printed (and written as JSON with ``--json``):

  throughput ratio   gateway requests/s ÷ direct requests/s (target >= 0.9)
  added p50 / p99    gateway latency percentile − direct latency percentile, in ms, and as
                     a ratio of the direct percentile

Run from the repository root:
  PYTHONPATH=src python bench/bench_gateway.py                    # L = 50 ms, c = 32
  PYTHONPATH=src python bench/bench_gateway.py --latency 0.1 --requests 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from lmuq.evaluation.policy import Calibrator, TrustPolicy  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_upstream(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "openai_server.py"), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    if not line.startswith("PORT "):
        raise RuntimeError(f"the fake upstream did not start: {line!r}")
    return proc, f"http://127.0.0.1:{int(line.split()[1])}/v1"


def _start_gateway(upstream: str, policy_file: Path, concurrency: int) -> tuple:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lmuq",
            "serve",
            "--upstream",
            upstream,
            "--policy",
            str(policy_file),
            "--port",
            str(port),
            "--max-concurrency",
            str(max(64, 2 * concurrency)),
            "--log-level",
            "warning",
        ],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the gateway did not start")
        time.sleep(0.1)
    return proc, f"{base}/v1"


async def _load(
    base_url: str, n: int, concurrency: int, errors: list[str] | None = None
) -> tuple[float, list[float]]:
    """Requests/s (of the requests answered 200) and their latencies (s), of n requests with
    ``concurrency`` in flight; failures are appended to ``errors``."""
    errors = [] if errors is None else errors
    body = {"model": "fake", "messages": [{"role": "user", "content": "what is two plus two"}]}
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        queue = iter(range(n))

        async def worker() -> None:
            for _ in queue:
                t = time.perf_counter()
                try:
                    r = await client.post(f"{base_url}/chat/completions", json=body)
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}")
                    continue
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors.append(f"HTTP {r.status_code}: {r.text[:120]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
    return len(latencies) / elapsed, latencies


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--latency", type=float, default=0.05, help="upstream latency (s)")
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--requests", type=int, default=1000, help="requests per round and target")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    policy = TrustPolicy(
        ("sequence_probability",),
        (1.0,),
        Calibrator("isotonic", x=(0.0, 1.0), y=(0.0, 1.0)),
        0.1,
        0.5,
    )
    with tempfile.TemporaryDirectory() as tmp:
        policy_file = policy.save(Path(tmp) / "policy.json")
        direct_errors: list[str] = []
        gw_errors: list[str] = []
        up, up_url = _start_upstream(args.latency)
        gw, gw_url = _start_gateway(up_url, policy_file, args.concurrency)
        try:
            asyncio.run(_load(up_url, 100, args.concurrency))  # warm both
            asyncio.run(_load(gw_url, 100, args.concurrency))
            direct, via = [], []
            for _ in range(args.rounds):
                direct.append(
                    asyncio.run(_load(up_url, args.requests, args.concurrency, direct_errors))
                )
                via.append(asyncio.run(_load(gw_url, args.requests, args.concurrency, gw_errors)))
        finally:
            gw.terminate()
            up.terminate()
            gw.wait(10)
            up.wait(10)
    d_rps, d_lat = max(direct, key=lambda r: r[0])
    g_rps, g_lat = max(via, key=lambda r: r[0])
    out = {
        "upstream_latency_s": args.latency,
        "concurrency": args.concurrency,
        "requests_per_round": args.requests,
        "rounds": args.rounds,
        "direct_rps": d_rps,
        "gateway_rps": g_rps,
        "throughput_ratio": g_rps / d_rps,
        "direct_p50_ms": 1000 * _pct(d_lat, 50),
        "direct_p99_ms": 1000 * _pct(d_lat, 99),
        "gateway_p50_ms": 1000 * _pct(g_lat, 50),
        "gateway_p99_ms": 1000 * _pct(g_lat, 99),
        "errors": {"direct": direct_errors, "gateway": gw_errors},
        "all_rounds_rps": {"direct": [r[0] for r in direct], "gateway": [r[0] for r in via]},
    }
    out["added_p50_ms"] = out["gateway_p50_ms"] - out["direct_p50_ms"]
    out["added_p99_ms"] = out["gateway_p99_ms"] - out["direct_p99_ms"]
    print(
        f"upstream latency {1000 * args.latency:.0f} ms, concurrency {args.concurrency}, "
        f"{args.requests} requests x {args.rounds} rounds (best round of each)"
    )
    print(
        f"  direct   {d_rps:8.1f} req/s   p50 {out['direct_p50_ms']:7.1f} ms   "
        f"p99 {out['direct_p99_ms']:7.1f} ms"
    )
    print(
        f"  gateway  {g_rps:8.1f} req/s   p50 {out['gateway_p50_ms']:7.1f} ms   "
        f"p99 {out['gateway_p99_ms']:7.1f} ms"
    )
    print(f"  throughput ratio gateway/direct: {out['throughput_ratio']:.3f} (target >= 0.9)")
    print(
        f"  added latency: p50 {out['added_p50_ms']:+.1f} ms "
        f"({out['gateway_p50_ms'] / out['direct_p50_ms']:.2f}x), "
        f"p99 {out['added_p99_ms']:+.1f} ms ({out['gateway_p99_ms'] / out['direct_p99_ms']:.2f}x)"
    )
    for name, errs in (("direct", direct_errors), ("gateway", gw_errors)):
        if errs:
            print(f"  {name}: {len(errs)} failed requests, e.g. {sorted(set(errs))[:3]}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
