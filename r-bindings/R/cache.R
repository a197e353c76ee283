# The download cache of http(s) modules (shared with the tensorflow_hub Python package).

#' The module cache
#'
#' Modules loaded by URL are downloaded once into the cache directory (`TFHUB_CACHE_DIR`, else
#' `<temp>/tfhub_modules`), shared with the `tensorflow_hub` Python package.
#' `cache_dir()` gives the directory; `cache_list()` its entries (handle, size, date, whether
#' verified); `cache_verify()` checks entries (all, or the one of `handle`); `cache_remove()`
#' removes the entry of `handle`, or every entry with `all = TRUE`. With `cache_dir =`, these three
#' work on that directory instead (as `hub_load(handle, cache_dir = )` fills it).
#'
#' @section Environment variables: hubfn reads its settings from environment variables when it
#'   uses them: `TFHUB_CACHE_DIR`, `HUBFN_OFFLINE` (`1`/`true`: use the cache only, never the
#'   network; a module not in the cache is an error of class `hubfn_offline_error`),
#'   `TFHUB_DOWNLOAD_PROGRESS`, `TFHUB_DISABLE_CERT_VALIDATION`, every `HUBFN_*` variable
#'   (`HUBFN_CONNECT_TIMEOUT`, `HUBFN_READ_TIMEOUT`, `HUBFN_RETRIES`, `HUBFN_BACKOFF`,
#'   `HUBFN_MAX_RETRY_AFTER`, `HUBFN_MAX_MODULE_BYTES`, `HUBFN_MAX_MODULE_FILES`,
#'   `HUBFN_MAX_RATIO`), the proxy variables (`http_proxy`, `https_proxy`, `no_proxy`,
#'   `all_proxy` and their upper-case forms) and the CA bundle variables (`REQUESTS_CA_BUNDLE`,
#'   `CURL_CA_BUNDLE`, `SSL_CERT_FILE`).
#'
#'   Python copies the environment once, when it starts, so by itself it would not see a later
#'   [Sys.setenv()] or [Sys.unsetenv()]. hubfn's R functions that may resolve or download a
#'   module or use the cache ([hub_load()], [hub_module()], [hub_resolve()],
#'   [module_signatures()] given a handle, [hub_layer()] and the cache functions) therefore first
#'   copy R's current values of these variables into Python's `os.environ` (setting or deleting
#'   them), so `Sys.setenv(TFHUB_CACHE_DIR = dir, HUBFN_OFFLINE = "1")` takes effect at the next
#'   such call. Calling a loaded module ([module_apply()]) does not. Code that reaches hubfn's
#'   Python functions directly through reticulate does not either: set `os.environ` there.
#'
#'   The variables are defaults. The arguments `cache_dir`, `offline`, `timeout`, `token` and
#'   `settings` (see [hub_load()] and [hub_settings()]) override them for one call, without
#'   changing any variable in R or Python: `hub_load(url, cache_dir = dir, offline = TRUE)`.
#'
#' @param handle A module URL; `NULL` for every entry.
#' @param all Remove every entry.
#' @param cache_dir The cache directory to work on (one path; `~` is expanded); `NULL` for the
#'   default, `cache_dir()`.
#' @param deep `cache_verify()`: also read every file against the content hash recorded when it was
#'   downloaded, and report files that did not come from the archive.
#' @return `cache_dir()`: a path. `cache_list()`, `cache_verify()`, `cache_remove()`: what hubfn
#'   returns, as R values (a data frame when the entries are records with the same fields).
#' @examples
#' \dontrun{
#' cache_dir()
#' cache_list()
#' cache_verify()
#' cache_remove("https://example.com/acme/fruit/1")
#' cache_list(cache_dir = "~/hub-cache")
#' }
#' @name cache
NULL

#' @rdname cache
#' @export
cache_dir <- function() {
  .sync_env()
  .plain(.py_call(.hubfn_fn("cache_dir")()))
}

#' @rdname cache
#' @export
cache_list <- function(cache_dir = NULL) {
  dir <- .as_cache_dir(cache_dir, sys.call())
  .sync_env()
  .records(.plain(.py_call(.hubfn_fn("cache_list")(cache_dir = dir))))
}

#' @rdname cache
#' @export
cache_verify <- function(handle = NULL, deep = FALSE, cache_dir = NULL) {
  dir <- .as_cache_dir(cache_dir, sys.call())
  .sync_env()
  .records(.plain(.py_call(.hubfn_fn("cache_verify")(handle = handle, deep = isTRUE(deep), cache_dir = dir))))
}

#' @rdname cache
#' @export
cache_remove <- function(handle = NULL, all = FALSE, cache_dir = NULL) {
  dir <- .as_cache_dir(cache_dir, sys.call())
  .sync_env()
  invisible(.records(.plain(.py_call(.hubfn_fn("cache_remove")(handle = handle, all = isTRUE(all),
                                                               cache_dir = dir)))))
}

# Python values -> plain R values: attrs classes and dataclasses become named lists, paths strings.
.plain <- function(x) {
  if (!inherits(x, "python.builtin.object")) {
    return(x)
  }
  h <- .py_helpers()
  reticulate::py_to_r(h$plain(x))
}

# A list of records with the same scalar fields -> a data frame.
.records <- function(x) {
  if (is.list(x) && length(x) && all(vapply(x, is.list, TRUE))) {
    fields <- names(x[[1]])
    same <- !is.null(fields) && all(vapply(x, function(r) identical(names(r), fields), TRUE))
    scalar <- all(vapply(x, function(r) all(vapply(r, function(v) is.null(v) || (is.atomic(v) && length(v) == 1L), TRUE)), TRUE))
    if (same && scalar) {
      cols <- lapply(fields, function(f) unlist(lapply(x, function(r) if (is.null(r[[f]])) NA else r[[f]])))
      names(cols) <- fields
      return(as.data.frame(cols, stringsAsFactors = FALSE))
    }
  }
  if (is.list(x) && length(x) == 0L) {
    return(data.frame())
  }
  x
}
