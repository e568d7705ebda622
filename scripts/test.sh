#!/usr/bin/env bash
# Set up (first time, including Debian chromium for the browser tests) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
exec python -m pytest -q "$@"
