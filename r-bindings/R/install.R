# install_hubfn(): a virtualenv with the hubfn Python package that matches this R package.
#
# The R package carries the hubfn Python sources it was built with (inst/python/hubfn-src, put
# there by r-bindings/build.sh), so install_hubfn() needs no package index for hubfn itself and
# the two versions agree. pip builds from a temporary copy of the sources, never in a source tree.

#' Install the hubfn Python package into a virtualenv for R
#'
#' Makes the virtualenv `envname` (default `r-hubfn`, which hubfn uses when neither
#' `RETICULATE_PYTHON` nor `HUBFN_PYTHON` is set) and installs into it the hubfn Python package
#' this R package was built with, `numpy<2` (reticulate 1.28 cannot convert NumPy 2 arrays), and
#' `extra_packages`. TensorFlow and hubfn's other dependencies come from the package index (PyPI),
#' so pip needs to reach it.
#'
#' The Python that makes the virtualenv is checked, not trusted: it must be Python 3.10 or newer
#' with working `ssl` (for pip) and `venv` modules, as seen from this R session. Candidates, in
#' order: `python`, `HUBFN_PYTHON`, `python3` on the `PATH`, `/usr/bin/python3`,
#' `/usr/local/bin/python3`; the first that passes is used.
#'
#' If anything fails, a virtualenv made by this call is removed again (so hubfn never picks up a
#' half-made one), and the error says what went wrong and what to do. Restart R afterwards.
#'
#' @param package What to install as hubfn: `NULL` (the sources bundled with this R package), a
#'   path to a hubfn source checkout (copied to a temporary directory first, so nothing is written
#'   into it), a wheel file, or a pip requirement.
#' @param envname Name of the virtualenv (under `RETICULATE_VIRTUALENV_ROOT`, else `WORKON_HOME`,
#'   else `~/.virtualenvs`), or a path.
#' @param python The Python to make the virtualenv with (`NULL`: the first usable candidate).
#' @param extra_packages More pip requirements; scikit-learn is there by default, as the
#'   transfer-learning vignette uses it.
#' @param pip_options More arguments for `pip install`, e.g. `"--index-url=..."`.
#' @param quiet `FALSE` shows pip's output as it runs.
#' @return The virtualenv's Python executable, invisibly.
#' @examples
#' \dontrun{
#' install_hubfn()
#' install_hubfn(extra_packages = c("scikit-learn", "pandas"))
#' }
#' @export
install_hubfn <- function(package = NULL, envname = "r-hubfn", python = NULL,
                          extra_packages = "scikit-learn", pip_options = character(), quiet = TRUE) {
  call <- sys.call()
  start <- Sys.time()
  fail <- function(...) {
    stop(structure(class = c("hubfn_install_error", "hubfn_error", "error", "condition"),
                   list(message = paste0(...), call = call)))
  }
  src <- .hubfn_source(package, fail)
  on.exit(if (!is.null(src$cleanup)) unlink(src$cleanup, recursive = TRUE), add = TRUE)
  py <- .pick_base_python(python, fail)
  path <- .venv_path(envname)
  vpy <- .venv_python(path)

  created <- FALSE
  done <- FALSE
  on.exit(if (created && !done) unlink(path, recursive = TRUE), add = TRUE)
  if (dir.exists(path) && !.python_runs(vpy)) {
    unlink(path, recursive = TRUE)  # a broken or half-made env: start afresh
  }
  log <- tempfile("hubfn-install-", fileext = ".log")
  run <- function(cmd, args, what) {
    rc <- system2(cmd, args, stdout = if (quiet) log else "", stderr = if (quiet) log else "")
    if (!identical(as.integer(rc), 0L)) {
      tail <- if (file.exists(log)) utils::tail(readLines(log, warn = FALSE), 25L) else character()
      fail(what, " failed (exit status ", rc, ")", if (length(tail)) paste0(":\n", paste(tail, collapse = "\n")),
           if (created) paste0("\nThe half-made virtualenv ", path, " was removed.") else "",
           "\nFix the problem above and run install_hubfn() again",
           " (pip must reach the package index for TensorFlow; pass pip_options, e.g. \"--index-url=...\", if it is elsewhere).")
    }
  }
  if (!dir.exists(path)) {
    dir.create(dirname(path), recursive = TRUE, showWarnings = FALSE)
    created <- TRUE
    run(py, c("-m", "venv", shQuote(path)), paste0("Making the virtualenv ", path, " with ", py))
  }
  reqs <- c("numpy<2", src$requirement, extra_packages)
  run(vpy, c("-m", "pip", "install", "--disable-pip-version-check", "--no-input", pip_options, shQuote(reqs)),
      paste0("pip install ", paste(c("numpy<2", src$label, extra_packages), collapse = " ")))
  version <- suppressWarnings(system2(vpy, c("-c", shQuote("import hubfn, numpy; print(hubfn.__version__)")),
                                      stdout = TRUE, stderr = FALSE))
  if (!length(version) || !is.null(attr(version, "status"))) {
    fail("hubfn was installed into ", path, " but its Python cannot import it; run install_hubfn() again.",
         if (created) paste0(" (The virtualenv was removed.)") else "")
  }
  done <- TRUE
  secs <- as.numeric(difftime(Sys.time(), start, units = "secs"))
  message(sprintf("hubfn %s installed in %s (made with %s, %.0f s). Restart R to use it.", version[[1]], path, py, secs))
  invisible(vpy)
}

# What pip installs as hubfn: list(requirement, label, cleanup = a temporary copy to remove).
.hubfn_source <- function(package, fail) {
  if (is.null(package)) {
    bundled <- system.file("python", "hubfn-src", package = "hubfn")
    if (!nzchar(bundled) || !file.exists(file.path(bundled, "pyproject.toml"))) {
      fail("This build of the hubfn R package carries no hubfn Python sources. Build the R package ",
           "with `bash r-bindings/build.sh` (it bundles them), or pass install_hubfn(package = ",
           "\"/path/to/hubfn checkout\").")
    }
    package <- bundled
  }
  package <- as.character(package)
  if (dir.exists(path.expand(package))) {
    dir <- normalizePath(package)
    if (!file.exists(file.path(dir, "pyproject.toml")) && !file.exists(file.path(dir, "setup.py"))) {
      fail("'", package, "' has no pyproject.toml or setup.py: pass a hubfn source checkout.")
    }
    copy <- .copy_python_sources(dir)
    return(list(requirement = copy, label = paste0("hubfn (from ", package, ")"), cleanup = dirname(copy)))
  }
  list(requirement = package, label = package, cleanup = NULL)
}

# Copy a Python source tree's top-level files and its package directories (not .git, virtualenvs,
# build output or caches) to a new temporary directory, where pip may write build files.
.copy_python_sources <- function(dir) {
  dest <- file.path(tempfile("hubfn-src-"), "hubfn-src")
  dir.create(dest, recursive = TRUE)
  skip <- "^(\\..*|build|dist|.*\\.egg-info|__pycache__|venv|tests|r-bindings|vignettes|bench|scripts)$"
  for (entry in list.files(dir, all.files = TRUE, no.. = TRUE)) {
    if (grepl(skip, entry)) next
    from <- file.path(dir, entry)
    if (dir.exists(from)) {
      if (!file.exists(file.path(from, "__init__.py"))) next  # only Python packages
      file.copy(from, dest, recursive = TRUE)
    } else {
      file.copy(from, dest)
    }
  }
  unlink(list.files(dest, pattern = "^__pycache__$", recursive = TRUE, include.dirs = TRUE, full.names = TRUE),
         recursive = TRUE)
  dest
}

.python_runs <- function(py) {
  file.exists(py) && identical(suppressWarnings(
    system2(py, c("-c", shQuote("print(1)")), stdout = TRUE, stderr = FALSE)), "1")
}

# Why `py` cannot make hubfn's virtualenv ("" if it can), checked by running it from this R
# session: R's library path can break a Python's ssl (e.g. a pyenv build), so pip could not reach
# the index.
.base_python_problem <- function(py) {
  if (!nzchar(py)) return("not set")
  if (!file.exists(py)) return("does not exist")
  code <- paste(
    "import sys",
    "assert sys.version_info >= (3, 10), 'Python %d.%d is older than 3.10' % sys.version_info[:2]",
    "import ssl, venv, ensurepip",
    "print('ok')", sep = "; ")
  out <- suppressWarnings(system2(py, c("-c", shQuote(code)), stdout = TRUE, stderr = TRUE))
  if (identical(utils::tail(out, 1L), "ok")) return("")
  last <- utils::tail(out[nzchar(out)], 1L)
  if (!length(last)) last <- "it does not run"
  last
}

.pick_base_python <- function(python, fail) {
  candidates <- if (!is.null(python)) path.expand(python)
                else unique(c(Sys.getenv("HUBFN_PYTHON"), unname(Sys.which("python3")),
                              "/usr/bin/python3", "/usr/local/bin/python3"))
  candidates <- candidates[nzchar(candidates)]
  problems <- character()
  for (py in candidates) {
    problem <- .base_python_problem(py)
    if (!nzchar(problem)) return(py)
    problems <- c(problems, paste0("  ", py, ": ", problem))
  }
  fail("No usable Python to make hubfn's virtualenv: it needs Python >= 3.10 with working ssl and venv.\n",
       if (length(problems)) paste0(paste(problems, collapse = "\n"), "\n") else "",
       "Install one (Debian: apt-get install python3 python3-venv) or pass install_hubfn(python = \"/path/to/python3\").")
}
