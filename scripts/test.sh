#!/usr/bin/env bash
# Every test: Python (pytest), then R (testthat, R CMD check), then the vignettes.
# Set-up runs first and is skipped where already done. Exits non-zero if any part fails.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --r || exit 1
source scripts/env.sh
status=0

.venv/bin/python -m pytest -q "$@" || status=1

if [ -x r-bindings/run-tests.sh ]; then
    bash r-bindings/run-tests.sh || status=1
fi
if [ -x vignettes/render.sh ]; then
    bash vignettes/render.sh || status=1
fi
exit $status
