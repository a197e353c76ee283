# Per-call fetch settings (issue 18): cache_dir, offline, timeout, token and settings = hub_settings()
# for one call, against real servers (hub_serve(), and `hubfn serve --token-file` for a private hub);
# nothing global changes.

py_env <- function(name) {
  os <- reticulate::import("os", convert = FALSE)
  reticulate::py_to_r(os$environ$get(name))
}

cache_key <- function(url) {
  reticulate::import("hashlib")$sha1(reticulate::r_to_py(url)$encode("utf-8"))$hexdigest()
}

# A fresh directory path (not created: hubfn makes the cache directory it needs).
new_dir <- function(prefix) tempfile(paste0("hubfn-r-", prefix, "-"))

random_token <- function(prefix) {
  paste0(prefix, "-", paste(sample(c(letters, LETTERS, 0:9), 32, replace = TRUE), collapse = ""))
}

# Serves this run's modules over http on a free port (stop it with hub_serve_stop(hub$server)).
open_hub <- function() {
  fruit_dir()
  packs <- new_dir("settings-packs")
  srv <- hub_serve(file.path(fixture_root(), "modules"), pack_dir = packs)
  list(server = srv, url = paste0(srv$url, "/acme/fruit/1"), packs = packs)
}

# `hubfn serve ROOT --port 0 --token-file FILE` as a subprocess (as tests/test_serve_token.py starts
# it): a private hub answering 401 to any request without a token from FILE. Returns the process,
# the URL it printed (the port it picked) and its log file.
start_private_hub <- function(root, token_file, pack_dir) {
  log <- tempfile("hubfn-r-private-hub-", fileext = ".log")
  p <- processx::process$new(
    reticulate::py_config()$python,
    c("-m", "hubfn", "serve", root, "--port", "0", "--token-file", token_file, "--pack-dir", pack_dir),
    stdout = log, stderr = "2>&1", cleanup = TRUE,
    env = c("current", TF_CPP_MIN_LOG_LEVEL = "2", PYTHONUNBUFFERED = "1"))
  deadline <- Sys.time() + 60
  repeat {
    lines <- if (file.exists(log)) readLines(log, warn = FALSE) else character()
    hit <- regmatches(lines, regexpr("http://127\\.0\\.0\\.1:[0-9]+", lines))
    if (length(hit)) {
      return(list(process = p, url = hit[[1]], log = log))
    }
    if (!p$is_alive() || Sys.time() > deadline) {
      p$kill()
      stop("hubfn serve --token-file did not print its address: ", paste(lines, collapse = "\n"))
    }
    Sys.sleep(0.05)
  }
}

stop_private_hub <- function(hub) {
  if (hub$process$is_alive()) {
    hub$process$interrupt()
    hub$process$wait(5000)
    if (hub$process$is_alive()) hub$process$kill()
  }
}

test_that("hub_load(url, cache_dir = d) downloads into d and changes no environment variable", {
  skip_if_no_hubfn()
  skip_if_not(hubfn_has("Settings"), "hubfn.Settings (issue 18) has not landed")
  hub <- open_hub()
  on.exit(hub_serve_stop(hub$server), add = TRUE)
  url <- hub$url
  d <- new_dir("call-cache")
  default_cache <- cache_dir()
  r_before <- Sys.getenv("TFHUB_CACHE_DIR", unset = NA)
  py_before <- py_env("TFHUB_CACHE_DIR")
  expect_false(is.na(r_before))  # fixture_root() set one: the call must leave it alone

  m <- hub_load(url, cache_dir = d)
  expect_equal(m(c(1, 0)), matrix(c(1.5, 1.5), 1))
  key <- cache_key(url)
  expect_true(key %in% list.files(d))
  expect_true(file.exists(file.path(d, key, "saved_model.pb")))
  expect_false(key %in% list.files(default_cache))
  expect_identical(Sys.getenv("TFHUB_CACHE_DIR", unset = NA), r_before)
  expect_identical(py_env("TFHUB_CACHE_DIR"), py_before)
  expect_identical(cache_dir(), default_cache)

  # the other functions take it too, and find the module there
  expect_equal(normalizePath(hub_resolve(url, cache_dir = d)), normalizePath(file.path(d, key)))
  expect_equal(names(module_signatures(url, cache_dir = d)), names(module_signatures(fruit_dir())))
  expect_s3_class(hub_module(url, cache_dir = d), "hubfn_module")
  entries <- cache_list(cache_dir = d)
  expect_equal(entries$handle, url)
  expect_false(url %in% cache_list()$handle)
  expect_true(all(cache_verify(url, cache_dir = d)$verified))
  expect_length(cache_verify(url), 0L)  # not in the default cache
  expect_length(cache_remove(url, cache_dir = d), 1L)
  expect_false(key %in% list.files(d))
  expect_identical(Sys.getenv("TFHUB_CACHE_DIR", unset = NA), r_before)
  expect_identical(py_env("TFHUB_CACHE_DIR"), py_before)

  # `~` is expanded, as path.expand() does
  home_rel <- file.path("~", basename(new_dir("tilde")))
  expect_equal(reticulate::py_to_r(hub_settings(cache_dir = home_rel)$cache_dir),
               normalizePath(path.expand(home_rel), mustWork = FALSE))
})

test_that("offline = TRUE uses that call's cache only: an offline error before the fetch, a module after", {
  skip_if_no_hubfn()
  skip_if_not(hubfn_has("Settings"), "hubfn.Settings (issue 18) has not landed")
  hub <- open_hub()
  on.exit(hub_serve_stop(hub$server), add = TRUE)
  url <- hub$url
  d <- new_dir("offline-cache")

  e <- tryCatch(hub_load(url, cache_dir = d, offline = TRUE), error = function(e) e)
  expect_s3_class(e, c("hubfn_offline_error", "hubfn_cache_error", "hubfn_error", "error", "condition"),
                  exact = TRUE)
  expect_match(conditionMessage(e), "is not in the cache", fixed = TRUE)
  expect_match(conditionMessage(e), d, fixed = TRUE)
  expect_match(conditionMessage(e), "offline = TRUE", fixed = TRUE)  # in R's words
  expect_error(hub_resolve(url, cache_dir = d, offline = TRUE), class = "hubfn_offline_error")
  expect_error(module_signatures(url, cache_dir = d, offline = TRUE), class = "hubfn_offline_error")
  expect_error(hub_module(url, cache_dir = d, offline = TRUE), class = "hubfn_offline_error")
  offline_settings <- hub_settings(cache_dir = d, offline = TRUE)
  expect_error(hub_load(url, settings = offline_settings), class = "hubfn_offline_error")
  expect_length(list.files(hub$packs, recursive = TRUE), 0L)  # the server was never asked
  expect_null(py_env("HUBFN_OFFLINE"))

  expect_s3_class(hub_load(url, cache_dir = d), "hubfn_module")  # online: fetched into d
  m <- hub_load(url, cache_dir = d, offline = TRUE)
  expect_equal(m(c(1, 0)), matrix(c(1.5, 1.5), 1))
  expect_s3_class(hub_load(url, settings = offline_settings), "hubfn_module")
  expect_true(file.exists(hub_resolve(url, settings = offline_settings)))
  expect_null(py_env("HUBFN_OFFLINE"))
  expect_true(is.na(Sys.getenv("HUBFN_OFFLINE", unset = NA)))

  # the call's argument wins over HUBFN_OFFLINE, and the variable keeps working as before
  Sys.setenv(HUBFN_OFFLINE = "1")
  on.exit({
    Sys.unsetenv("HUBFN_OFFLINE")
    hubfn:::.sync_env()
  }, add = TRUE)
  d2 <- new_dir("offline-false-cache")
  expect_error(hub_load(url, cache_dir = d2), class = "hubfn_offline_error")
  expect_s3_class(hub_load(url, cache_dir = d2, offline = FALSE), "hubfn_module")
  expect_true(cache_key(url) %in% list.files(d2))
  expect_equal(py_env("HUBFN_OFFLINE"), "1")  # the call changed nothing global
})

test_that("token = reaches a private hub (hubfn serve --token-file); without it, a hubfn_access_error", {
  skip_if_no_hubfn()
  skip_if_not(hubfn_has("Settings"), "hubfn.Settings (issue 18) has not landed")
  fruit_dir()
  tok <- random_token("tok")
  token_file <- tempfile("hubfn-r-token-")
  writeLines(tok, token_file)
  hub <- start_private_hub(file.path(fixture_root(), "modules"), token_file, new_dir("private-packs"))
  on.exit(stop_private_hub(hub), add = TRUE)
  url <- paste0(hub$url, "/acme/fruit/1")
  host <- sub("^http://", "", hub$url)
  over_http <- hub_settings(token_over_http = TRUE)  # the hub is plain http on 127.0.0.1

  # no token: HTTP 401, as a hubfn_access_error (a fetch error)
  e <- tryCatch(hub_load(url, cache_dir = new_dir("no-token")), error = function(e) e)
  expect_s3_class(e, "hubfn_access_error")
  expect_s3_class(e, "hubfn_fetch_error")
  expect_match(conditionMessage(e), "HTTP 401", fixed = TRUE)
  # a token over plain http is held back unless asked for, and the message says so
  e <- tryCatch(hub_load(url, cache_dir = new_dir("held-back"), token = tok), error = function(e) e)
  expect_s3_class(e, "hubfn_access_error")
  expect_match(conditionMessage(e), "token_over_http = TRUE", fixed = TRUE)
  expect_false(grepl(tok, conditionMessage(e), fixed = TRUE))
  # a wrong token: refused, and not shown
  wrong <- random_token("wrong")
  e <- tryCatch(hub_load(url, cache_dir = new_dir("wrong"), token = wrong, settings = over_http),
                error = function(e) e)
  expect_s3_class(e, "hubfn_access_error")
  expect_false(grepl(wrong, conditionMessage(e), fixed = TRUE))

  # the token in hub_settings(), used with this handle
  d <- new_dir("private-cache")
  m <- hub_load(url, cache_dir = d, settings = hub_settings(token = tok, token_over_http = TRUE))
  expect_equal(m(c(1, 0)), matrix(c(1.5, 1.5), 1))
  expect_true(cache_key(url) %in% list.files(d))
  # token = in the call, over settings that allow http
  m2 <- hub_load(url, cache_dir = new_dir("call-token"), token = tok, settings = over_http)
  expect_equal(m2(c(1, 0)), matrix(c(1.5, 1.5), 1))
  # tokens by host: a named character vector, or a named list
  by_host <- stats::setNames(tok, host)
  expect_true(dir.exists(hub_resolve(url, cache_dir = new_dir("by-host"), token = by_host, settings = over_http)))
  expect_s3_class(hub_module(url, cache_dir = new_dir("by-host-list"), token = as.list(by_host),
                             settings = over_http), "hubfn_module")
  # a token for another host is not sent to this one
  expect_error(hub_load(url, cache_dir = new_dir("other-host"), token = c("hub.example.com" = tok),
                        settings = over_http), class = "hubfn_access_error")
  expect_equal(names(module_signatures(url, cache_dir = new_dir("sigs"), token = tok, settings = over_http)),
               names(module_signatures(fruit_dir())))
  # a Keras layer fetched with the token: the fetch arguments go to hubfn, not to Keras
  layer <- layer_hub(handle = url, cache_dir = new_dir("layer"), token = tok, settings = over_http)
  expect_s3_class(layer, "hubfn.tune.keras_layer.HubLayer")
  expect_equal(as_r(layer(matrix(c(1, 0), 1))), matrix(c(1.5, 1.5), 1))
  expect_false(grepl(tok, paste(capture.output(print(layer)), collapse = "\n"), fixed = TRUE))
  config <- layer$get_config()  # what a saved model keeps: no token, no settings
  expect_false(any(c("token", "settings") %in% names(config)))
  expect_false(grepl(tok, paste(capture.output(str(config)), collapse = "\n"), fixed = TRUE))

  # nothing global: no token in either environment, and none in the server's log
  expect_true(is.na(Sys.getenv("HUBFN_TOKENS", unset = NA)))
  expect_null(py_env("HUBFN_TOKENS"))
  expect_null(py_env("HUBFN_TOKEN_OVER_HTTP"))
  stop_private_hub(hub)
  log <- paste(readLines(hub$log, warn = FALSE), collapse = "\n")
  expect_match(log, "refused", fixed = TRUE)  # the server saw the refused requests
  expect_false(grepl(tok, log, fixed = TRUE))
  expect_false(grepl(wrong, log, fixed = TRUE))
})

test_that("timeout = seconds or c(connect, read); bad fetch arguments are hubfn_input_errors naming them", {
  skip_if_no_hubfn()
  skip_if_not(hubfn_has("Settings"), "hubfn.Settings (issue 18) has not landed")
  hub <- open_hub()
  on.exit(hub_serve_stop(hub$server), add = TRUE)
  m <- hub_load(hub$url, cache_dir = new_dir("timeout"), timeout = c(1, 2))
  expect_equal(m(c(1, 0)), matrix(c(1.5, 1.5), 1))
  expect_s3_class(hub_load(hub$url, cache_dir = new_dir("timeout-one"), timeout = 5L), "hubfn_module")
  s <- hub_settings(timeout = c(1, 2.5))
  expect_equal(reticulate::py_to_r(s$connect_timeout), 1)
  expect_equal(reticulate::py_to_r(s$read_timeout), 2.5)
  s <- hub_settings(timeout = 7)
  expect_equal(c(reticulate::py_to_r(s$connect_timeout), reticulate::py_to_r(s$read_timeout)), c(7, 7))

  expect_arg_error <- function(expr, name) {
    e <- tryCatch(expr, error = function(e) e)
    expect_s3_class(e, c("hubfn_input_error", "hubfn_error", "error", "condition"), exact = TRUE)
    expect_match(conditionMessage(e), paste0("`", name, "`"), fixed = TRUE)
    e
  }
  for (bad in list(-1, "x", 0, Inf, NA_real_, c(1, NA), c(1, 2, 3), numeric(0), list(1, 2), TRUE)) {
    e <- expect_arg_error(hub_load(fruit_dir(), timeout = bad), "timeout")
  }
  expect_equal(deparse(conditionCall(e)[[1]]), "hub_load")
  expect_arg_error(hub_settings(timeout = -1), "timeout")
  expect_arg_error(hub_resolve(fruit_dir(), timeout = "x"), "timeout")
  expect_arg_error(layer_hub(handle = fruit_dir(), timeout = -1), "timeout")
  for (bad in list(NA, c(TRUE, FALSE), "yes", 1, logical(0))) {
    expect_arg_error(hub_load(fruit_dir(), offline = bad), "offline")
  }
  expect_arg_error(hub_module(fruit_dir(), offline = NA), "offline")
  expect_arg_error(hub_settings(token_over_http = NA), "token_over_http")
  for (bad in list(NA_character_, c("a", "b"), "", 1)) {
    expect_arg_error(hub_load(fruit_dir(), cache_dir = bad), "cache_dir")
  }
  expect_arg_error(cache_list(cache_dir = NA_character_), "cache_dir")
  expect_arg_error(cache_verify(cache_dir = 1), "cache_dir")
  expect_arg_error(cache_remove(all = TRUE, cache_dir = c("a", "b")), "cache_dir")
  secret <- random_token("secret")
  for (bad in list(NA_character_, c(secret, secret), "", 1, list(secret), stats::setNames(list(1), "h"),
                   c(secret, h = secret), stats::setNames(c(secret, secret), c("h", "h")))) {
    e <- expect_arg_error(hub_load(fruit_dir(), token = bad), "token")
    expect_false(grepl(secret, conditionMessage(e), fixed = TRUE))
  }
  expect_arg_error(module_signatures(fruit_dir(), token = NA_character_), "token")
  expect_arg_error(hub_load(fruit_dir(), settings = "x"), "settings")
  expect_arg_error(hub_load(fruit_dir(), settings = list(cache_dir = "x")), "settings")
  # settings = and arguments together: the arguments win
  d <- new_dir("both")
  s <- hub_settings(cache_dir = new_dir("not-this"), offline = TRUE)
  expect_s3_class(hub_load(hub$url, settings = s, cache_dir = d, offline = FALSE), "hubfn_module")
  expect_true(cache_key(hub$url) %in% list.files(d))
})

test_that("hub_settings() builds hubfn's Settings from the environment; printing it never shows a token", {
  skip_if_no_hubfn()
  skip_if_not(hubfn_has("Settings"), "hubfn.Settings (issue 18) has not landed")
  tok <- random_token("tok")
  d <- new_dir("printed")
  s <- hub_settings(cache_dir = d, offline = TRUE, timeout = c(1, 2), token = tok)
  expect_s3_class(s, "hubfn.settings.Settings")
  out <- paste(capture.output(print(s)), collapse = "\n")
  expect_false(grepl(tok, out, fixed = TRUE))
  expect_match(out, "<hubfn settings>", fixed = TRUE)
  expect_match(out, d, fixed = TRUE)
  expect_match(out, "connect 1 s, read 2 s", fixed = TRUE)
  expect_match(out, "offline:         TRUE", fixed = TRUE)
  expect_match(out, "set, for the handle's host (not shown)", fixed = TRUE)
  expect_false(grepl(tok, paste(capture.output(s), collapse = "\n"), fixed = TRUE))  # auto-printing
  expect_false(grepl(tok, paste(capture.output(str(s)), collapse = "\n"), fixed = TRUE))
  expect_false(grepl(tok, reticulate::py_repr(s), fixed = TRUE))
  expect_false(grepl(tok, reticulate::py_str(s), fixed = TRUE))
  printed <- NULL
  capture.output(printed <- withVisible(print(s)))
  expect_false(printed$visible)
  expect_identical(printed$value, s)

  by_host <- hub_settings(token = c("hub.example.com" = tok, "127.0.0.1:8000" = tok))
  out <- paste(capture.output(print(by_host)), collapse = "\n")
  expect_false(grepl(tok, out, fixed = TRUE))
  expect_match(out, "hub.example.com, 127.0.0.1:8000 (not shown)", fixed = TRUE)
  expect_match(out, "token:           none", fixed = TRUE)

  # nothing named: the environment's values, read when hub_settings() is called
  plain <- hub_settings()
  expect_equal(reticulate::py_to_r(plain$cache_dir), cache_dir())
  expect_false(reticulate::py_to_r(plain$offline))
  Sys.setenv(HUBFN_OFFLINE = "1", HUBFN_CONNECT_TIMEOUT = "3")
  on.exit({
    Sys.unsetenv(c("HUBFN_OFFLINE", "HUBFN_CONNECT_TIMEOUT"))
    hubfn:::.sync_env()
  }, add = TRUE)
  from_env <- hub_settings()
  expect_true(reticulate::py_to_r(from_env$offline))
  expect_equal(reticulate::py_to_r(from_env$connect_timeout), 3)
  expect_false(reticulate::py_to_r(hub_settings(offline = FALSE)$offline))
  expect_false(reticulate::py_to_r(plain$offline))  # a value already made does not change
})
