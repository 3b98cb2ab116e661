#!/usr/bin/env bash
# Checks that an exported notebook (outputs/<name>.html) shows its plotly plots when opened offline:
# headless Chromium loads the file with no network use, then
#   1. the rendered DOM must contain a drawn plotly plot (an SVG line trace), and no
#      "plotly.js is not loaded" note;
#   2. a screenshot is written for a person to look at.
#
#   bash scripts/check-html.sh [outputs/00_quickstart.html] [screenshot.png]
#
# Needs Debian's chromium (bash scripts/setup.sh --chromium). Exit 0 = plot drawn, 1 = not, 2 = usage.
set -euo pipefail

cd "$(dirname "$0")/.."
HTML="${1:-outputs/00_quickstart.html}"
PNG="${2:-${HTML%.html}.png}"
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

[ -f "$HTML" ] || { echo "check-html: $HTML not found (run: npm run notebooks -- <notebook>)" >&2; exit 2; }
[ -x "$CHROMIUM" ] || { echo "check-html: $CHROMIUM not found (install: bash scripts/setup.sh --chromium)" >&2; exit 2; }

PROFILE_DIR="$(mktemp -d)"
trap 'rm -rf "$PROFILE_DIR"' EXIT
URL="file://$(realpath "$HTML")"
# A fresh profile and no background services: the page gets only what is in the file (the CDN
# scripts nbconvert's template references fail fast, as they would offline). Virtual time lets the
# page's timers (plot drawing) run without waiting in real time.
FLAGS=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
  --disable-sync --no-first-run --disable-extensions --hide-scrollbars --user-data-dir="$PROFILE_DIR"
  --virtual-time-budget=15000 --window-size=1200,2400)

DOM="$PROFILE_DIR/dom.html"
timeout 120 "$CHROMIUM" "${FLAGS[@]}" --dump-dom "$URL" >"$DOM" 2>"$PROFILE_DIR/stderr.log" || {
  echo "check-html: chromium failed to load $HTML:" >&2
  tail -5 "$PROFILE_DIR/stderr.log" >&2
  exit 1
}
timeout 120 "$CHROMIUM" "${FLAGS[@]}" --screenshot="$(realpath -m "$PNG")" "$URL" >/dev/null 2>>"$PROFILE_DIR/stderr.log" || {
  echo "check-html: chromium failed to take a screenshot of $HTML" >&2
  exit 1
}

# plotly draws each figure as <svg class="main-svg"> and each scatter line as <path class="js-line" d="M...">.
count() { { grep -Eo "$1" "$DOM" || true; } | wc -l; }
plots=$(count 'class="main-svg"')
lines=$(count 'class="js-line"[^>]*d="M[^"]+')
# The note is written into the plot's <div> (the same words also sit in each figure's script).
missing=$(count '>plotly.js is not loaded')
echo "check-html: $HTML: $plots plotly svg layer(s), $lines drawn line trace(s); screenshot $PNG"
if [ "$lines" -lt 1 ] || [ "$missing" -gt 0 ]; then
  echo "check-html: FAILED: no plotly line drawn in $HTML ($missing plot(s) say plotly.js is not loaded)" >&2
  exit 1
fi
