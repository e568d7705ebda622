#!/usr/bin/env bash
# Installs the project and what it needs (idempotent; quick once done). Sourced by serve.sh and test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
if [ "$extras" = "test" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "The browser tests need Debian's chromium: sudo apt-get install -y chromium" >&2
    exit 1
  fi
fi
# torch is pinned: 2.13.0 installs the local CPU build here; anything else may pull CUDA.
python -m pip install -q --disable-pip-version-check --root-user-action=ignore torch==2.13.0 -e ".${extras:+[$extras]}"
