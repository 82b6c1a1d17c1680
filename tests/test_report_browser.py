"""The HTML report in a real browser: headless Chromium renders it, hostile answers stay text.

Needs Chromium (CI installs it: ``apt-get install -y chromium``). This test does not skip
when it is missing: it fails and says how to install it. The checks themselves live in
``browser_check_report.py`` (also run by ``scripts/screenshot_report.sh``).
"""

from __future__ import annotations

import pytest

from browser_check_report import (
    INSTALL_HINT,
    LAYOUT_WIDTHS,
    SCRIPT_PAYLOAD,
    build_demo_report,
    check_dom,
    check_layout,
    check_probe,
    dom_facts,
    find_chromium,
    hostile_results,
    probe_layout,
    probe_table_script,
    run_check,
)
from lmuq.evaluation.protocol import build_report_data
from lmuq.reporting.html import render_report


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.fail(f"Chromium is needed for the browser check of the HTML report; {INSTALL_HINT}")
    return binary


def test_report_renders_in_chromium_and_script_answers_show_as_text(chromium, tmp_path):
    problems = run_check(tmp_path, chromium)
    assert problems == []
    png = (tmp_path / "screenshot.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 20_000  # a page, not a blank
    facts = dom_facts((tmp_path / "dom.html").read_text(encoding="utf-8"))
    assert facts.response_texts[0] == SCRIPT_PAYLOAD
    assert facts.body_attrs.get("data-report-script") == "ran"
    # the inline table script sorts and filters (a user's clicks, driven by a probe)
    assert check_probe(probe_table_script(chromium, tmp_path / "report.html")) == []


@pytest.mark.parametrize("width", LAYOUT_WIDTHS)
def test_demo_shaped_report_reads_without_sideways_scrolling(chromium, tmp_path, width):
    """18 scorers with long names, intervals and notes: the summary tables fit the page and
    the plots keep their size (their legends stay legible) at 800 and at 1400 px."""
    layout = probe_layout(chromium, build_demo_report(tmp_path), width)
    assert layout["viewport"] <= width and len(layout["images"]) == 4
    assert check_layout(layout, width) == []


def test_the_layout_check_catches_a_table_wider_than_its_box():
    layout = {
        "viewport": 785,
        "page": 785,
        "tables": {t: [700, 721] for t in ("scorer-table", "calibration-table")},
        "images": [["ROC curves", 600, 600], ["Accuracy", 700, 600]],
    }
    layout["tables"]["threshold-table"] = [826, 721]
    problems = check_layout(layout, 800)
    assert any("#threshold-table scrolls sideways" in p for p in problems)
    assert any("#conformal-table" in p for p in problems)  # missing
    assert any("'Accuracy' is shrunk" in p for p in problems)


def test_the_dom_check_catches_an_unescaped_answer():
    """The check is not vacuous: the same page with the escaping undone fails it."""
    page = render_report(_tiny_report(), plots=False)
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert escaped in page
    broken = page.replace(escaped, SCRIPT_PAYLOAD)
    problems = check_dom(broken)
    assert any("expected 1 <script> element" in p for p in problems)
    assert any(repr(SCRIPT_PAYLOAD) in p for p in problems)


def _tiny_report():
    return build_report_data(hostile_results(12), scorers=["normalized_probability"], n_boot=10)
