#!/usr/bin/env bash
# Render every vignette (vignettes/*.Rmd) to HTML, every chunk evaluated, each in its own R process.
# Uses the R package from r-bindings/ (installed into a temporary library) and the project's .venv.
# Output: $VIGNETTES_OUT if set, else a temporary directory (printed). Last line:
#   vignettes: N passed, N failed
# Exits non-zero if any vignette fails to render (a failed stopifnot() in a vignette fails it).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/env.sh
export RETICULATE_REMAP_OUTPUT_STREAMS=1
unset TFHUB_CACHE_DIR  # each vignette sets its own, in a temporary directory

out=${VIGNETTES_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/hubfn-vignettes.XXXXXX")}
mkdir -p "$out"
out=$(cd "$out" && pwd)
lib=$(mktemp -d "${TMPDIR:-/tmp}/hubfn-rlib.XXXXXX")
trap 'rm -rf "$lib"' EXIT

vignettes=()  # the arguments (paths to .Rmd files), else every vignette
if [ "$#" -gt 0 ]; then vignettes=("$@"); else vignettes=(vignettes/*.Rmd); fi
n=${#vignettes[@]}

if ! R CMD INSTALL --no-test-load --library="$lib" r-bindings >"$out/r-install.log" 2>&1; then
    tail -n 20 "$out/r-install.log"
    echo "vignettes: could not install the R package from r-bindings/ (see $out/r-install.log)"
    echo "vignettes: 0 passed, $n failed"
    exit 1
fi

passed=0
failed=0
for rmd in "${vignettes[@]}"; do
    name=$(basename "$rmd" .Rmd)
    case "$rmd" in /*) src=$rmd ;; *) src=$root/$rmd ;; esac
    log="$out/$name.log"
    work=$(mktemp -d "${TMPDIR:-/tmp}/hubfn-knit.XXXXXX")
    start=$(date +%s)
    if R_LIBS="$lib${R_LIBS:+:$R_LIBS}" Rscript -e "
        rmarkdown::render('$src', output_dir = '$out', intermediates_dir = '$work',
                          knit_root_dir = '$work', envir = new.env(), quiet = TRUE)" >"$log" 2>&1 \
       && [ -s "$out/$name.html" ]; then
        passed=$((passed + 1))
        echo "ok     $name ($(( $(date +%s) - start )) s) -> $out/$name.html"
    else
        failed=$((failed + 1))
        echo "FAILED $name ($(( $(date +%s) - start )) s), log $log:"
        grep -v -e '^WARNING:tensorflow' -e '^Instructions for updating' -e 'migrate for instructions' \
                -e '^I0000' -e '^E0000' -e 'absl::InitializeLog' "$log" | tail -n 25 | sed 's/^/    /'
    fi
    rm -rf "$work"
done
echo "vignettes: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
