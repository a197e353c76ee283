# Python exceptions -> R conditions: classes, message in R's words (`as_dict = TRUE`) and hubfn's fields
# come from hubfn_r_helpers.error_data; any other Python exception is a "hubfn_python_error".

# An R error of class c("hubfn_<kind>", "hubfn_error", "error", "condition").
.hubfn_error <- function(kind, message, call = NULL) {
  structure(class = c(paste0("hubfn_", kind), "hubfn_error", "error", "condition"), list(message = message, call = call))
}

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

# The R condition of Python exception `exc`.
.py_condition <- function(exc, call = NULL) {
  d <- reticulate::py_to_r(reticulate::py_call(.py_helper("error_data"), exc))
  structure(class = c(unlist(d$classes), "error", "condition"),
            c(list(message = d$message, call = call, python_type = d$type, python_exception = exc), d$fields))
}
