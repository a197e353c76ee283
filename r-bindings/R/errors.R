# Python exceptions -> R conditions.
#
# hubfn's errors (hubfn.errors) become R errors with hubfn's message only (no traceback) and a
# class vector built from the Python class and its hubfn bases, e.g. InputError ->
# c("hubfn_input_error", "hubfn_error", "error", "condition"), RemoteNotFoundError ->
# c("hubfn_remote_not_found_error", "hubfn_fetch_error", "hubfn_module_not_found", "hubfn_error", ...).
# Any other Python exception becomes c("hubfn_python_error", "error", "condition") with
# message "<Type>: <message>".

# Evaluate `expr` (which calls Python); turn a Python exception into an R condition.
.py_call <- function(expr, call = sys.call(-1L)) {
  tryCatch(expr, error = function(e) stop(.as_hubfn_condition(e, call)))
}

# "InputError" -> "hubfn_input_error"; "ModuleNotFound" -> "hubfn_module_not_found".
.error_class <- function(name) {
  if (name == "HubError") {
    return("hubfn_error")
  }
  snake <- gsub("([A-Z]+)([A-Z][a-z])", "\\1_\\2", name)
  snake <- tolower(gsub("([a-z0-9])([A-Z])", "\\1_\\2", snake))
  paste0("hubfn_", snake)
}

.as_hubfn_condition <- function(e, call = NULL) {
  if (inherits(e, "hubfn_error") || inherits(e, "hubfn_python_error")) {
    return(e)
  }
  pe <- tryCatch(reticulate::py_last_error(), error = function(err) NULL)
  msg <- conditionMessage(e)
  if (is.null(pe) || is.null(pe$type) || !grepl(pe$type, msg, fixed = TRUE)) {
    return(e)  # an R error, not one from Python
  }
  value <- pe$value
  exc <- attr(pe, "exception")
  classes <- tryCatch(reticulate::py_to_r(.py_helpers()$error_classes(exc)), error = function(err) NULL)
  hub <- character()
  for (cl in classes) {
    if (identical(cl[[1]], "hubfn.errors")) hub <- c(hub, .error_class(cl[[2]]))
  }
  reticulate::py_clear_last_error()
  if (length(hub)) {
    hub <- unique(c(setdiff(hub, "hubfn_error"), "hubfn_error"))
    cond <- structure(class = c(hub, "error", "condition"),
                      list(message = .r_words(value), call = call, python_type = pe$type, python_exception = exc))
  } else {
    lines <- strsplit(sub("\n+$", "", value), "\n", fixed = TRUE)[[1]]
    if (length(lines) > 8L) {  # e.g. TensorFlow's op tracebacks; the whole text is in python_exception
      lines <- c(lines[1:8], sprintf("[... %d more lines in the condition's python_exception]", length(lines) - 8L))
    }
    cond <- structure(class = c("hubfn_python_error", "error", "condition"),
                      list(message = paste0(pe$type, ": ", paste(lines, collapse = "\n")), call = call,
                           python_type = pe$type, python_exception = exc))
  }
  cond
}

# hubfn's messages speak Python ("Pass as_dict=True", "a dict with keys"); R users call the R
# functions, whose arguments are spelled `as_dict = TRUE` and whose dicts are named lists.
.r_words <- function(msg) {
  msg <- gsub("\\b([A-Za-z_][A-Za-z0-9_]*)=True\\b", "\\1 = TRUE", msg, perl = TRUE)
  msg <- gsub("\\b([A-Za-z_][A-Za-z0-9_]*)=False\\b", "\\1 = FALSE", msg, perl = TRUE)
  msg <- gsub("\\b([A-Za-z_][A-Za-z0-9_]*)=None\\b", "\\1 = NULL", msg, perl = TRUE)
  msg <- gsub("\\b(as_dict|output_key|signature|tags|trainable|arguments)=(\\.\\.\\.|\\s)", "\\1 = \\2", msg, perl = TRUE)
  msg <- gsub("\\ba dict with keys\\b", "a named list with names", msg, perl = TRUE)
  msg <- gsub("\\bpass a dict\\b", "pass a named list", msg, perl = TRUE)
  gsub("= \\s", "= ", msg, perl = TRUE)
}
