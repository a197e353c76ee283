# install_hubfn(): a virtualenv with the hubfn Python sources this R package was built with
# (inst/python/hubfn-src, from r-bindings/build.sh); pip builds from a temporary copy.

#' Install the hubfn Python package into a virtualenv for R
#'
#' Makes the virtualenv `envname` and installs into it the hubfn Python package this R package was built
#' with and `extra_packages`, under R's pins (`python/constraints.txt`: `numpy<2` for reticulate 1.28).
#' The Python that makes it must be 3.10+ with working `ssl` and `venv`, as seen from R; a failure
#' removes a virtualenv this call made and says what to do. Restart R afterwards.
#'
#' @param package What to install as hubfn: `NULL` (the sources bundled with this R package), a hubfn
#'   source checkout (copied to a temporary directory first), a wheel file, or a pip requirement.
#' @param envname Name of the virtualenv (under `RETICULATE_VIRTUALENV_ROOT`, else `WORKON_HOME`, else
#'   `~/.virtualenvs`), or a path.
#' @param python The Python to make the virtualenv with (`NULL`: the first usable of `HUBFN_PYTHON`,
#'   `python3` on the `PATH`, `/usr/bin/python3`, `/usr/local/bin/python3`).
#' @param extra_packages More pip requirements; scikit-learn (the transfer-learning vignette's) by default.
#' @param pip_options More arguments for `pip install`, e.g. `"--index-url=..."`.
#' @param quiet `FALSE` shows pip's output as it runs.
#' @return The virtualenv's Python executable, invisibly.
#' @examples
#' \dontrun{
#' install_hubfn(extra_packages = c("scikit-learn", "pandas"))
#' }
#' @export
install_hubfn <- function(package = NULL, envname = "r-hubfn", python = NULL, extra_packages = "scikit-learn",
                          pip_options = character(), quiet = TRUE) {
  call <- sys.call()
  start <- Sys.time()
  fail <- function(...) stop(.hubfn_error("install_error", paste0(...), call))
  src <- .hubfn_source(package, fail)
  on.exit(unlink(src$cleanup, recursive = TRUE), add = TRUE)
  py <- .pick_base_python(python, fail)
  path <- .venv_path(envname)
  # The steps (make the virtualenv, pip install under R's pins, check the import; a failure removes the
  # virtualenv it made) are inst/python/install_hubfn.py, run by `py`; it writes "ok\n<version>" or the error.
  result <- tempfile("hubfn-install-")
  on.exit(unlink(result), add = TRUE)
  args <- c(system.file("python", "install_hubfn.py", package = "hubfn"), result, path, .r_constraints(fail),
            src$requirement, src$label, if (quiet) "--quiet", if (length(pip_options)) paste0("--pip-option=", pip_options))
  system2(py, shQuote(c(args, extra_packages)), stdout = if (quiet) FALSE else "", stderr = if (quiet) FALSE else "")
  out <- if (file.exists(result)) readLines(result, warn = FALSE) else paste("Running", py, "failed.")
  if (!identical(out[1], "ok")) fail(paste(out, collapse = "\n"))
  message(sprintf("hubfn %s installed in %s (made with %s, %.0f s). Restart R to use it.", out[[2]], path, py,
                  as.numeric(difftime(Sys.time(), start, units = "secs"))))
  invisible(.venv_python(path))
}

# The pip constraints file of R's virtualenv (scripts/setup.sh passes it for .venv-r too).
.r_constraints <- function(fail = stop) {
  path <- system.file("python", "constraints.txt", package = "hubfn")
  if (!nzchar(path)) fail("This build of the hubfn R package lacks python/constraints.txt; reinstall it.")
  path
}

# What pip installs as hubfn: list(requirement, label, cleanup = a temporary copy to remove).
.hubfn_source <- function(package, fail) {
  if (is.null(package)) {
    package <- system.file("python", "hubfn-src", package = "hubfn")
    if (!file.exists(file.path(package, "pyproject.toml"))) {
      fail("This build of the hubfn R package carries no hubfn Python sources. Build the R package with ",
           "`bash r-bindings/build.sh` (it bundles them), or pass install_hubfn(package = \"/path/to/hubfn checkout\").")
    }
  }
  if (!dir.exists(path.expand(package))) return(list(requirement = package, label = package))
  dir <- normalizePath(package)
  if (!any(file.exists(file.path(dir, c("pyproject.toml", "setup.py"))))) {
    fail("'", package, "' has no pyproject.toml or setup.py: pass a hubfn source checkout.")
  }
  # A copy of its top-level files and Python packages, where pip may write its build files.
  dest <- file.path(tempfile("hubfn-src-"), "hubfn-src")
  dir.create(dest, recursive = TRUE)
  skip <- "^(\\..*|build|dist|.*\\.egg-info|__pycache__|venv|tests|r-bindings|vignettes|bench|scripts)$"
  for (entry in grep(skip, list.files(dir, all.files = TRUE, no.. = TRUE), value = TRUE, invert = TRUE)) {
    from <- file.path(dir, entry)
    if (!dir.exists(from) || file.exists(file.path(from, "__init__.py"))) file.copy(from, dest, recursive = TRUE)
  }
  unlink(list.files(dest, "^__pycache__$", recursive = TRUE, include.dirs = TRUE, full.names = TRUE), recursive = TRUE)
  list(requirement = dest, label = paste0("hubfn (from ", package, ")"), cleanup = dirname(dest))
}

# Why `py` cannot make hubfn's virtualenv ("" if it can), run from R (whose library path can break ssl).
.base_python_problem <- function(py) {
  if (!nzchar(py)) return("not set")
  if (!file.exists(py)) return("does not exist")
  code <- paste("import sys", "assert sys.version_info >= (3, 10), 'Python %d.%d is older than 3.10' % sys.version_info[:2]",
                "import ssl, venv, ensurepip", "print('ok')", sep = "; ")
  out <- suppressWarnings(system2(py, c("-c", shQuote(code)), stdout = TRUE, stderr = TRUE))
  if (identical(utils::tail(out, 1L), "ok")) return("")
  last <- utils::tail(out[nzchar(out)], 1L)
  if (length(last)) last else "it does not run"
}

.pick_base_python <- function(python, fail) {
  candidates <- if (!is.null(python)) path.expand(python)
                else unique(c(Sys.getenv("HUBFN_PYTHON"), unname(Sys.which("python3")), "/usr/bin/python3", "/usr/local/bin/python3"))
  problems <- character()
  for (py in candidates[nzchar(candidates)]) {
    problem <- .base_python_problem(py)
    if (!nzchar(problem)) return(py)
    problems <- c(problems, paste0("  ", py, ": ", problem, "\n"))
  }
  fail("No usable Python to make hubfn's virtualenv: it needs Python >= 3.10 with working ssl and venv.\n",
       paste(problems, collapse = ""),
       "Install one (Debian: apt-get install python3 python3-venv) or pass install_hubfn(python = \"/path/to/python3\").")
}
