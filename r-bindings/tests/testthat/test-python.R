# Choosing Python lazily (issue item 8), and what library(hubfn) says without one.

test_that("HUBFN_PYTHON chooses the Python when RETICULATE_PYTHON is unset, at first use", {
  skip_if_no_hubfn()
  skip_if_not_installed("callr")
  skip_if_hubfn_not_installed()
  want <- reticulate::py_config()$python
  got <- callr::r(function() {
    Sys.unsetenv("RETICULATE_PYTHON")  # reticulate takes an empty value for a path
    loadNamespace("hubfn")
    started_by_load <- reticulate::py_available(initialize = FALSE)
    c(started_by_load, hubfn::hubfn_available(), reticulate::py_config()$python)
  }, env = c(callr::rcmd_safe_env(), HUBFN_PYTHON = want, RETICULATE_PYTHON = ""))
  expect_equal(got[[1]], "FALSE")  # loading the package starts no Python
  expect_equal(got[[2]], "TRUE")
  expect_equal(normalizePath(got[[3]]), normalizePath(want))
})

test_that("loading hubfn does not pin Python: another package's choice before first use wins", {
  skip_if_no_hubfn()
  skip_if_not_installed("callr")
  skip_if_hubfn_not_installed()
  want <- reticulate::py_config()$python
  got <- callr::r(function(want) {
    Sys.unsetenv("RETICULATE_PYTHON")
    library(hubfn)
    reticulate::use_python(want, required = TRUE)  # as another package (or the user) would
    c(reticulate::py_config()$python, hubfn::hubfn_available())
  }, args = list(want = want), env = c(callr::rcmd_safe_env(), HUBFN_PYTHON = "/nonexistent/python",
                                       RETICULATE_PYTHON = ""))
  expect_equal(normalizePath(got[[1]]), normalizePath(want))
  expect_equal(got[[2]], "TRUE")
})

test_that("library(hubfn) without a usable Python says so in one line with the fix", {
  skip_if_not_installed("callr")
  skip_if_hubfn_not_installed()
  empty <- tempfile("no-venvs-")
  dir.create(empty)
  got <- callr::r(function() {
    Sys.unsetenv("RETICULATE_PYTHON")
    msgs <- character()
    withCallingHandlers(library(hubfn), packageStartupMessage = function(m) {
      msgs <<- c(msgs, conditionMessage(m)); invokeRestart("muffleMessage")
    })
    list(msgs = msgs, started = reticulate::py_available(initialize = FALSE))
  }, env = c(callr::rcmd_safe_env(), RETICULATE_PYTHON = "", HUBFN_PYTHON = "", WORKON_HOME = empty,
             RETICULATE_VIRTUALENV_ROOT = empty))
  expect_length(got$msgs, 1L)
  expect_length(strsplit(sub("\n$", "", got$msgs), "\n")[[1]], 1L)
  expect_match(got$msgs, "no Python with the hubfn package found; run hubfn::install_hubfn() once", fixed = TRUE)
  expect_false(got$started)
  # a RETICULATE_PYTHON that does not exist is named
  got <- callr::r(function() {
    tryCatch({ library(hubfn); "no message" }, packageStartupMessage = function(m) conditionMessage(m))
  }, env = c(callr::rcmd_safe_env(), RETICULATE_PYTHON = "/nonexistent/python3"))
  expect_match(got, "RETICULATE_PYTHON=/nonexistent/python3 does not exist; run hubfn::install_hubfn()", fixed = TRUE)
})

test_that("export_savedmodel works with the tensorflow package's generic, in either attach order", {
  skip_if_not_installed("callr")
  skip_if_hubfn_not_installed()
  # A stand-in for the R tensorflow package (not installable here): just its S3 generic and one
  # method, the shape of tensorflow::export_savedmodel().
  src <- file.path(tempfile("fake-tf-"), "tensorflow")
  dir.create(file.path(src, "R"), recursive = TRUE)
  writeLines(c("Package: tensorflow", "Version: 0.0.1", "Title: Stand-in", "Description: Stand-in.",
               "License: MIT", "Author: x", "Maintainer: x <x@example.com>"), file.path(src, "DESCRIPTION"))
  writeLines(c("export(export_savedmodel)", "S3method(export_savedmodel, tf_thing)"), file.path(src, "NAMESPACE"))
  writeLines(c("export_savedmodel <- function(object, export_dir_base, ...) UseMethod('export_savedmodel')",
               "export_savedmodel.tf_thing <- function(object, export_dir_base, ...) paste('tensorflow exported to', export_dir_base)"),
             file.path(src, "R", "tf.R"))
  lib <- tempfile("fake-tf-lib-")
  dir.create(lib)
  out <- system2(file.path(R.home("bin"), "R"), c("CMD", "INSTALL", "--no-test-load", "-l", shQuote(lib), shQuote(src)),
                 stdout = TRUE, stderr = TRUE)
  skip_if(!dir.exists(file.path(lib, "tensorflow")), paste(out, collapse = "\n"))
  got <- callr::r(function(lib) {
    .libPaths(c(lib, .libPaths()))
    library(hubfn)
    library(tensorflow)  # attached last: its generic masks hubfn's
    ns <- asNamespace("tensorflow")
    registered <- identical(utils::getS3method("export_savedmodel", "hubfn_module", envir = ns),
                            hubfn:::.tf_export_savedmodel)
    thing <- structure(list(), class = "tf_thing")
    c(registered = registered,
      tf_generic = export_savedmodel(thing, "dir1"),         # tensorflow's generic, its method
      via_hubfn = hubfn::export_savedmodel(thing, "dir2"))   # hubfn's generic hands it to tensorflow
  }, args = list(lib = lib))
  expect_equal(unname(got[["registered"]]), "TRUE")
  expect_equal(unname(got[["tf_generic"]]), "tensorflow exported to dir1")
  expect_equal(unname(got[["via_hubfn"]]), "tensorflow exported to dir2")
})

test_that("without Python the tests fail in CI (CI=true) and are skipped elsewhere", {
  skip_if_not_installed("callr")
  skip_if_hubfn_not_installed()
  helper <- normalizePath(test_path("helper-hubfn.R"))
  run <- function(ci) callr::r(function(helper) {
    dir <- tempfile("ci-tests-")
    dir.create(dir)
    file.copy(helper, file.path(dir, "helper-hubfn.R"))
    writeLines('test_that("needs Python", { skip_if_no_hubfn(); expect_true(TRUE) })', file.path(dir, "test-one.R"))
    suppressPackageStartupMessages(library(hubfn))
    r <- as.data.frame(testthat::test_dir(dir, reporter = "silent", stop_on_failure = FALSE, load_package = "none"))
    c(failed = sum(r$failed) + sum(r$error), skipped = sum(r$skipped), passed = sum(r$passed))
  }, args = list(helper = helper), env = c(callr::rcmd_safe_env(), RETICULATE_PYTHON = "/nonexistent/python3",
                                           HUBFN_PYTHON = "", CI = ci))
  expect_equal(run("true")[["failed"]], 1)
  local <- run("")
  expect_equal(local[["failed"]], 0)
  expect_equal(local[["skipped"]], 1)
})

test_that("hubfn_has() finds hubfn's functions, and a missing one is a hubfn_unavailable_error", {
  skip_if_no_hubfn()
  for (name in c("cache_dir", "cache_list", "cache_verify", "cache_remove", "pack_module", "hub_layer")) {
    expect_true(hubfn_has(name), info = name)
  }
  expect_false(hubfn_has("no_such_function"))
  expect_error(hubfn:::.hubfn_fn("no_such_function"), class = "hubfn_unavailable_error",
               regexp = "has no `no_such_function`; upgrade it")
  expect_true(is.function(hubfn:::.hubfn_fn("cache_list")))
})
