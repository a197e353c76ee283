# R values in and out: hubfn's "r" input policy (hubfn.input_policies) checks and converts inputs; R does what
# Python cannot see: factors, data frames, lists, NA in logicals and strings (reticulate would pass TRUE
# and "NA"), vectors as 1-d arrays (else a Python list), and R's shapes of outputs.

.what_r <- function(x) {
  if (is.data.frame(x)) return("a data frame")
  if (is.factor(x)) return("a factor")
  kind <- switch(typeof(x), double = "a double", integer = "an integer", logical = "a logical",
                 character = "a character", complex = "a complex", paste("a", typeof(x)))
  paste0(kind, if (is.matrix(x)) " matrix" else if (length(dim(x)) > 1L) " array" else " vector")
}

.unfactor <- function(x) {
  if (!is.factor(x)) return(x)
  structure(as.character(x), dim = dim(x))  # also a factor with dims
}

# One R value (input `name`, if known) as reticulate should pass it: an array; a data frame as a matrix.
.r_value <- function(x, call, name = NULL) {
  if (is.double(x) && !is.object(x)) {  # R numbers, the common case
    if (is.null(dim(x))) dim(x) <- length(x)
    return(x)
  }
  if (inherits(x, "python.builtin.object")) return(x)
  if (inherits(x, "hubfn_module")) return(attr(x, "py_module"))
  if (is.data.frame(x)) {
    x[] <- lapply(x, .unfactor)
    x <- unname(as.matrix(x))
  }
  x <- .unfactor(x)
  what <- if (is.null(name) || !nzchar(name)) "the input" else paste0("input '", name, "'")
  if (!is.atomic(x) || is.null(x)) {
    stop(.hubfn_error("input_error", paste0("Cannot convert ", what, " (an R ", class(x)[1], "); pass a numeric, integer, logical ",
                             "or character vector, matrix or array (or a data frame)."), call))
  }
  if ((is.logical(x) || is.character(x)) && anyNA(x)) {  # reticulate would pass NA as TRUE or "NA"
    stop(.hubfn_error("input_error", paste0(toupper(substring(what, 1, 1)), substring(what, 2), " has NA; TensorFlow has no ",
                             "missing values for ", typeof(x), " data."), call))
  }
  if (is.null(dim(x))) dim(x) <- length(x)
  x
}

# NumPy arrays of rank 0 and 1 arrive as 1-d R arrays: make them plain vectors, in nested lists too.
.drop_1d <- function(r) {
  if (is.list(r)) {
    for (i in seq_along(r)) if (is.list(r[[i]])) r[[i]] <- .drop_1d(r[[i]]) else if (length(dim(r[[i]])) == 1L) dim(r[[i]]) <- NULL
  } else if (length(dim(r)) == 1L) dim(r) <- NULL
  r
}

# A Python dict -> a named R list of its (unconverted) values, keys sorted.
.py_dict_to_list <- function(d) {
  keys <- unlist(reticulate::py_to_r(reticulate::py_call(.py_helper("sorted_keys"), d)))
  stats::setNames(lapply(keys, function(k) reticulate::py_get_item(d, k)), keys)
}

# A whole double as an integer (R numbers reach Python as floats; counts, lengths and shapes must be ints).
.as_int <- function(v) {
  if (is.double(v) && length(v) == 1L && !is.na(v) && v == trunc(v) && abs(v) < 2^31) as.integer(v) else v
}
