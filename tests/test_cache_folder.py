"""The cache folder: the converted model is keyed on content, `lmuq cache` shows and clears
what lmuq cached and nothing else (issue 12)."""

from __future__ import annotations

import os
from pathlib import Path

from lmuq.app.cli import main
from lmuq.backends import default_model


def test_converted_model_folder_ignores_install_time(tmp_path, monkeypatch):
    monkeypatch.setattr(default_model, "_package_version", lambda: "0.1.2")
    gguf = tmp_path / "Model.Q4.gguf"
    gguf.write_bytes(b"x" * 100)
    first = default_model._converted_dir(gguf, tmp_path / "cache")
    os.utime(gguf, (1, 1))  # a reinstall in a new venv: same file, another mtime
    assert default_model._converted_dir(gguf, tmp_path / "cache") == first
    assert first == tmp_path / "cache" / "models" / "Model.Q4-0.1.2-100"


def test_converted_model_folder_changes_with_the_package_or_the_file(tmp_path, monkeypatch):
    gguf = tmp_path / "Model.Q4.gguf"
    gguf.write_bytes(b"x" * 100)
    monkeypatch.setattr(default_model, "_package_version", lambda: "0.1.2")
    old = default_model._converted_dir(gguf, tmp_path)
    monkeypatch.setattr(default_model, "_package_version", lambda: "0.2.0")
    assert default_model._converted_dir(gguf, tmp_path) != old
    gguf.write_bytes(b"x" * 101)
    assert default_model._converted_dir(gguf, tmp_path).name == "Model.Q4-0.2.0-101"


def _fill(root: Path) -> None:
    (root / "models" / "m").mkdir(parents=True)
    (root / "models" / "m" / "w.safetensors").write_bytes(b"w" * 2048)
    (root / "stats").mkdir()
    (root / "stats" / "nli.sqlite3").write_bytes(b"n" * 10)
    (root / "notes.txt").write_text("not lmuq's")


def test_cache_lists_each_entry_with_its_size(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LMUQ_CACHE_DIR", str(tmp_path))
    _fill(tmp_path)
    assert main(["cache"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path}  (2.0 KiB;" in out  # 2048 + 10 bytes
    assert "2.0 KiB  models/m" in out
    assert "10 B  stats/nli.sqlite3" in out
    assert "notes.txt" not in out


def test_cache_clear_deletes_only_what_lmuq_cached(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LMUQ_CACHE_DIR", str(tmp_path))
    _fill(tmp_path)
    assert main(["cache", "--clear"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert main(["cache"]) == 0
    assert "nothing cached yet" in capsys.readouterr().out
