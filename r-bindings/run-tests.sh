#!/usr/bin/env bash
# The R package's tests: build the package (build.sh: with the hubfn Python sources and the
# vignettes, which R CMD build knits), then `R CMD check --no-manual`, which installs it, runs the
# testthat tests (all in one R process, install_hubfn() into a temporary virtualenv root among
# them) and re-builds the vignettes. Prints one line
# "R: N passed, N failed" (failed = failed expectations + test errors, plus 1 if R CMD check
# reported an ERROR or WARNING) and exits non-zero if anything failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=/dev/null
source "$root/scripts/env.sh"
export RETICULATE_REMAP_OUTPUT_STREAMS=1  # the vignettes show Python's prints
export TZ=${TZ:-UTC}                      # else R asks timedatectl, which warns without systemd
unset TFHUB_CACHE_DIR                     # tests and vignettes set their own

if ! command -v R >/dev/null 2>&1; then
    echo "R is not installed (run: bash scripts/setup.sh --r)" >&2
    echo "R: 0 passed, 1 failed"
    exit 1
fi

echo "R's Python: $RETICULATE_PYTHON (NumPy $("$RETICULATE_PYTHON" -c 'import numpy; print(numpy.__version__)' 2>&1))"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubfn-r-check.XXXXXX")
[ -n "${HUBFN_KEEP_CHECK:-}" ] || trap 'rm -rf "$tmp"' EXIT
results="$tmp/results.txt"
install_log="$tmp/install-time.txt"

cd "$tmp" || exit 1
start=$(date +%s)
if ! tarball=$(bash "$here/build.sh" "$tmp" 2>"$tmp/build.log" | tail -n 1) || [ ! -f "$tarball" ]; then
    grep -v -e '^WARNING:tensorflow' -e '^I0000' -e '^E0000' -e 'absl::' "$tmp/build.log" | tail -n 40 >&2
    echo "R CMD build (with the vignettes) failed"
    echo "R: 0 passed, 1 failed"
    exit 1
fi
echo "R CMD build with vignettes: ok ($(( $(date +%s) - start ))s)"

start=$(date +%s)
HUBFN_R_TEST_RESULTS="$results" \
HUBFN_R_INSTALL_LOG="$install_log" \
_R_CHECK_FORCE_SUGGESTS_=false \
_R_CHECK_SYSTEM_CLOCK_=0 \
_R_CHECK_CRAN_INCOMING_=false \
    R CMD check --no-manual "$tarball" >"$tmp/check.log" 2>&1
check_rc=$?
secs=$(( $(date +%s) - start ))

status_line=$(grep -E '^Status: ' "$tmp/check.log" | tail -n 1)
[ -n "$status_line" ] || status_line="Status: no result (R CMD check exited with $check_rc)"
echo "R CMD check --no-manual: ${status_line#Status: } (${secs}s)"
vig=$(grep -E '^\* checking re-building of vignette outputs' "$tmp/check.log" | sed 's/^\* checking //')
echo "vignettes (knitted by R CMD build, again by check): ${vig:-not checked}"
# Show whatever R CMD check complained about (NOTEs included), not the whole log.
awk 'function flush() { if (bad) printf "%s", block; block = ""; bad = 0 }
     /^\* / { flush() }
     /^Status: / { flush(); exit }
     { block = block $0 "\n"; if ($0 ~ /(^|\.\.\. ?| )(NOTE|WARNING|ERROR)$/) bad = 1 }
     END { flush() }' "$tmp/check.log"

check_bad=0
if [ "$check_rc" -ne 0 ] || grep -qE '^Status: .*(ERROR|WARNING)' "$tmp/check.log" \
        || ! grep -qE '^Status: ' "$tmp/check.log"; then
    check_bad=1
    fail_log=$(ls "$tmp"/hubfn.Rcheck/tests/testthat.Rout.fail 2>/dev/null | head -n 1)
    if [ -n "$fail_log" ]; then
        echo "--- failed tests (from $(basename "$fail_log")) ---"
        if grep -q '══ Failed tests' "$fail_log"; then
            sed -n '/══ Failed tests/,$p' "$fail_log" | head -n 120
        else
            tail -n 40 "$fail_log"
        fi
    elif ! grep -qE '^Status: ' "$tmp/check.log"; then
        tail -n 40 "$tmp/check.log"
    fi
fi

if [ -s "$install_log" ]; then cat "$install_log"; fi
if [ -s "$results" ]; then
    read -r passed failed skipped <"$results"
    tail -n +2 "$results"
else
    echo "the testthat tests did not report results" >&2
    passed=0; failed=1; skipped=0
fi
if [ "$skipped" -gt 0 ]; then echo "R tests skipped: $skipped"; fi
failed=$((failed + check_bad))
echo "R: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
