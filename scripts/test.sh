#!/usr/bin/env bash
# Set up (first time, including Debian chromium for the browser tests) and run the whole suite.
# In CI (CI=true) the seed-science and demo tests run a second time on torch's generic CPU path
# (ATEN_CPU_CAPABILITY=default), so no result depends on the SIMD code this machine picks.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
python -m pytest -q "$@"
if [[ "${CI:-}" == "true" && $# -eq 0 ]]; then
    ATEN_CPU_CAPABILITY=default python -m pytest -q tests/test_seed_*.py tests/test_demos.py
fi
