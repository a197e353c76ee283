# Per-call fetch settings, checked in R (a message names the R argument), as hubfn's Python takes them.

# What kind of value x is, for messages: never its contents (it may be a token); .show(x): x itself
# when it is one value (arguments that are not tokens).
.what_kind <- function(x) {
  if (is.null(x)) return("NULL")
  if (is.atomic(x)) return(if (length(x) == 1L && is.na(x)) "NA" else paste0(.what_r(x), " of length ", length(x)))
  paste0("an R ", class(x)[1])
}
.show <- function(x) if (is.atomic(x) && length(x) == 1L) deparse(as.vector(x)) else .what_kind(x)

.arg_error <- function(call, ...) stop(.hubfn_error("input_error", paste0(...), call))

# Stop with "`name` must be <wants>, not <x>." unless `ok`.
.need <- function(ok, call, name, wants, x) {
  if (!isTRUE(ok)) .arg_error(call, "`", name, "` must be ", wants, ", not ", .show(x), ".")
}

.one <- function(x, is) is(x) && length(x) == 1L && !is.na(x)

# A token (for the handle's own host), or tokens by host, c(host = "token") -> a Python dict; a message
# never shows one.
.as_token <- function(x, call = NULL) {
  bad <- function(...) .arg_error(call, "`token` ", ..., " (the value is not shown).")
  one <- function(v) .one(v, is.character) && nzchar(trimws(v))
  hosts <- names(x)
  if (is.null(hosts)) {
    if (!one(x)) bad("must be a single non-empty string (the token for the handle's host), or a named character vector ",
                     "or list of tokens by host, c(host = \"token\"); got ", .what_kind(x))
    return(as.vector(x))
  }
  if (!(is.character(x) || is.list(x)) || !length(x)) {
    bad("given with names must be a character vector or list of tokens by host; got ", .what_kind(x))
  }
  if (anyNA(hosts) || any(!nzchar(trimws(hosts)))) {
    bad("given by host must name every element by its host, e.g. c(\"hub.example.com\" = \"token\")")
  }
  if (anyDuplicated(hosts)) bad("names the host '", hosts[anyDuplicated(hosts)], "' more than once")
  for (i in seq_along(x)) if (!one(x[[i]])) bad("for host '", hosts[[i]], "' must be a single non-empty string")
  reticulate::py_dict(as.list(hosts), lapply(unname(as.list(x)), as.vector), convert = FALSE)
}

.as_flag <- function(x, name, call) {
  .need(is.null(x) || .one(x, is.logical), call, name, "TRUE or FALSE (or NULL for the default)", x)
  if (!is.null(x)) as.vector(x)
}

.as_cache_dir <- function(x, call = NULL) {
  .need(is.null(x) || .one(x, is.character) && nzchar(trimws(x)), call, "cache_dir",
        "one directory path (a character string)", x)
  if (!is.null(x)) path.expand(as.vector(x))
}

# The fetch (and, given safe_mode, safe-mode) arguments of one call, checked, as keyword arguments of
# hubfn's Python functions (NULL: `settings`, `hub` or the environment decides); c(connect, read) a tuple.
.fetch_args <- function(cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL, settings = NULL, hub = NULL,
                        safe_mode = NULL, allow_ops = NULL, call = sys.call(-1L)) {
  .need(is.null(settings) || inherits(settings, "hubfn.settings.Settings"), call, "settings", "a value from hub_settings()",
        settings)
  .need(is.null(hub) || inherits(hub, "hubfn.resolve.Hub"), call, "hub", "a value from hub_hub()", hub)
  .need(is.null(timeout) || is.numeric(timeout) && length(timeout) %in% 1:2 && all(is.finite(timeout) & timeout > 0),
        call, "timeout", "a positive number of seconds, or c(connect, read) seconds", timeout)
  .need(is.null(allow_ops) || is.character(allow_ops) && !anyNA(allow_ops), call, "allow_ops",
        "a character vector of op type names, e.g. c(\"WriteFile\")", allow_ops)
  if (length(timeout) == 2L) timeout <- reticulate::tuple(as.double(timeout[[1]]), as.double(timeout[[2]]))
  c(list(hub = hub, settings = settings, cache_dir = .as_cache_dir(cache_dir, call),
         offline = .as_flag(offline, "offline", call), timeout = if (is.numeric(timeout)) as.double(timeout) else timeout,
         token = if (!is.null(token)) .as_token(token, call)),
    if (!missing(safe_mode)) list(safe_mode = .as_flag(safe_mode, "safe_mode", call),  # functions that load
                                  allow_ops = if (!is.null(allow_ops)) as.list(allow_ops)))
}

#' Fetch settings for one or more calls
#'
#' The Python `hubfn.Settings` a load uses, for `settings =` of [hub_load()] and the like (arguments
#' named in that call replace its values). What is not given comes from the environment variables as
#' they are now. Printing it never shows a token.
#'
#' @inheritParams hub_load
#' @param token As in [hub_load()] (a single string: for the host of the handle it is used with).
#' @param token_over_http `TRUE`: send tokens to `http://` URLs too (else `https://` only); `NULL`:
#'   `HUBFN_TOKEN_OVER_HTTP`.
#' @return A `hubfn.settings.Settings` Python object (immutable).
#' @examples
#' \dontrun{
#' s <- hub_settings(cache_dir = "~/hub-cache", timeout = c(5, 30), token = Sys.getenv("HUB_TOKEN"))
#' m <- hub_load("https://hub.example.com/acme/fruit/1", settings = s)
#' }
#' @export
hub_settings <- function(cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL, token_over_http = NULL,
                         safe_mode = NULL, allow_ops = NULL) {
  args <- .fetch_args(cache_dir, offline, timeout, token, safe_mode = safe_mode, allow_ops = allow_ops, call = sys.call())
  args$settings <- args$hub <- NULL
  args$token_over_http <- .as_flag(token_over_http, "token_over_http", sys.call())
  .sync_env()  # the environment fills in the rest: R's current values
  .py_call(do.call(.hubfn()$Settings$make, args))
}

#' A hub: settings and resolvers, for one or more calls
#'
#' The Python `hubfn.Hub`: settings and the resolvers that turn handles into module directories, for
#' `hub =` of [hub_load()] and the like (`settings` and arguments named there replace what it holds).
#'
#' @param settings A value from [hub_settings()]; `NULL`: one made from `...`.
#' @param resolvers A list of Python resolvers (with `supports(handle, settings)` and `resolve(handle,
#'   settings)`), asked in order; `NULL`: hubfn's own.
#' @param ... Arguments of [hub_settings()], when `settings` is not given.
#' @return A `hubfn.resolve.Hub` Python object (immutable).
#' @examples
#' \dontrun{
#' h <- hub_hub(cache_dir = "~/hub-cache", offline = TRUE)
#' m <- hub_load("https://hub.example.com/acme/fruit/1", hub = h)
#' }
#' @export
hub_hub <- function(settings = NULL, resolvers = NULL, ...) {
  if (!is.null(settings) && ...length()) .arg_error(sys.call(), "Pass `settings` or hub_settings()' arguments, not both.")
  settings <- .fetch_args(settings = if (is.null(settings)) hub_settings(...) else settings, call = sys.call())$settings
  .py_call(.hubfn()$Hub$make(resolvers = if (!is.null(resolvers)) as.list(resolvers), settings = settings))
}

#' @method print hubfn.settings.Settings
#' @export
print.hubfn.settings.Settings <- function(x, ...) {  # hubfn_r_helpers.settings_text: tokens never shown
  cat(reticulate::py_to_r(reticulate::py_call(.py_helper("settings_text"), x))); invisible(x)
}
