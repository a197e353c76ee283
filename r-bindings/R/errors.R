# Python exceptions -> R conditions.
#
# A hubfn error (hubfn.errors) becomes an R error with hubfn's message (no traceback), a class per
# class of its chain, e.g. RemoteNotFoundError -> c("hubfn_remote_not_found_error",
# "hubfn_fetch_error", "hubfn_module_not_found", "hubfn_error", "error", "condition"), and hubfn's
# structured fields (handle, input, expected, got, reason, keywords: see hubfn.errors.HubError) as
# fields of the condition. The keyword arguments a message names (`keywords`) are spelled the R way
# (`as_dict = TRUE`). Any other Python exception is a "hubfn_python_error", message "<Type>: <message>".

# Evaluate `expr` (which calls Python); turn a Python exception into an R condition.
.py_call <- function(expr, call = sys.call(-1L)) {
  tryCatch(expr, error = function(e) stop(.as_hubfn_condition(e, call)))
}

.as_hubfn_condition <- function(e, call = NULL) {
  if (inherits(e, c("hubfn_error", "hubfn_python_error"))) return(e)
  pe <- tryCatch(reticulate::py_last_error(), error = function(err) NULL)
  if (is.null(pe$type) || !grepl(pe$type, conditionMessage(e), fixed = TRUE)) return(e)  # an R error, not Python's
  reticulate::py_clear_last_error()
  .py_condition(attr(pe, "exception"), call)
}

# The R condition of Python exception `exc`: its R classes, message in R's words and hubfn's fields, from
# hubfn_r_helpers.error_data.
.py_condition <- function(exc, call = NULL) {
  d <- reticulate::py_to_r(reticulate::py_call(.py_helper("error_data"), exc))
  structure(class = c(unlist(d$classes), "error", "condition"),
            c(list(message = d$message, call = call, python_type = d$type, python_exception = exc), d$fields))
}
