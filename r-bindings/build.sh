#!/usr/bin/env bash
# Build the R package tarball: r-bindings/ plus what it carries from the rest of the repository,
# staged in a temporary copy (nothing is written into the source tree):
#   inst/python/hubfn-src/  the hubfn Python sources (hubfn/, pyproject.toml, README.md), which
#                           install_hubfn() installs, so the R and Python versions always agree;
#   vignettes/              the vignettes (vignettes/*.Rmd and digits_example.py at the top level).
#
#   bash r-bindings/build.sh OUTDIR [R CMD build options, e.g. --no-build-vignettes]
#
# Prints the path of the tarball (hubfn_<version>.tar.gz in OUTDIR) on its last line.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${1:?usage: build.sh OUTDIR [R CMD build options]}
shift
mkdir -p "$out"
out=$(cd "$out" && pwd)

stage=$(mktemp -d "${TMPDIR:-/tmp}/hubfn-r-stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg="$stage/hubfn"
mkdir -p "$pkg"
# The R package itself, without check output.
tar -C "$here" --exclude='*.Rcheck' --exclude='inst/python/hubfn-src' --exclude='__pycache__' -cf - . | tar -C "$pkg" -xf -
# The Python sources install_hubfn() installs.
src="$pkg/inst/python/hubfn-src"
mkdir -p "$src"
cp "$root/pyproject.toml" "$root/README.md" "$src/"
tar -C "$root" --exclude='__pycache__' --exclude='*.pyc' -cf - hubfn | tar -C "$src" -xf -
# The vignettes.
mkdir -p "$pkg/vignettes"
cp "$root"/vignettes/*.Rmd "$root/vignettes/digits_example.py" "$pkg/vignettes/"

cd "$out"
R CMD build --no-manual "$@" "$pkg" >&2
ls -t "$out"/hubfn_*.tar.gz | head -n 1
