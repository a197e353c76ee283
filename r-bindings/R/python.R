# Finding Python, importing hubfn lazily, and saying what to do when there is none.

.hubfn_env <- new.env(parent = emptyenv())

.onLoad <- function(libname, pkgname) {  # nothing starts or pins Python: hubfn is imported on first use
  .hubfn_env$py <- reticulate::import("hubfn", convert = FALSE, delay_load = list(
    environment = "r-hubfn",
    before_load = function() .choose_python(),
    on_error = function(e) stop(.no_python_error(conditionMessage(e)))))
  .register_tensorflow_methods()
  # m(x)'s per-call path calls reticulate's C entry points for calling Python on R values and converting a
  # Python value to R, without the R code around them (py_call's argument sorting, py_to_r's S3 dispatch):
  # each only while it takes the arguments it takes in reticulate 1.28, else the public function.
  rt <- asNamespace("reticulate")
  same <- function(name, args) is.function(rt[[name]]) && identical(names(formals(rt[[name]])), args)
  .hubfn_env$call <- if (same("py_call_impl", c("x", "args", "keywords"))) rt$py_call_impl
                     else function(f, args, keywords) do.call(reticulate::py_call, c(list(f), args))
  .hubfn_env$to_r <- if (same("py_ref_to_r", "x")) rt$py_ref_to_r else reticulate::py_to_r
}

.onAttach <- function(libname, pkgname) {
  problem <- .python_problem()
  if (!is.null(problem)) packageStartupMessage(problem)
}

# The virtualenv `envname`: a name under RETICULATE_VIRTUALENV_ROOT or WORKON_HOME, or a path.
.venv_path <- function(envname = "r-hubfn") {
  if (grepl("[/\\\\]", envname)) return(path.expand(envname))
  root <- Sys.getenv("RETICULATE_VIRTUALENV_ROOT")
  file.path(path.expand(if (nzchar(root)) root else reticulate::virtualenv_root()), envname)
}

.venv_python <- function(path) file.path(path, if (.Platform$OS.type == "windows") "Scripts/python.exe" else "bin/python")

# Whether the virtualenv at `path` has hubfn installed, by its files (no Python is started).
.venv_has_hubfn <- function(path) {
  file.exists(.venv_python(path)) &&
    length(Sys.glob(file.path(path, c("lib/python*/site-packages/hubfn", "Lib/site-packages/hubfn")))) > 0L
}

# Just before Python starts for hubfn: RETICULATE_PYTHON (reticulate reads it), else HUBFN_PYTHON, else
# "r-hubfn" if it has hubfn, else reticulate's choice. A choice made before (use_python()) stands.
.choose_python <- function() {
  if (reticulate::py_available(initialize = FALSE)) return(invisible("initialized"))
  if (nzchar(Sys.getenv("RETICULATE_PYTHON"))) return(invisible("RETICULATE_PYTHON"))
  use <- function(python) !inherits(try(reticulate::use_python(python, required = TRUE), silent = TRUE), "try-error")
  hp <- Sys.getenv("HUBFN_PYTHON")
  if (nzchar(hp)) return(invisible(if (use(hp)) "HUBFN_PYTHON" else NA_character_))
  venv <- .venv_path("r-hubfn")
  if (.venv_has_hubfn(venv) && use(.venv_python(venv))) return(invisible("r-hubfn"))
  invisible(NA_character_)
}

.python_fix <- "run hubfn::install_hubfn() once (or set RETICULATE_PYTHON to a Python that has hubfn)."

# One line saying why hubfn's Python is not usable and what to do, or NULL when it looks usable; reads
# files only (starts no Python), so library(hubfn) stays fast.
.python_problem <- function(fix = .python_fix) {
  if (reticulate::py_available(initialize = FALSE)) {
    if (isTRUE(tryCatch(reticulate::py_module_available("hubfn"), error = function(e) FALSE))) return(NULL)
    return(paste0("hubfn: the Python this R session already uses (", reticulate::py_config()$python,
                  ") has no hubfn package; ", fix))
  }
  for (var in c("RETICULATE_PYTHON", "HUBFN_PYTHON")) {
    p <- Sys.getenv(var)
    if (nzchar(p)) return(if (!file.exists(p)) paste0("hubfn: ", var, "=", p, " does not exist; ", fix))
  }
  venv <- .venv_path("r-hubfn")
  if (.venv_has_hubfn(venv)) return(NULL)
  if (dir.exists(venv)) return(paste0("hubfn: the virtualenv ", venv, " has no hubfn package; ", fix))
  paste0("hubfn: no Python with the hubfn package found; ", fix)
}

.no_python_error <- function(detail = NULL) {
  msg <- .python_problem()
  .hubfn_error("python_missing_error", if (!is.null(msg)) msg else paste0("hubfn: Python could not import hubfn",
               if (length(detail) && nzchar(detail)) paste0(" (", detail, ")"), "; ", .python_fix))
}

# The Python package `hubfn` (imported with convert = FALSE, on first use).
.hubfn <- function() .hubfn_env$py

# A Python function of hubfn; a hubfn_unavailable_error if this hubfn lacks it. `convert = TRUE`: what
# it returns is converted to R (as R keras does: a Keras layer is then callable from R).
.hubfn_fn <- function(name, convert = FALSE) {
  if (!.py_has(.hubfn(), name)) {  # the first use imports hubfn, in the Python .choose_python() picks
    stop(.hubfn_error("unavailable_error", paste0("This version of the hubfn Python package has no `", name,
                                                  "`; upgrade it (see install_hubfn()).")))
  }
  reticulate::import("hubfn", convert = convert)[[name]]
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
hubfn_has <- function(name) !inherits(tryCatch(.hubfn_fn(name), error = function(e) e), "error")

.py_has <- function(obj, name) isTRUE(tryCatch(reticulate::py_has_attr(obj, name), error = function(e) FALSE))

# A function of inst/python/hubfn_r_helpers.py, looked up once (`convert` as for .hubfn_fn()).
.py_helper <- function(name, convert = FALSE) {
  key <- paste0(name, if (convert) "\r")
  f <- .hubfn_env$helper_fns[[key]]
  if (is.null(f)) {
    .choose_python()
    helpers <- reticulate::import_from_path("hubfn_r_helpers", system.file("python", package = "hubfn"), convert = convert)
    f <- .hubfn_env$helper_fns[[key]] <- reticulate::py_get_attr(helpers, name)
  }
  f
}

# Python copies the process environment once, when it starts: before a call that may resolve, fetch or
# use the cache, hubfn_r_helpers.sync_environ copies R's current values of the variables hubfn reads.
.sync_env <- function() {
  if (!reticulate::py_available(initialize = FALSE)) return(invisible(FALSE))  # Python will read R's
  reticulate::py_call(.py_helper("sync_environ"), reticulate::dict(as.list(Sys.getenv()), convert = FALSE))
  invisible(TRUE)
}

#' Is the hubfn Python package available?
#'
#' `TRUE` when hubfn's Python can import `hubfn`; starts Python if needed, but not TensorFlow. The Python
#' is the one already started in the session, else `RETICULATE_PYTHON`, `HUBFN_PYTHON`, the virtualenv
#' `r-hubfn` (made by [install_hubfn()]), reticulate's own choice.
#'
#' @return `TRUE` or `FALSE`.
#' @examples
#' hubfn_available()
#' @export
hubfn_available <- function() {
  isTRUE(tryCatch({
    .choose_python()
    reticulate::py_module_available("hubfn")
  }, error = function(e) FALSE))
}
