#!/usr/bin/env bash
# One-time set-up on a fresh machine: a virtualenv in .venv with hubfn (editable), its test tools and
# the docs tools, on the newest NumPy (2.x); and, when asked for (--r, what the test command needs),
# Debian's R with the packages the R bindings and vignettes use, R's own virtualenv .venv-r (hubfn
# editable on NumPy < 2, which Debian's reticulate 1.28 needs), nginx-light (the serve-behind-nginx
# test), chromium (the docs page checked in a browser) and Java 17 (the Spark tests). The demo needs
# none of these.
# Safe to run again: each step is skipped when its result is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

want_r=0
for arg in "$@"; do [ "$arg" = "--r" ] && want_r=1; done

py=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$py" -m venv .venv
fi
stamp=.venv/.hubfn-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    # pip's chatter goes to a log, shown only when the install fails.
    log=.venv/pip-install.log
    if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e ".[test,docs]"; } \
            >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "setup: pip install failed; full log in $log" >&2
        exit 1
    fi
    touch "$stamp"
fi

if [ "$want_r" = 1 ]; then
    need=()
    for pkg in r-base-core r-cran-reticulate r-cran-testthat r-cran-knitr r-cran-rmarkdown pandoc \
               r-cran-roxygen2 r-cran-callr r-cran-processx r-cran-jsonlite r-cran-recipes \
               nginx-light chromium fonts-dejavu-core; do
        # nginx-light: tests/test_serve_nginx.py puts hubfn serve behind it; chromium and a font:
        # tests/test_docs.py renders a reference page headless and looks at it
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if [ ${#need[@]} -gt 0 ]; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    fi
fi
# Java 17 for PySpark (tests/test_spark.py runs a local SparkSession; hubfn[spark] on a fresh machine).
if [ "$want_r" = 1 ] && ! command -v java >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    mkdir -p /usr/share/man/man1  # slim Debian images lack it and the JRE's postinst fails without it
    apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
fi
# R's virtualenv: what install_hubfn() installs (hubfn, scikit-learn for the vignettes), with its pins
# (r-bindings/inst/python/constraints.txt: numpy<2), but hubfn editable so R tests this work tree.
rstamp=.venv-r/.hubfn-installed
constraints=r-bindings/inst/python/constraints.txt
if [ "$want_r" = 1 ] && { [ ! -f "$rstamp" ] || [ pyproject.toml -nt "$rstamp" ] || [ "$constraints" -nt "$rstamp" ]; }; then
    [ -x .venv-r/bin/python ] || "$py" -m venv .venv-r
    log=.venv-r/pip-install.log
    if ! { .venv-r/bin/python -m pip install --upgrade pip \
           && .venv-r/bin/python -m pip install -c "$constraints" -e . scikit-learn; } >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "setup: pip install into .venv-r failed; full log in $log" >&2
        exit 1
    fi
    touch "$rstamp"
fi
echo "setup: ok ($root/.venv$( [ "$want_r" = 1 ] && echo ", R: $root/.venv-r"))"
