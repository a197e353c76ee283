# install_hubfn() (issue item 1): the Python it picks is checked, it installs the hubfn sources
# bundled with this R package into an empty virtualenv root, and a failure leaves nothing behind.
# The full install downloads TensorFlow from PyPI (minutes); HUBFN_TEST_INSTALL=0 skips it while
# iterating, never in CI.

bundled_sources <- function() system.file("python", "hubfn-src", package = "hubfn")

skip_unless_install_test <- function() {
  ci <- tolower(Sys.getenv("CI")) %in% c("true", "1", "yes")
  if (!ci && identical(Sys.getenv("HUBFN_TEST_INSTALL"), "0")) skip("HUBFN_TEST_INSTALL=0")
  if (!nzchar(bundled_sources())) {
    if (ci) fail("this build of the R package carries no hubfn sources (build it with r-bindings/build.sh)")
    skip("no bundled hubfn sources (package not built with r-bindings/build.sh)")
  }
}

# A real Python whose `import ssl` fails, as a pyenv Python can under R's library path.
python_without_ssl <- function() {
  dir <- tempfile("no-ssl-")
  dir.create(dir)
  writeLines("raise ImportError('ssl is broken here (test)')", file.path(dir, "ssl.py"))
  real <- Sys.which("python3")
  if (!nzchar(real)) real <- "/usr/bin/python3"
  exe <- file.path(dir, "python3")
  writeLines(c("#!/bin/sh", sprintf("PYTHONPATH='%s' exec '%s' \"$@\"", dir, real)), exe)
  Sys.chmod(exe, "755")
  exe
}

test_that("the Python that makes the virtualenv is checked for ssl and venv, not trusted", {
  skip_on_os("windows")
  bad <- python_without_ssl()
  expect_match(hubfn:::.base_python_problem(bad), "ssl is broken here")
  expect_equal(hubfn:::.base_python_problem(file.path(tempdir(), "no-python")), "does not exist")
  e <- tryCatch(install_hubfn(python = bad, envname = file.path(tempdir(), "never-made")), error = function(e) e)
  expect_s3_class(e, "hubfn_install_error")
  expect_match(conditionMessage(e), "No usable Python", fixed = TRUE)
  expect_match(conditionMessage(e), paste0(bad, ": ImportError: ssl is broken here"), fixed = TRUE)
  expect_match(conditionMessage(e), "pass install_hubfn(python = ", fixed = TRUE)
  expect_false(dir.exists(file.path(tempdir(), "never-made")))
})

test_that("a source checkout is copied before pip builds it: nothing is written into it", {
  skip_unless_install_test()
  src <- bundled_sources()
  before <- list.files(src, recursive = TRUE, all.files = TRUE)
  # install_hubfn.py's hubfn_source, run by the Python install_hubfn() picks: (requirement, label, the copy's dir)
  code <- sprintf("import sys; sys.path.insert(0, %s); import install_hubfn as i; print(*i.hubfn_source(%s), sep='\\n')",
                  encodeString(system.file("python", package = "hubfn"), quote = "'"), encodeString(src, quote = "'"))
  got <- system2(hubfn:::.pick_base_python(NULL, stop), c("-c", shQuote(code)), stdout = TRUE)
  on.exit(unlink(got[[3]], recursive = TRUE))
  expect_length(got, 3L)
  expect_false(startsWith(normalizePath(got[[1]]), normalizePath(src)))
  expect_true(startsWith(normalizePath(got[[1]]), normalizePath(got[[3]])))
  expect_true(file.exists(file.path(got[[1]], "pyproject.toml")))
  expect_true(file.exists(file.path(got[[1]], "hubfn", "__init__.py")))
  expect_identical(list.files(src, recursive = TRUE, all.files = TRUE), before)
})

test_that("install_hubfn() with no arguments installs hubfn into an empty virtualenv root", {
  skip_unless_install_test()
  root <- tempfile("hubfn-venvs-")
  dir.create(root)
  old <- Sys.getenv(c("WORKON_HOME", "RETICULATE_VIRTUALENV_ROOT"), unset = NA)
  Sys.setenv(WORKON_HOME = root, RETICULATE_VIRTUALENV_ROOT = root)
  on.exit({
    for (n in names(old)) if (is.na(old[[n]])) Sys.unsetenv(n) else do.call(Sys.setenv, as.list(old[n]))
    unlink(root, recursive = TRUE)
  }, add = TRUE)
  src_before <- list.files(bundled_sources(), recursive = TRUE, all.files = TRUE)

  secs <- system.time(exe <- install_hubfn())[["elapsed"]]
  log <- Sys.getenv("HUBFN_R_INSTALL_LOG")
  if (nzchar(log)) writeLines(sprintf("install_hubfn() into an empty virtualenv root: %.0f s", secs), log)

  expect_equal(normalizePath(exe), normalizePath(file.path(root, "r-hubfn", "bin", "python")))
  got <- system2(exe, c("-c", shQuote("import hubfn, numpy, sklearn; print(hubfn.__version__, numpy.__version__)")),
                 stdout = TRUE)
  expect_equal(strsplit(got, " ")[[1]][1], as.character(utils::packageVersion("hubfn")))  # versions agree
  expect_true(numeric_version(strsplit(got, " ")[[1]][2]) < "2")
  # hubfn (not an editable link) is in the env; no egg-info or build dir in the bundled sources
  expect_true(hubfn:::.venv_has_hubfn(file.path(root, "r-hubfn")))
  expect_identical(list.files(bundled_sources(), recursive = TRUE, all.files = TRUE), src_before)

  # library(hubfn) in a fresh R finds this env (no RETICULATE_PYTHON) and says nothing
  skip_if_not_installed("callr")
  out <- callr::r(function() {
    Sys.unsetenv("RETICULATE_PYTHON")
    msgs <- character()
    withCallingHandlers(library(hubfn), packageStartupMessage = function(m) {
      msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage")
    })
    c(length(msgs), hubfn_available(), reticulate::py_config()$python)
  }, env = c(callr::rcmd_safe_env(), RETICULATE_PYTHON = "", HUBFN_PYTHON = "", WORKON_HOME = root,
             RETICULATE_VIRTUALENV_ROOT = root))
  expect_equal(out[[1]], "0")
  expect_equal(out[[2]], "TRUE")
  expect_equal(normalizePath(out[[3]]), normalizePath(exe))
})

test_that("a failed install removes the half-made virtualenv and says what to do", {
  skip_unless_install_test()
  env <- file.path(tempfile("hubfn-venvs-"), "r-hubfn-broken")
  e <- tryCatch(install_hubfn(envname = env, extra_packages = file.path(tempdir(), "no-such", "package")),
                error = function(e) e)
  expect_s3_class(e, "hubfn_install_error")
  expect_match(conditionMessage(e), "pip install hubfn (from ", fixed = TRUE)
  expect_match(conditionMessage(e), "(pins: numpy<2", fixed = TRUE)  # R's pins, from python/constraints.txt
  expect_match(conditionMessage(e), paste0("The half-made virtualenv ", env, " was removed."), fixed = TRUE)
  expect_match(conditionMessage(e), "run install_hubfn() again", fixed = TRUE)
  expect_false(dir.exists(env))
})
