"""``lmuq run --store``: a run resumes from the store without regenerating."""

from __future__ import annotations

import pytest

from lmuq.app.cli import main
from lmuq.storage.run_store import RunStore

pytestmark = pytest.mark.model


def test_run_with_store_resumes_without_generating(tmp_path, capsys, lmuq_cache, monkeypatch):
    store = tmp_path / "runs.sqlite"
    args = [
        "run",
        "-n",
        "4",
        "-m",
        "2",
        "--max-new-tokens",
        "8",
        "--n-boot",
        "20",
        "--no-blackbox",
        "--store",
        str(store),
        "--out",
        str(tmp_path / "o"),
        "--no-progress",
    ]
    assert main(args) == 0
    with RunStore(store) as s:
        (info,) = s.runs()
        sets = s.load_sample_sets(info.run_id)
        assert len(sets) == 4 and all(len(ss.samples) == 2 for ss in sets)
        scores = s.load_scores(info.run_id)
        assert len(scores) == 4 and "sequence_probability" in scores.columns
    first = capsys.readouterr().out

    from lmuq.backends import transformers as tb

    calls = []
    real = tb.TransformersBackend.generate

    def counting(self, prompts, params, n=1, **kw):
        calls.append(len(prompts))
        return real(self, prompts, params, n, **kw)

    monkeypatch.setattr(tb.TransformersBackend, "generate", counting)
    assert main(args) == 0
    assert calls == []  # everything came from the store
    second = capsys.readouterr().out
    table = lambda out: out.split("scorer", 1)[1].split("Time:")[0]  # noqa: E731
    assert table(first) == table(second)  # same generations -> same table

    out = tmp_path / "export.jsonl"
    assert main(["export", str(store), info.run_id, "-o", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 4
