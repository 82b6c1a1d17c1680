"""Render an lmuq HTML report in headless Chromium and check that model output stays text.

Not collected by pytest (its name does not start with ``test_``); ``test_report_browser.py``
imports it, and ``scripts/screenshot_report.sh`` runs it as a script:

    python tests/browser_check_report.py --out /tmp/lmuq-report-check

writes ``report.html``, ``screenshot.png`` (1280x2000), ``dom.html`` (the DOM after the
page's scripts ran) and ``probe.html`` there (default: a new temporary folder), and exits
non-zero if a check fails.

Needs Chromium (Debian: ``apt-get install -y chromium``). Installs nothing itself.

The report is built from a synthetic results table whose answers and samples are hostile:
``<script>alert(1)</script>``, a script and an ``<img onerror>`` that would set a
``data-pwned`` marker on ``<body>`` if they ran, and a sample that tries to close the
``<details>`` element. The checks on the dumped DOM:

* the report's own inline script ran (``<body data-report-script="ran">``), so JavaScript
  was on and an injected script would have run too;
* no ``data-pwned`` marker, exactly one ``<script>`` element (the report's own), no
  ``<img>`` apart from the embedded ``data:`` PNG plots;
* the response cells contain the payloads as literal text.

Then a copy of the page (``probe.html``, CSP removed so a probe script may run) is driven
like a user would: clicking the AUROC heading sorts the scorer table, typing in the filter
and ticking "only wrong answers" hide rows, and the counter says so.

The layout is checked on a demo-shaped report (:func:`demo_like_results`: 60 questions, the
demo's 18 scorers with their long names, notes and flags) at 800 and 1400 px wide: the
summary tables fit their boxes without sideways scrolling, the page does not scroll
sideways, and the plots are shown at their full size (legends not scaled down). With
``--widths 1400,800`` the script also writes ``report-demo.html`` and a full-page
``screenshot-<width>.png`` of it per width.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
INSTALL_HINT = "install it with: apt-get update && apt-get install -y chromium"

SCRIPT_PAYLOAD = "<script>alert(1)</script>"
MARKER_PAYLOAD = "<script>document.body.setAttribute('data-pwned','script')</script>"
IMG_PAYLOAD = "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\">"
DETAILS_PAYLOAD = (
    "</li></ol></details><script>document.body.setAttribute('data-pwned','s')</script>"
)
PAYLOADS = (SCRIPT_PAYLOAD, MARKER_PAYLOAD, IMG_PAYLOAD)
SCORERS = ("normalized_probability", "semantic_negentropy", "baseline:short_answer")


def hostile_results(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """A demo-shaped results table whose first answers are the payloads above."""
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < 0.55
    correct[:2] = [True, False]
    good = np.clip(0.35 * correct + 0.65 * rng.random(n), 0.0, 1.0)
    noisy = rng.random(n)
    noisy[3] = np.nan
    responses = [f"Answer {i} with \"quotes\" & 'apostrophes'" for i in range(n)]
    responses[: len(PAYLOADS)] = PAYLOADS
    samples = [[f"sample {i}.{j}" for j in range(3)] for i in range(n)]
    samples[0] = [DETAILS_PAYLOAD, SCRIPT_PAYLOAD]
    return pd.DataFrame(
        {
            "id": [f"q{i:03d}" for i in range(n)],
            "question": [f"What is the capital of country #{i}?" for i in range(n)],
            "gold": [f"City {i}" for i in range(n)],
            "response": responses,
            "correct": correct,
            "response_tokens": rng.integers(1, 30, n),
            "sampled_responses": samples,
            "normalized_probability": good,
            "semantic_negentropy": noisy,
        }
    )


#: The demo's scorers (``lmuq demo``), best first on its run, and its length baseline.
DEMO_SCORERS = (
    "sequence_probability",
    "normalized_probability",
    "min_token_negentropy",
    "min_probability",
    "mean_token_negentropy",
    "probability_margin",
    "baseline:short_answer",
    "semantic_entropy",
    "exact_match",
    "semantic_negentropy",
    "semantic_sets_confidence",
    "cosine_sim",
    "monte_carlo_probability",
    "bert_score",
    "rouge_l",
    "predictive_entropy_mc_normalized",
    "predictive_entropy_mc",
    "predictive_entropy_renormalized",
)


def demo_like_results(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """A results table shaped like ``lmuq demo``'s: 60 questions, 43% right, 18 scorers.

    White-box scorers are informative, three black-box ones rank the answers identically
    (exact_match, semantic_negentropy, semantic_sets_confidence), predictive_entropy_mc is a
    product of tiny probabilities (Platt scaling makes it constant), several are noise.
    """
    rng = np.random.default_rng(seed)
    correct = rng.permutation(np.arange(n) < round(0.433 * n))
    tokens = rng.integers(1, 30, n) + np.where(correct, 0, 8)
    cols: dict[str, np.ndarray] = {}
    for k, name in enumerate(DEMO_SCORERS[:6]):
        cols[name] = np.clip(0.45 * correct * (1 - k / 12) + 0.55 * rng.random(n), 0, 1)
    agree = np.clip(np.round(5 * (0.25 * correct + 0.75 * rng.random(n))) / 5, 0, 1)
    cols["exact_match"] = agree
    cols["semantic_negentropy"] = agree**2
    cols["semantic_sets_confidence"] = agree
    cols["semantic_entropy"] = np.clip(0.3 * correct + 0.7 * rng.random(n), 0, 1)
    for name in ("cosine_sim", "monte_carlo_probability", "bert_score", "rouge_l"):
        cols[name] = np.clip(0.1 * correct + 0.9 * rng.random(n), 0, 1)
    cols["predictive_entropy_mc_normalized"] = rng.random(n)
    cols["predictive_entropy_mc"] = 1e-12 * rng.random(n)
    cols["predictive_entropy_renormalized"] = rng.random(n)
    cols["baseline:short_answer"] = -tokens.astype(float)
    return pd.DataFrame(
        {
            "id": [f"q{i:03d}" for i in range(n)],
            "question": [f"What is the capital of country #{i}?" for i in range(n)],
            "gold": [f"City {i}" for i in range(n)],
            "response": [
                f"The capital is City {i if c else i + 1}." for i, c in enumerate(correct)
            ],
            "correct": correct,
            "response_tokens": tokens,
            "sampled_responses": [[f"City {i}", f"Town {i}"] for i in range(n)],
            **{name: cols[name] for name in DEMO_SCORERS},
        }
    )


def build_demo_report(out_dir: Path) -> Path:
    """Write the demo-shaped report to ``out_dir/report-demo.html``."""
    from lmuq.evaluation.protocol import build_report_data
    from lmuq.reporting.html import write_report

    data = build_report_data(
        demo_like_results(),
        scorers=list(DEMO_SCORERS),
        run_info={"model": "SmolLM2-135M-Instruct (demo-shaped)", "dataset": "capitals"},
        n_boot=200,
    )
    return write_report(data, out_dir / "report-demo.html", title="lmuq report: layout check")


def build_report(out_dir: Path) -> Path:
    """Write the hostile report to ``out_dir/report.html``."""
    from lmuq.evaluation.protocol import build_report_data
    from lmuq.reporting.html import write_report

    results = hostile_results()
    results["baseline:short_answer"] = -results["response_tokens"]
    data = build_report_data(
        results,
        scorers=list(SCORERS),
        run_info={
            "model": "hostile/<b>model</b>",
            "config": {"dataset": "capitals", "api_key": "sk-do-not-show-1234567890"},
        },
        n_boot=200,
    )
    return write_report(data, out_dir / "report.html", title="lmuq report: browser check")


def find_chromium() -> str | None:
    """Path of a Chromium binary, or ``None``."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(binary: str, args: list[str], profile: Path, timeout: float) -> str:
    cmd = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        *args,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(
            f"chromium exited with {proc.returncode}: {' '.join(cmd)}\n{proc.stderr[-2000:]}"
        )
    return proc.stdout


def render(
    binary: str,
    html_path: Path,
    png: Path | None = None,
    timeout: float = 60.0,
    window: tuple[int, int] = (1280, 2000),
) -> str:
    """Load ``html_path`` in Chromium; return the DOM after its scripts ran.

    With ``png``, the same load also writes a screenshot of the ``window`` (width, height)
    there.
    """
    args = ["--dump-dom", f"--window-size={window[0]},{window[1]}"]
    if png is not None:
        args += [f"--screenshot={png.resolve()}", "--hide-scrollbars"]
    with tempfile.TemporaryDirectory(prefix="lmuq-chromium-") as profile:
        dom = _chromium(binary, [*args, html_path.resolve().as_uri()], Path(profile), timeout)
    if png is not None and (not png.exists() or png.stat().st_size == 0):
        raise RuntimeError(f"chromium wrote no screenshot at {png}")
    return dom


# Drives the report's table script like a user would and records what happened on <body>.
_PROBE = """<script>
(function () {
  function order(t) {
    return [].map.call(t.tBodies[0].rows, function (r) { return r.getAttribute("data-scorer"); });
  }
  var out = {};
  var t = document.getElementById("scorer-table");
  var auroc = t.tHead.rows[0].cells[3];
  auroc.click();
  out.first_click = order(t);
  auroc.click();
  out.second_click = order(t);
  var q = document.getElementById("q-filter");
  q.value = "country #1";
  q.dispatchEvent(new Event("input"));
  out.filtered = document.getElementById("q-count").textContent;
  q.value = "";
  q.dispatchEvent(new Event("input"));
  var w = document.getElementById("q-wrong");
  w.checked = true;
  w.dispatchEvent(new Event("change"));
  out.wrong_only = document.getElementById("q-count").textContent;
  document.body.setAttribute("data-probe", JSON.stringify(out));
})();
</script>"""


def probe_table_script(binary: str, html_path: Path, timeout: float = 60.0) -> dict:
    """Click and type in a copy of the report (its CSP removed so the probe may run).

    Returns ``first_click`` / ``second_click`` (scorer-table order after clicking the AUROC
    heading once / twice), ``filtered`` and ``wrong_only`` (the question counter after
    typing "country #1" in the filter / ticking "only wrong answers").
    """
    page = html_path.read_text(encoding="utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = html_path.with_name("probe.html")
    probe.write_text(page.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    facts = dom_facts(render(binary, probe, timeout=timeout))
    raw = facts.body_attrs.get("data-probe")
    if raw is None:
        raise RuntimeError("the interaction probe did not run")
    return json.loads(raw)


# Measures, once the page (and its images) loaded, what a reader at this width would see.
_LAYOUT_PROBE = """<script>
window.addEventListener("load", function () {
  var out = {viewport: document.documentElement.clientWidth,
             page: document.documentElement.scrollWidth,
             height: document.documentElement.scrollHeight, tables: {}, images: []};
  SUMMARY_TABLES.forEach(function (id) {
    var t = document.getElementById(id);
    if (t) { out.tables[id] = [t.scrollWidth, t.parentElement.clientWidth]; }
  });
  [].forEach.call(document.querySelectorAll("figure img"), function (img) {
    out.images.push([img.alt, img.naturalWidth, img.clientWidth]);
  });
  document.body.setAttribute("data-layout", JSON.stringify(out));
});
</script>"""
#: The tables that must fit the page at every width (the per-question table scrolls in its
#: own box: it has a column per scorer).
SUMMARY_TABLES = ("scorer-table", "calibration-table", "threshold-table", "conformal-table")
LAYOUT_WIDTHS = (800, 1400)


def probe_layout(binary: str, html_path: Path, width: int, timeout: float = 60.0) -> dict:
    """Table, page and image widths of ``html_path`` in a ``width`` px wide window.

    Returns ``viewport`` (px), ``page`` (the document's scroll width), ``height``,
    ``tables`` (id -> [scroll width, width of its box]) and ``images`` ([alt, natural width,
    shown width] per plot).
    """
    page = html_path.read_text(encoding="utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page)
    probe = _LAYOUT_PROBE.replace("SUMMARY_TABLES", json.dumps(list(SUMMARY_TABLES)))
    path = html_path.with_name(f"layout-{width}.html")
    path.write_text(page.replace("</body>", probe + "</body>"), encoding="utf-8")
    facts = dom_facts(render(binary, path, timeout=timeout, window=(width, 1200)))
    raw = facts.body_attrs.get("data-layout")
    if raw is None:
        raise RuntimeError("the layout probe did not run")
    return json.loads(raw)


def check_layout(result: dict, width: int) -> list[str]:
    """Problems in what :func:`probe_layout` measured at ``width``."""
    problems = []
    if result["page"] > result["viewport"]:
        problems.append(
            f"at {width}px the page scrolls sideways ({result['page']} > {result['viewport']})"
        )
    for table in SUMMARY_TABLES:
        if table not in result["tables"]:
            problems.append(f"at {width}px: no #{table}")
            continue
        inner, box = result["tables"][table]
        if inner > box:
            problems.append(f"at {width}px #{table} scrolls sideways ({inner}px in a {box}px box)")
    for alt, natural, shown in result["images"]:
        if shown < 0.95 * natural:
            problems.append(f"at {width}px the plot {alt!r} is shrunk ({shown}px of {natural}px)")
    return problems


def screenshot_full_page(binary: str, html_path: Path, png: Path, width: int) -> Path:
    """A screenshot of the whole of ``html_path`` at ``width`` px wide."""
    height = probe_layout(binary, html_path, width)["height"]
    render(binary, html_path, png, window=(width, height + 40))
    return png


@dataclass
class DomFacts:
    """What the checks need from a dumped DOM."""

    body_attrs: dict[str, str | None] = field(default_factory=dict)
    n_scripts: int = 0
    img_srcs: list[str] = field(default_factory=list)
    response_texts: list[str] = field(default_factory=list)
    sample_texts: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)


class _DomParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.facts = DomFacts()
        self._capture: str | None = None  # "response", "sample" or "heading"
        self._buf: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "body":
            self.facts.body_attrs = a
        elif tag == "script":
            self.facts.n_scripts += 1
        elif tag == "img":
            self.facts.img_srcs.append(a.get("src") or "")
        elif tag == "td" and "response" in classes:
            self._capture, self._buf = "response", []
        elif tag == "li":
            self._capture, self._buf = "sample", []
        elif tag == "h2":
            self._capture, self._buf = "heading", []

    def handle_endtag(self, tag):
        ends = {"response": "td", "sample": "li", "heading": "h2"}
        if self._capture and ends[self._capture] == tag:
            text = "".join(self._buf)
            {
                "response": self.facts.response_texts,
                "sample": self.facts.sample_texts,
                "heading": self.facts.headings,
            }[self._capture].append(text)
            self._capture = None

    def handle_data(self, data):
        if self._capture:
            self._buf.append(data)


def dom_facts(dom: str) -> DomFacts:
    parser = _DomParser()
    parser.feed(dom)
    parser.close()
    return parser.facts


def check_dom(dom: str) -> list[str]:
    """Problems found in the dumped DOM of the hostile report (empty list = all good)."""
    facts = dom_facts(dom)
    problems = []
    if facts.body_attrs.get("data-report-script") != "ran":
        problems.append(
            "the report's own script did not run (body data-report-script="
            f"{facts.body_attrs.get('data-report-script')!r}); the check needs JavaScript on"
        )
    if "data-pwned" in facts.body_attrs:
        problems.append(f"injected code ran: data-pwned={facts.body_attrs['data-pwned']!r}")
    if facts.n_scripts != 1:
        problems.append(f"expected 1 <script> element (the report's), got {facts.n_scripts}")
    stray = [s for s in facts.img_srcs if not s.startswith("data:image/png;base64,")]
    if stray:
        problems.append(f"unexpected <img> elements: {stray[:3]}")
    if len(facts.img_srcs) < 3:
        problems.append(f"expected the embedded plots, found {len(facts.img_srcs)} images")
    for payload in PAYLOADS:
        if payload not in facts.response_texts:
            problems.append(f"response cell does not show {payload!r} as text")
    if DETAILS_PAYLOAD not in facts.sample_texts:
        problems.append("the hostile sample is not shown as text in its <details> list")
    for heading in ("Run", "Accuracy", "Scorers", "Plots", "Thresholds", "Questions"):
        if not any(h.startswith(heading) for h in facts.headings):
            problems.append(f"section heading {heading!r} missing from the rendered page")
    if "sk-do-not-show" in dom:
        problems.append("the API key is in the page")
    return problems


def check_probe(result: dict) -> list[str]:
    """Problems in what :func:`probe_table_script` saw on the hostile report."""
    from lmuq.evaluation import auroc

    df = hostile_results()
    y = df["correct"].to_numpy()
    aurocs = {}
    for name in SCORERS:
        c = df[name].to_numpy(dtype=float) if name in df else -df["response_tokens"].to_numpy()
        keep = np.isfinite(c)
        aurocs[name] = auroc(c[keep], y[keep])
    best_first = sorted(SCORERS, key=lambda s: -aurocs[s])
    n_wrong = int((~y).sum())
    expected = {
        "first_click": best_first,
        "second_click": best_first[::-1],
        "filtered": f"11 of {len(df)} questions shown",  # #1 and #10..#19
        "wrong_only": f"{n_wrong} of {len(df)} questions shown",
    }
    return [
        f"table script: {k} is {result.get(k)!r}, expected {v!r}"
        for k, v in expected.items()
        if result.get(k) != v
    ]


def run_check(out_dir: Path, binary: str, take_screenshot: bool = True) -> list[str]:
    """Build, render and check the hostile report; files go to ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path = build_report(out_dir)
    dom = render(binary, html_path, out_dir / "screenshot.png" if take_screenshot else None)
    (out_dir / "dom.html").write_text(dom, encoding="utf-8")
    return check_dom(dom)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="default: a new temp folder")
    parser.add_argument("--chromium", default=None, help="Chromium binary (default: search)")
    parser.add_argument(
        "--widths",
        default="",
        help="also screenshot the demo-shaped report full-page at these widths, e.g. 1400,800",
    )
    args = parser.parse_args(argv)
    binary = args.chromium or find_chromium()
    if binary is None:
        print(f"Chromium not found; {INSTALL_HINT}", file=sys.stderr)
        return 2
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="lmuq-report-check-"))
    problems = run_check(args.out, binary)
    problems += check_probe(probe_table_script(binary, args.out / "report.html"))
    names = ["report.html", "screenshot.png", "dom.html", "probe.html"]
    demo = build_demo_report(args.out)
    names.append(demo.name)
    for width in LAYOUT_WIDTHS:
        problems += check_layout(probe_layout(binary, demo, width), width)
    for width in (int(w) for w in args.widths.split(",") if w.strip()):
        names.append(
            screenshot_full_page(binary, demo, args.out / f"screenshot-{width}.png", width).name
        )
    for name in names:
        print(f"wrote {args.out / name}")
    if problems:
        print("FAILED:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    print(
        "OK: the report renders in Chromium; hostile answers show as text, no injected code "
        "ran; sorting and filtering work; the layout fits 800 and 1400 px"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
