# Sys.setenv()/Sys.unsetenv() after Python has started reach hubfn (Python's os.environ is a copy
# of the environment taken when Python starts).

# Sets R's environment variables (NULL unsets) and returns a function that puts back the old values
# (and Python's copy of them).
set_env <- function(...) {
  vars <- list(...)
  old <- Sys.getenv(names(vars), unset = NA, names = TRUE)
  for (name in names(vars)) {
    if (is.null(vars[[name]])) Sys.unsetenv(name) else do.call(Sys.setenv, vars[name])
  }
  function() {
    for (name in names(old)) {
      if (is.na(old[[name]])) Sys.unsetenv(name) else do.call(Sys.setenv, as.list(old[name]))
    }
    hubfn:::.sync_env()
  }
}

py_env <- function(name) {
  os <- reticulate::import("os", convert = FALSE)
  reticulate::py_to_r(os$environ$get(name))
}

test_that("Sys.setenv(TFHUB_CACHE_DIR) after Python started moves the cache", {
  skip_if_no_hubfn()
  skip_if_not(hubfn_has("cache_dir"), "hubfn cache functions (issue 3) have not landed")
  fixture_root()  # starts Python and gives it this run's cache
  expect_true(reticulate::py_available(initialize = FALSE))
  new_cache <- tempfile("hubfn-r-moved-cache-")
  restore <- set_env(TFHUB_CACHE_DIR = new_cache, HUBFN_OFFLINE = NULL)
  on.exit(restore(), add = TRUE)
  expect_false(identical(py_env("TFHUB_CACHE_DIR"), new_cache))  # Python has not seen it yet
  expect_equal(cache_dir(), normalizePath(new_cache, mustWork = FALSE))
  expect_equal(py_env("TFHUB_CACHE_DIR"), new_cache)
  restore()
  expect_equal(cache_dir(), normalizePath(file.path(fixture_root(), "cache"), mustWork = FALSE))
})

test_that("HUBFN_OFFLINE set after Python started stops downloads; unset, they work again", {
  skip_if_no_hubfn()
  skip_if_not(hubfn_has("pack_module"), "hubfn.pack_module (issue 4) has not landed")
  skip_if_not(hubfn_has("cache_list"), "hubfn cache functions (issue 3) have not landed")
  fruit_dir()
  packs <- tempfile("hubfn-r-offline-packs-")  # the server packs a module here when it is fetched
  srv <- hub_serve(file.path(fixture_root(), "modules"), pack_dir = packs)
  on.exit(hub_serve_stop(srv), add = TRUE)
  url <- paste0(srv$url, "/acme/fruit/1")
  new_cache <- tempfile("hubfn-r-offline-cache-")
  restore <- set_env(TFHUB_CACHE_DIR = new_cache, HUBFN_OFFLINE = "1", HUBFN_RETRIES = "0")
  on.exit(restore(), add = TRUE)

  e <- tryCatch(hub_load(url), error = function(e) e)
  expect_s3_class(e, c("hubfn_offline_error", "hubfn_cache_error", "hubfn_error", "error", "condition"),
                  exact = TRUE)
  expect_match(conditionMessage(e), "HUBFN_OFFLINE (or offline = TRUE) says to stay offline", fixed = TRUE)
  expect_match(conditionMessage(e), new_cache, fixed = TRUE)  # the new cache, not the old one
  expect_error(hub_resolve(url), class = "hubfn_offline_error")
  expect_error(module_signatures(url), class = "hubfn_offline_error")
  expect_error(hub_module(url), class = "hubfn_offline_error")
  # nothing was downloaded: the server packed nothing and neither cache has the module
  expect_length(list.files(packs, recursive = TRUE), 0L)
  expect_false(url %in% cache_list()$handle)
  expect_equal(py_env("HUBFN_RETRIES"), "0")

  Sys.unsetenv(c("HUBFN_OFFLINE", "HUBFN_RETRIES"))
  m <- hub_load(url)
  expect_null(py_env("HUBFN_OFFLINE"))
  expect_null(py_env("HUBFN_RETRIES"))  # HUBFN_* variables unset in R are deleted in Python too
  expect_equal(m(c(1, 0)), matrix(c(1.5, 1.5), 1))
  expect_true(length(list.files(packs, recursive = TRUE)) > 0)
  expect_true(url %in% cache_list()$handle)
  expect_true(startsWith(normalizePath(hub_resolve(url)), normalizePath(new_cache)))

  # offline again, the cached module still loads
  Sys.setenv(HUBFN_OFFLINE = "1")
  expect_s3_class(hub_load(url), "hubfn_module")
  restore()
  expect_null(py_env("HUBFN_OFFLINE"))
  expect_false(url %in% cache_list()$handle)  # back in this run's cache
})

test_that("syncing the environment is one cheap Python call, a no-op before Python starts", {
  skip_if_no_hubfn()
  fixture_root()
  restore <- set_env(HTTPS_PROXY = "http://proxy.invalid:3128", no_proxy = NULL)
  on.exit(restore(), add = TRUE)
  expect_true(hubfn:::.sync_env())
  expect_equal(py_env("HTTPS_PROXY"), "http://proxy.invalid:3128")
  expect_null(py_env("no_proxy"))
  restore()
  expect_null(py_env("HTTPS_PROXY"))
  skip_if_hubfn_not_installed()
  skip_if_not_installed("callr")
  started <- callr::r(function() {
    library(hubfn)
    c(hubfn:::.sync_env(), reticulate::py_available(initialize = FALSE))
  })
  expect_equal(started, c(FALSE, FALSE))
})
