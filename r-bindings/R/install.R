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
  py <- .pick_base_python(python, fail)
  path <- .venv_path(envname)
  # The steps (copy a source checkout, make the virtualenv, pip install under R's pins, check the import; a
  # failure removes the virtualenv it made) are inst/python/install_hubfn.py, run by `py`; it writes
  # "ok\n<version>" or the error.
  result <- tempfile("hubfn-install-")
  on.exit(unlink(result), add = TRUE)
  src <- if (is.null(package)) c(system.file("python", "hubfn-src", package = "hubfn"), "--bundled") else package
  constraints <- system.file("python", "constraints.txt", package = "hubfn")  # R's pins (scripts/setup.sh: .venv-r's too)
  args <- c(.install_script(), result, path, constraints, src, if (quiet) "--quiet",
            if (length(pip_options)) paste0("--pip-option=", pip_options))
  system2(py, shQuote(c(args, extra_packages)), stdout = if (quiet) FALSE else "", stderr = if (quiet) FALSE else "")
  out <- if (file.exists(result)) readLines(result, warn = FALSE) else paste("Running", py, "failed.")
  if (!identical(out[1], "ok")) fail(paste(out, collapse = "\n"))
  message(sprintf("hubfn %s installed in %s (made with %s, %.0f s). Restart R to use it.", out[[2]], path, py,
                  as.numeric(difftime(Sys.time(), start, units = "secs"))))
  invisible(.venv_python(path))
}

.install_script <- function() system.file("python", "install_hubfn.py", package = "hubfn")

# Why `py` cannot make hubfn's virtualenv ("" if it can): install_hubfn.py --check, run by `py` from R (whose
# library path can break ssl).
.base_python_problem <- function(py) {
  if (!file.exists(py)) return("does not exist")
  out <- suppressWarnings(system2(py, shQuote(c(.install_script(), "--check")), stdout = TRUE, stderr = TRUE))
  sub("^ok$", "", utils::tail(c("it does not run", out[nzchar(out)]), 1L))
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
