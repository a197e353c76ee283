#!/usr/bin/env bash
# The demo: set up (first run only), then export a module, load it and apply it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
source scripts/env.sh
exec .venv/bin/python scripts/demo.py "$@"
