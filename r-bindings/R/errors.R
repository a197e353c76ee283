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

# "InputError" -> "hubfn_input_error"; "ModuleNotFound" -> "hubfn_module_not_found".
.error_class <- function(name) {
  if (name == "HubError") return("hubfn_error")
  paste0("hubfn_", tolower(gsub("([a-z0-9])([A-Z])", "\\1_\\2", gsub("([A-Z]+)([A-Z][a-z])", "\\1_\\2", name))))
}

# Python's spelling of a keyword argument's value in hubfn's messages, and R's.
.py_spelling <- function(v) if (is.null(v)) "None" else if (is.logical(v)) (if (v) "True" else "False") else format(v)
.r_spelling <- function(v) if (is.null(v)) "NULL" else if (is.character(v)) deparse(v) else format(v)

.as_hubfn_condition <- function(e, call = NULL) {
  if (inherits(e, c("hubfn_error", "hubfn_python_error"))) return(e)
  pe <- tryCatch(reticulate::py_last_error(), error = function(err) NULL)
  if (is.null(pe$type) || !grepl(pe$type, conditionMessage(e), fixed = TRUE)) return(e)  # an R error, not Python's
  reticulate::py_clear_last_error()
  .py_condition(attr(pe, "exception"), call)
}

# The R condition of Python exception `exc` (hubfn_r_helpers.error_data: its type, message, hubfn
# classes and fields).
.py_condition <- function(exc, call = NULL) {
  d <- reticulate::py_to_r(reticulate::py_call(.py_helper("error_data"), exc))
  about <- list(call = call, python_type = d$type, python_exception = exc)
  if (!length(d$classes)) {
    lines <- strsplit(sub("\n+$", "", d$message), "\n", fixed = TRUE)[[1]]
    if (length(lines) > 8L) {  # e.g. TensorFlow's op tracebacks; the whole text is in python_exception
      lines <- c(lines[1:8], sprintf("[... %d more lines in the condition's python_exception]", length(lines) - 8L))
    }
    return(structure(class = c("hubfn_python_error", "error", "condition"),
                     c(list(message = paste0(d$type, ": ", paste(lines, collapse = "\n"))), about)))
  }
  msg <- d$message
  for (k in d$fields$keywords) {
    msg <- gsub(paste0(k[[1]], "=", .py_spelling(k[[2]])), paste0(k[[1]], " = ", .r_spelling(k[[2]])), msg, fixed = TRUE)
  }
  classes <- unique(c(setdiff(vapply(unlist(d$classes), .error_class, ""), "hubfn_error"), "hubfn_error"))
  structure(class = c(classes, "error", "condition"), c(list(message = msg), about, d$fields))
}
