#' The module cache
#'
#' Modules loaded by URL are downloaded once into the cache directory (`TFHUB_CACHE_DIR`, else
#' `<temp>/tfhub_modules`), shared with the `tensorflow_hub` Python package. `cache_dir()` is the
#' directory; `cache_list()` its entries (handle, size, date, verified); `cache_verify()` checks them
#' (or the entry of `handle`); `cache_remove()` removes the entry of `handle`, or all with `all = TRUE`.
#' The environment variables hubfn reads (`TFHUB_CACHE_DIR`, `HUBFN_*`, proxies, CA bundles) take R's
#' current values at each call that may fetch or use the cache (the R guide, `docs/guide/r.md`, lists them).
#'
#' @param handle A module URL; `NULL` for every entry.
#' @param all Remove every entry.
#' @param cache_dir The cache directory to work on (`~` is expanded); `NULL`: `cache_dir()`.
#' @param deep `cache_verify()`: also read every file against the content hash recorded at download, and
#'   report files that did not come from the archive.
#' @return `cache_dir()`: a path. The others: hubfn's answer as R values (a data frame of records).
#' @name cache
NULL

#' @rdname cache
#' @export
cache_dir <- function() .cache_call("cache_dir")

#' @rdname cache
#' @export
cache_list <- function(cache_dir = NULL) .cache_call("cache_list", cache_dir = .as_cache_dir(cache_dir, sys.call()))

#' @rdname cache
#' @export
cache_verify <- function(handle = NULL, deep = FALSE, cache_dir = NULL) {
  .cache_call("cache_verify", handle = handle, deep = isTRUE(deep), cache_dir = .as_cache_dir(cache_dir, sys.call()))
}

#' @rdname cache
#' @export
cache_remove <- function(handle = NULL, all = FALSE, cache_dir = NULL) {
  invisible(.cache_call("cache_remove", handle = handle, all = isTRUE(all),
                        cache_dir = .as_cache_dir(cache_dir, sys.call())))
}

.cache_call <- function(name, ...) {
  .sync_env()
  x <- reticulate::py_to_r(reticulate::py_call(.py_helper("records"), .py_call(.hubfn_fn(name)(...), sys.call(-1L))))
  if (!is.list(x) || is.null(x$columns)) return(if (identical(x, list())) data.frame() else x)
  as.data.frame(lapply(x$columns, function(v) unlist(lapply(v, function(e) if (is.null(e)) NA else e))),
                stringsAsFactors = FALSE)  # hubfn_r_helpers.records: a list of records as columns
}
