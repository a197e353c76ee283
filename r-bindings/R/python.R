# Finding Python, importing hubfn lazily, and installing it.

.hubfn_env <- new.env(parent = emptyenv())

.onLoad <- function(libname, pkgname) {
  .configure_python()
  # Nothing starts Python here: the module is imported on first use.
  .hubfn_env$py <- reticulate::import("hubfn", convert = FALSE, delay_load = TRUE)
  .register_tensorflow_methods()
}

# Which Python reticulate uses, in order: RETICULATE_PYTHON (reticulate reads it itself),
# HUBFN_PYTHON, then a virtualenv named "r-hubfn" (see install_hubfn()).
.configure_python <- function() {
  if (nzchar(Sys.getenv("RETICULATE_PYTHON"))) {
    return(invisible("RETICULATE_PYTHON"))
  }
  if (reticulate::py_available(initialize = FALSE)) {
    return(invisible("initialized"))  # too late to choose; use what the session has
  }
  hp <- Sys.getenv("HUBFN_PYTHON")
  if (nzchar(hp)) {
    tryCatch(reticulate::use_python(hp, required = TRUE),
             error = function(e) packageStartupMessage("hubfn: HUBFN_PYTHON=", hp, ": ", conditionMessage(e)))
    return(invisible("HUBFN_PYTHON"))
  }
  if (isTRUE(tryCatch(reticulate::virtualenv_exists("r-hubfn"), error = function(e) FALSE))) {
    tryCatch(reticulate::use_virtualenv("r-hubfn", required = TRUE), error = function(e) NULL)
    return(invisible("r-hubfn"))
  }
  invisible(NA_character_)
}

# The Python package `hubfn` (imported with convert = FALSE).
.hubfn <- function() {
  .hubfn_env$py
}

# A Python function of hubfn: from the package, else from its submodule `from` (for names not
# exported at the top level); an R error of class hubfn_unavailable_error if this hubfn lacks it.
.hubfn_fn <- function(name, from = NULL) {
  as_fn <- function(obj) function(...) reticulate::py_call(obj, ...)
  if (.py_has(.hubfn(), name)) {
    return(as_fn(reticulate::py_get_attr(.hubfn(), name)))
  }
  if (!is.null(from)) {
    sub <- tryCatch(reticulate::import(paste0("hubfn.", from), convert = FALSE), error = function(e) NULL)
    if (!is.null(sub) && .py_has(sub, name)) {
      return(as_fn(reticulate::py_get_attr(sub, name)))
    }
  }
  stop(structure(class = c("hubfn_unavailable_error", "hubfn_error", "error", "condition"),
                 list(message = paste0("This version of the hubfn Python package has no `", name,
                                       "`; upgrade it (see install_hubfn())."), call = NULL)))
}

#' Does the hubfn Python package have this function?
#'
#' @param name A function name, e.g. `"hub_layer"`, `"pack_module"`, `"cache_list"`.
#' @return `TRUE` or `FALSE`.
#' @examples
#' \dontrun{
#' hubfn_has("hub_layer")
#' }
#' @export
hubfn_has <- function(name) {
  from <- c(pack_module = "pack", hub_layer = "keras_layer", cache_dir = "cache", cache_list = "cache",
            cache_verify = "cache", cache_remove = "cache")[name]
  !inherits(tryCatch(.hubfn_fn(name, if (is.na(from)) NULL else unname(from)), error = function(e) e), "error")
}

.py_has <- function(obj, name) {
  isTRUE(tryCatch(reticulate::py_has_attr(obj, name), error = function(e) FALSE))
}

.py_helpers <- function() {
  if (is.null(.hubfn_env$helpers)) {
    .hubfn_env$helpers <- reticulate::import_from_path(
      "hubfn_r_helpers", system.file("python", package = "hubfn"), convert = FALSE)
  }
  .hubfn_env$helpers
}

# Environment variables hubfn reads at call time, besides every HUBFN_* variable (see
# hubfn/envvars.py and hubfn/http.py).
.synced_env_vars <- c(
  "TFHUB_CACHE_DIR", "TFHUB_DOWNLOAD_PROGRESS", "TFHUB_DISABLE_CERT_VALIDATION",
  "http_proxy", "https_proxy", "no_proxy", "all_proxy",
  "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
  "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE")

# Python reads the process environment into os.environ once, when it starts, so Sys.setenv() and
# Sys.unsetenv() in R after that are invisible to hubfn. Before a call that may resolve, fetch or
# use the cache, copy R's current values of the variables hubfn reads into os.environ (set or
# delete), in one Python call. Nothing to do before Python starts: it then reads R's environment.
.sync_env <- function() {
  if (!reticulate::py_available(initialize = FALSE)) {
    return(invisible(FALSE))
  }
  env <- Sys.getenv()
  names <- names(env)
  keep <- names %in% .synced_env_vars | startsWith(names, "HUBFN_")
  values <- as.list(as.character(env[keep]))
  names(values) <- names[keep]
  unset <- as.list(setdiff(.synced_env_vars, names))
  reticulate::py_call(.py_helper("sync_environ"), reticulate::dict(values, convert = FALSE), unset)
  invisible(TRUE)
}

#' Is the hubfn Python package available?
#'
#' `TRUE` when reticulate's Python can import `hubfn` (and NumPy is usable). Starts Python if needed,
#' but does not import TensorFlow.
#'
#' Python is found, in this order: the `RETICULATE_PYTHON` environment variable, the
#' `HUBFN_PYTHON` environment variable, a virtualenv named `r-hubfn` (made by [install_hubfn()]).
#'
#' @return `TRUE` or `FALSE`.
#' @examples
#' hubfn_available()
#' @export
hubfn_available <- function() {
  isTRUE(tryCatch(reticulate::py_module_available("hubfn"), error = function(e) FALSE))
}

#' Install the hubfn Python package into a virtualenv for R
#'
#' Creates the virtualenv `envname` (default `r-hubfn`, the one this package looks for when
#' neither `RETICULATE_PYTHON` nor `HUBFN_PYTHON` is set), pins `numpy<2` (reticulate 1.28 cannot
#' convert NumPy 2 arrays) and installs hubfn with its dependencies (TensorFlow among them).
#' Restart R afterwards.
#'
#' @param package What pip installs: `"hubfn"`, a path to a hubfn source checkout, or a wheel.
#' @param envname Name (or path) of the virtualenv.
#' @param python The Python interpreter to create the virtualenv with (`NULL`: reticulate's choice).
#' @param extra_packages More pip requirements to install alongside.
#' @param ... Passed to [reticulate::virtualenv_install()].
#' @return The virtualenv's Python executable, invisibly.
#' @examples
#' \dontrun{
#' install_hubfn("/path/to/hubfn/checkout")
#' }
#' @export
install_hubfn <- function(package = "hubfn", envname = "r-hubfn", python = NULL,
                          extra_packages = NULL, ...) {
  reticulate::virtualenv_create(envname, python = python, packages = "numpy<2")
  reticulate::virtualenv_install(envname, c("numpy<2", package, extra_packages), ...)
  exe <- reticulate::virtualenv_python(envname)
  message("hubfn installed in virtualenv '", envname, "' (", exe, "). Restart R to use it.")
  invisible(exe)
}
