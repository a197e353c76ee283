#!/usr/bin/env bash
# Every test: R (testthat + R CMD check, which knits the vignettes) in R's virtualenv .venv-r (NumPy < 2),
# then Python (pytest) in .venv (NumPy 2), which also builds the docs (tests/test_docs.py) and the wheel
# (tests/test_wheel.py); pytest's summary line closes the run. Set-up runs first and is skipped where already done. Exits non-zero if any part fails.
# Arguments go to pytest (e.g. `bash scripts/test.sh -x -k cache`).
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --r || exit 1
source scripts/env.sh
status=0

bash r-bindings/run-tests.sh || status=1  # R CMD build/check knit the vignettes (vignettes/render.sh: alone)
versions='import importlib.metadata as m; print(", ".join(p + " " + m.version(p) for p in ("numpy", "pandas", "pyarrow", "tensorflow")))'
echo "Python tests in .venv: $(.venv/bin/python -c "$versions")"
.venv/bin/python -m pytest -q "$@" || status=1

exit $status
