# Per-call fetch settings: the R arguments cache_dir, offline, timeout, token and settings, checked
# and converted here (R idioms -> the Python values hubfn.Settings.make() takes), and hub_settings().
# What a call names wins over the environment (TFHUB_CACHE_DIR, HUBFN_OFFLINE, ...); nothing global
# changes: neither R's environment nor Python's os.environ.

# How an argument value looks, for messages (never used for tokens).
.describe_arg <- function(x) {
  if (is.null(x)) return("NULL")
  if (is.atomic(x) && length(x) == 1L) return(deparse(as.vector(x)))
  if (is.atomic(x)) return(paste0(.what_r(x), " of length ", length(x)))
  paste0("an R ", class(x)[1])
}

.arg_error <- function(message, call) stop(.input_error(message, call))

# cache_dir: one path (`~` expanded), or NULL.
.as_cache_dir <- function(x, call = NULL) {
  if (is.null(x)) return(NULL)
  if (!is.character(x) || length(x) != 1L || is.na(x) || !nzchar(trimws(x))) {
    .arg_error(paste0("`cache_dir` must be one directory path (a character string), not ",
                      .describe_arg(x), "."), call)
  }
  path.expand(as.vector(x))
}

# A single TRUE or FALSE, or NULL (the environment decides).
.as_flag <- function(x, name, call = NULL) {
  if (is.null(x)) return(NULL)
  if (!is.logical(x) || length(x) != 1L || is.na(x)) {
    .arg_error(paste0("`", name, "` must be TRUE or FALSE (or NULL for the default), not ",
                      .describe_arg(x), "."), call)
  }
  as.vector(x)
}

# timeout: seconds (one number) or c(connect, read) -> a Python float or a tuple of two floats.
.as_timeout <- function(x, call = NULL) {
  if (is.null(x)) return(NULL)
  if (!is.numeric(x) || !length(x) %in% 1:2 || anyNA(x) || any(!is.finite(x)) || any(x <= 0)) {
    .arg_error(paste0("`timeout` must be a positive number of seconds, or c(connect, read) seconds; got ",
                      .describe_arg(x), "."), call)
  }
  x <- as.double(x)
  if (length(x) == 1L) x else reticulate::tuple(x[[1]], x[[2]])
}

# token: one string (for the handle's own host), or a named character vector or list
# c(host = "token") (-> a Python dict). Messages never show a token.
.as_token <- function(x, call = NULL) {
  if (is.null(x)) return(NULL)
  bad <- function(what) {
    .arg_error(paste0("`token` ", what, " (the value is not shown)."), call)
  }
  one_string <- function(v) is.character(v) && length(v) == 1L && !is.na(v) && nzchar(trimws(v))
  hosts <- names(x)
  if (is.null(hosts)) {
    if (!one_string(x)) {
      bad(paste0("must be a single non-empty string (the token for the handle's host), or a named ",
                 "character vector or list of tokens by host, c(host = \"token\"); got ", .what_kind(x)))
    }
    return(as.vector(x))
  }
  if (!(is.character(x) || is.list(x)) || !length(x)) {
    bad(paste0("given with names must be a character vector or list of tokens by host; got ", .what_kind(x)))
  }
  if (anyNA(hosts) || any(!nzchar(trimws(hosts)))) {
    bad("given by host must name every element by its host, e.g. c(\"hub.example.com\" = \"token\")")
  }
  if (anyDuplicated(hosts)) {
    bad(paste0("names the host '", hosts[anyDuplicated(hosts)], "' more than once"))
  }
  values <- lapply(seq_along(x), function(i) {
    v <- x[[i]]
    if (!one_string(v)) bad(paste0("for host '", hosts[[i]], "' must be a single non-empty string"))
    as.vector(v)
  })
  reticulate::py_dict(as.list(hosts), values, convert = FALSE)
}

# What kind of value x is, without its contents (for token messages).
.what_kind <- function(x) {
  if (is.null(x)) return("NULL")
  if (is.atomic(x)) {
    return(if (length(x) == 1L && is.na(x)) "NA" else paste0(.what_r(x), " of length ", length(x)))
  }
  paste0("an R ", class(x)[1])
}

# settings: a value from hub_settings(), or NULL.
.as_settings <- function(x, call = NULL) {
  if (is.null(x) || inherits(x, "hubfn.settings.Settings")) return(x)
  .arg_error(paste0("`settings` must be a value from hub_settings(), not ", .describe_arg(x), "."), call)
}

# The fetch arguments of one call, checked, as the keyword arguments of hubfn's Python functions
# (NULL ones become None: the environment, or `settings`, decides).
.fetch_args <- function(cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL, settings = NULL,
                        call = sys.call(-1L)) {
  list(settings = .as_settings(settings, call), cache_dir = .as_cache_dir(cache_dir, call),
       offline = .as_flag(offline, "offline", call), timeout = .as_timeout(timeout, call),
       token = .as_token(token, call))
}

#' Fetch settings for one or more calls
#'
#' Builds hubfn's settings value (the Python `hubfn.Settings`): the cache directory, offline
#' switch, timeouts and tokens a load uses. Pass it as `settings =` to [hub_load()],
#' [hub_module()], [hub_resolve()], [module_signatures()] or [layer_hub()]; arguments named in
#' that call replace the ones in it. What is not given here comes from the environment variables
#' (`TFHUB_CACHE_DIR`, `HUBFN_OFFLINE`, `HUBFN_CONNECT_TIMEOUT`, `HUBFN_READ_TIMEOUT`,
#' `HUBFN_TOKENS`, `HUBFN_TOKEN_OVER_HTTP`, ...), read when `hub_settings()` is called. Nothing
#' global is changed.
#'
#' Printing the value never shows a token: only whether one is set, and for which hosts.
#'
#' @inheritParams hub_load
#' @param token As in [hub_load()]. A single string given here, with no handle, is for the host of
#'   whichever handle the settings are used with.
#' @param token_over_http `TRUE` to send tokens to plain `http://` URLs too (by default only over
#'   `https://`), e.g. for a private hub on a network you trust; `NULL` for
#'   `HUBFN_TOKEN_OVER_HTTP`.
#' @return A `hubfn.settings.Settings` Python object (immutable).
#' @examples
#' \dontrun{
#' s <- hub_settings(cache_dir = "~/hub-cache", timeout = c(5, 30), token = Sys.getenv("HUB_TOKEN"))
#' s
#' m <- hub_load("https://hub.example.com/acme/fruit/1", settings = s)
#' m2 <- hub_load("https://hub.example.com/acme/fruit/2", settings = s, offline = TRUE)
#' }
#' @export
hub_settings <- function(cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL,
                         token_over_http = NULL) {
  call <- sys.call()
  args <- .fetch_args(cache_dir, offline, timeout, token, call = call)
  args$settings <- NULL
  args$token_over_http <- .as_flag(token_over_http, "token_over_http", call)
  .sync_env()  # the environment fills in the rest: R's current values
  .py_call(do.call(.hubfn()$Settings$make, args))
}

#' @method print hubfn.settings.Settings
#' @export
print.hubfn.settings.Settings <- function(x, ...) {
  get <- function(name) reticulate::py_to_r(reticulate::py_get_attr(x, name))
  hosts <- vapply(get("tokens"), function(pair) as.character(pair[[1]]), "")
  cat("<hubfn settings>\n")
  cat("  cache_dir:       ", get("cache_dir"), "\n", sep = "")
  cat("  offline:         ", get("offline"), "\n", sep = "")
  cat("  timeout:         connect ", format(get("connect_timeout")), " s, read ", format(get("read_timeout")),
      " s\n", sep = "")
  cat("  retries:         ", get("retries"), "\n", sep = "")
  cat("  token:           ", if (is.null(get("handle_token"))) "none" else "set, for the handle's host (not shown)",
      "\n", sep = "")
  cat("  tokens by host:  ", if (length(hosts)) paste0(paste(hosts, collapse = ", "), " (not shown)") else "none",
      "\n", sep = "")
  cat("  token_over_http: ", get("token_over_http"), "\n", sep = "")
  invisible(x)
}
