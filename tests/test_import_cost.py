"""`import lmuq` and `lmuq --help` load none of the heavy libraries (issue 12).

Checked by the modules a fresh interpreter has loaded, not by timing (machines are noisy).
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "transformers", "scipy", "sklearn", "pandas", "matplotlib", "lmuq.scoring")


def _loaded_after(code: str) -> set[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m in HEAVY)


def test_import_lmuq_loads_no_heavy_library():
    assert _heavy(_loaded_after("import lmuq")) == []


def test_a_name_loads_on_first_use():
    modules = _loaded_after("import lmuq\nassert callable(lmuq.draw)")
    assert "lmuq.generation.draws" in modules
    assert "torch" not in modules


def test_cli_help_loads_no_heavy_library():
    code = (
        "import contextlib, io\n"
        "from lmuq.app.cli import cli\n"
        "for args in (['--help'], ['demo', '--help'], ['run', '--help'], ['serve', '--help'],\n"
        "             ['longform', '--help']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            cli.main(args, standalone_mode=False)\n"
        "        except SystemExit:\n"
        "            pass\n"
    )
    assert _heavy(_loaded_after(code)) == []


def test_every_public_name_resolves():
    code = "import lmuq\nfor n in lmuq.__all__:\n    getattr(lmuq, n)"
    modules = _loaded_after(code)
    assert "lmuq.compat.uqlm" in modules
