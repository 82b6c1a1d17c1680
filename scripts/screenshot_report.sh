#!/usr/bin/env bash
# Render an lmuq HTML report in headless Chromium: a screenshot plus DOM checks that hostile
# model output (an answer "<script>alert(1)</script>", an <img onerror>, ...) shows as text
# and runs nothing.
#
# Needs Chromium; this script installs nothing. On Debian/Ubuntu:
#     apt-get update && apt-get install -y chromium
#
# Usage: scripts/screenshot_report.sh [OUT_DIR [--widths 1400,800]]
#                                                     (default: a new temporary folder)
# Writes OUT_DIR/report.html, OUT_DIR/screenshot.png (1280x2000) and OUT_DIR/dom.html (the
# DOM after the page's scripts ran), and OUT_DIR/report-demo.html, a demo-shaped report (18
# scorers) whose layout is checked at 800 and 1400 px wide (summary tables fit, plots at full
# size); with --widths, a full-page OUT_DIR/screenshot-<width>.png of it per width. Exits
# non-zero if a check fails. Set PYTHON to choose the interpreter (default: .venv/bin/python
# if present, else python3).
#
# The Chromium call it makes, for reference:
#     chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
#       --disable-background-networking --disable-component-update --disable-sync \
#       --user-data-dir=<tmp> --screenshot=<png> --window-size=1280,2000 file:///.../report.html
#     chromium --headless ... --dump-dom file:///.../report.html
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    echo "chromium not found; install it with: apt-get update && apt-get install -y chromium" >&2
    exit 2
fi
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
exec "$PYTHON" tests/browser_check_report.py --out "${1:-$(mktemp -d -t lmuq-report-check.XXXXXX)}" "${@:2}"
