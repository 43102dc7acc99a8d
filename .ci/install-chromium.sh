#!/usr/bin/env bash
# What the browser tests (tests/test_web_browser.py) and bench/bench_web.py need: Debian's chromium and the
# playwright package in the project's venv (Playwright drives the system chromium; `playwright install`
# is never needed). Installs only what is missing. Usage: bash .ci/install-chromium.sh [VENV_PYTHON]
set -euo pipefail
PY="${1:-.venv/bin/python}"
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing chromium" >&2
  SUDO=(); [ "$(id -u)" = "0" ] || SUDO=(sudo)
  ("${SUDO[@]}" apt-get update -qq && DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq chromium) >&2
fi
if ! "$PY" -c 'import playwright' >/dev/null 2>&1; then
  echo "installing playwright" >&2
  "$PY" -m pip install -q 'playwright>=1.40' >&2
fi
# The screenshots of the browser tests are CI artifacts.
export CI_ARTIFACTS_DIR="${CI_ARTIFACTS_DIR:-$PWD/test-artifacts}"
echo "chromium: $(command -v chromium); screenshots: $CI_ARTIFACTS_DIR/web" >&2
