"""Run the Python snippets of README.md and docs/*.md as tests (Sybil).

A snippet that needs what CI lacks (a server, a cluster, a GPU) is preceded by
``<!-- skip: next "why" -->``; every other snippet must run as written.
"""

from sybil import Sybil
from sybil.parsers.markdown import PythonCodeBlockParser, SkipParser

pytest_collect_file = Sybil(
    parsers=[PythonCodeBlockParser(), SkipParser()],
    patterns=["README.md", "docs/*.md"],
).pytest()
