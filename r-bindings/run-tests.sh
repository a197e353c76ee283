#!/usr/bin/env bash
# The R package's tests: build the package, then `R CMD check --no-manual`, which runs the
# testthat tests (all in one R process) against the installed package. Prints one line
# "R: N passed, N failed" (failed = failed expectations + test errors, plus 1 if R CMD check
# reported an ERROR or WARNING) and exits non-zero if anything failed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
# shellcheck source=/dev/null
source "$root/scripts/env.sh"

if ! command -v R >/dev/null 2>&1; then
    echo "R is not installed (run: bash scripts/setup.sh --r)" >&2
    echo "R: 0 passed, 1 failed"
    exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/hubfn-r-check.XXXXXX")
[ -n "${HUBFN_KEEP_CHECK:-}" ] || trap 'rm -rf "$tmp"' EXIT
results="$tmp/results.txt"

cd "$tmp" || exit 1
if ! R CMD build --no-build-vignettes --no-manual "$here" >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    echo "R: 0 passed, 1 failed"
    exit 1
fi
tarball=$(ls "$tmp"/hubfn_*.tar.gz | head -n 1)

start=$(date +%s)
HUBFN_R_TEST_RESULTS="$results" \
_R_CHECK_FORCE_SUGGESTS_=false \
_R_CHECK_SYSTEM_CLOCK_=0 \
_R_CHECK_CRAN_INCOMING_=false \
    R CMD check --no-manual --no-build-vignettes "$tarball" >"$tmp/check.log" 2>&1
check_rc=$?
secs=$(( $(date +%s) - start ))

status_line=$(grep -E '^Status: ' "$tmp/check.log" | tail -n 1)
[ -n "$status_line" ] || status_line="Status: no result (R CMD check exited with $check_rc)"
echo "R CMD check --no-manual: ${status_line#Status: } (${secs}s)"
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
