#!/usr/bin/env bash
# Set up (first time) and serve the workbench with a demo circuit on http://127.0.0.1:5006
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec python app.py "$@"
