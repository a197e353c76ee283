# R values <-> Python values, guided by a signature's input specs.
#
# hubfn's Python core checks and converts inputs by their declared dtype. R has one kind of number
# (double), factors, data frames and lists, which Python knows nothing about; this file turns them
# into arrays of the declared dtype first, and refuses what cannot be converted in R's words
# ("a numeric vector or array", `as_dict = TRUE`) before anything reaches Python.

.input_error <- function(message, call = NULL) {
  structure(class = c("hubfn_input_error", "hubfn_error", "error", "condition"),
            list(message = message, call = call))
}

.dtype_kind <- function(dtype) {
  if (is.null(dtype)) {
    return(NULL)
  }
  if (grepl("^(float|bfloat|half|double)", dtype)) "float"
  else if (grepl("^u?int", dtype)) "int"
  else if (dtype == "bool") "bool"
  else if (dtype == "string") "string"
  else "other"
}

# The values an integer dtype holds, as doubles: from the first (inclusive) to the second
# (exclusive). Exclusive upper bounds are powers of two, exact as doubles, so int64's and uint64's
# limits compare correctly too (2^63 - 1 is not a double; whole R doubles are exact up to 2^53).
.int_ranges <- list(
  int8 = c(-2^7, 2^7), uint8 = c(0, 2^8), int16 = c(-2^15, 2^15), uint16 = c(0, 2^16),
  int32 = c(-2^31, 2^31), uint32 = c(0, 2^32), int64 = c(-2^63, 2^63), uint64 = c(0, 2^64))

.r_kind <- function(x) {
  switch(typeof(x), double = "a double", integer = "an integer", logical = "a logical",
         character = "a character", complex = "a complex", paste("a", typeof(x)))
}

.what_r <- function(x) {
  shape <- if (is.matrix(x)) " matrix" else if (!is.null(dim(x))) " array" else " vector"
  paste0(.r_kind(x), shape)
}

# What an input of `dtype` takes, in R terms.
.r_expects <- function(dtype) {
  switch(.dtype_kind(dtype), float = "a numeric vector or array", int = "a numeric vector or array of whole numbers",
         bool = "a logical vector or array", string = "a character vector or array (or a factor)",
         paste("values of type", dtype))
}

# Refuse, in R terms, a value whose kind the input cannot take; check integer ranges.
.check_kind <- function(x, dtype, what, call) {
  kind <- .dtype_kind(dtype)
  if (is.null(kind) || kind == "other") {
    return(invisible())
  }
  bad <- switch(kind,
    float = !(is.double(x) || is.integer(x)),
    int = !(is.double(x) || is.integer(x)),
    bool = !is.logical(x),
    string = !is.character(x),
    FALSE)
  if (bad) {
    stop(.input_error(paste0(what, " expects ", dtype, ": ", .r_expects(dtype), "; got ", .what_r(x), "."), call))
  }
  if (kind == "int" && length(x)) {
    if (is.double(x)) {
      frac <- which(is.finite(x) & x != trunc(x))
      if (anyNA(x) || any(!is.finite(x)) || length(frac)) {
        first <- if (length(frac)) x[frac[1]] else x[which(!is.finite(x))[1]]
        stop(.input_error(paste0(what, " expects ", dtype, ": whole numbers; got ", format(first),
                                 " (element ", which(x %in% first)[1], "). Round it first, e.g. round(x)."), call))
      }
    }
    range <- .int_ranges[[dtype]]
    if (!is.null(range)) {
      out <- which(x < range[1] | x >= range[2])
      if (length(out)) {
        stop(.input_error(paste0(what, " expects ", dtype, ", whose values run from ", format(range[1], scientific = FALSE),
                                 " to ", format(range[2] - 1, scientific = FALSE),
                                 "; got ", format(x[out[1]], scientific = FALSE), " (element ", out[1], ")."), call))
      }
    }
  }
  invisible()
}

# Factors (also inside arrays and data frames) become character, keeping dims.
.unfactor <- function(x) {
  if (is.factor(x)) {
    d <- dim(x)
    x <- as.character(x)
    if (!is.null(d)) dim(x) <- d
  }
  x
}

# A data frame as one array: the column itself for one column into a rank-1 input, else a matrix
# (factor columns as character; a mix of numbers and text becomes text, as as.matrix() does).
.frame_to_array <- function(df, spec) {
  df[] <- lapply(df, .unfactor)
  if (ncol(df) == 1L && (is.null(spec$shape) || length(spec$shape) <= 1L)) {
    return(df[[1]])
  }
  m <- as.matrix(df)
  dimnames(m) <- NULL
  m
}

# One R value prepared for the input `spec` (list(name, dtype, shape), or NULL when not known):
# list(value = what reticulate passes, dtype = the NumPy dtype to make (NULL: as NumPy infers it;
# "keep": a Python object passed as it is), scalar = make a rank-0 array).
.prep_value <- function(x, spec = NULL, call = NULL, where = NULL) {
  if (inherits(x, "python.builtin.object")) {
    return(list(value = x, dtype = "keep", scalar = FALSE))
  }
  if (inherits(x, "hubfn_module")) {
    return(list(value = attr(x, "py_module"), dtype = "keep", scalar = FALSE))
  }
  what <- if (!is.null(where) && !is.null(spec$name)) where(spec$name)
          else if (is.null(spec$name)) "The input" else paste0("Input '", spec$name, "'")
  if (is.data.frame(x)) {
    x <- .frame_to_array(x, spec)
  }
  x <- .unfactor(x)
  if (is.null(x) || !is.atomic(x)) {
    stop(.input_error(paste0("Cannot convert ", sub("^I", "i", sub("^The", "the", what)), " (an R ", class(x)[1],
                             "); pass a numeric, integer, logical or character vector, matrix or array",
                             " (or a data frame)."), call))
  }
  if (!is.double(x) && !is.complex(x) && anyNA(x)) {
    stop(.input_error(paste0(what, " has NA; TensorFlow has no missing values for ",
                             typeof(x), " data."), call))
  }
  dtype <- spec$dtype
  kind <- .dtype_kind(dtype)
  .check_kind(x, dtype, what, call)
  if (identical(kind, "float") && !dtype %in% c("float16", "float32", "float64")) {
    dtype <- "float32"  # e.g. bfloat16, which NumPy lacks: hubfn casts float32 to it
  }
  np_dtype <- switch(typeof(x),
    double = if (!is.null(kind) && kind %in% c("float", "int")) dtype
             else if (is.null(kind)) "float32"
             else "float64",
    integer = if (!is.null(kind) && kind %in% c("float", "int")) dtype else "int32",
    logical = "bool",
    character = NULL,
    complex = "complex128",
    stop(.input_error(paste0("Cannot convert ", what, " of type ", typeof(x), "."), call))
  )
  shape <- spec$shape
  scalar <- !is.null(shape) && length(shape) == 0L && length(x) == 1L && is.null(dim(x))
  if (is.null(dim(x))) {
    if (!is.null(shape) && length(shape) == 2L && !is.na(shape[[2]]) && length(x) == shape[[2]] &&
        length(x) > 1L) {
      dim(x) <- c(1L, length(x))  # one example for a [?, k] input
    } else if (!scalar) {
      dim(x) <- length(x)  # a 1-d array: reticulate passes it as one NumPy array, not a list
    }
  }
  list(value = x, dtype = np_dtype, scalar = scalar)
}

# Inputs for a function, prepared for apply_r1() (one value) or apply_rn(): one value, or a named list (-> dict by input name).
# A list without names maps to the inputs in their listed order; a data frame is one input (as a
# matrix) for a one-input function, else one input per column.
.prep_inputs <- function(inputs, specs = NULL, call = NULL, where = NULL) {
  if (is.data.frame(inputs) && length(specs) <= 1L) {  # one input (or not known): the frame is its value
    return(list(prepped = list(.prep_value(inputs, if (length(specs)) specs[[1]], call, where)), single = TRUE))
  }
  if (is.list(inputs) && !inherits(inputs, "python.builtin.object")) {
    inputs <- unclass(inputs)
    nms <- names(inputs)
    if (is.null(nms) || all(!nzchar(nms))) {
      if (length(inputs) == 1L) {
        return(.prep_inputs(inputs[[1]], specs, call, where))
      }
      if (length(specs) && length(inputs) == length(specs)) {
        names(inputs) <- nms <- names(specs)  # in the order the signature lists its inputs
      } else {
        stop(.input_error(paste0(
          "Inputs given as a list without names must have one element per input, in order",
          if (length(specs)) paste0(": ", paste(names(specs), collapse = ", "), " (got ", length(inputs), ")")
          else " (the inputs of this function are not known: name the elements)",
          "."), call))
      }
    } else if (any(!nzchar(nms))) {
      stop(.input_error(paste0("Inputs given as a list must all be named, or none",
                               if (length(specs)) paste0(" (inputs: ", paste(names(specs), collapse = ", "), ")"),
                               "."), call))
    }
    prepped <- lapply(nms, function(n) .prep_value(inputs[[n]], specs[[n]], call, where))
    names(prepped) <- nms
    return(list(prepped = prepped, single = FALSE))
  }
  spec <- if (length(specs) == 1L) specs[[1]] else NULL
  list(prepped = list(.prep_value(inputs, spec, call, where)), single = TRUE)
}

.py_helper <- function(name) {
  f <- .hubfn_env$helper_fns[[name]]
  if (is.null(f)) {
    f <- reticulate::py_get_attr(.py_helpers(), name)
    .hubfn_env$helper_fns[[name]] <- f
  }
  f
}

# NumPy arrays of rank 0 and 1 arrive as 1-d R arrays: make them plain vectors, in nested lists too.
.drop_1d <- function(r) {
  if (is.atomic(r) && length(dim(r)) == 1L) dim(r) <- NULL
  if (is.list(r) && !inherits(r, "python.builtin.object")) r[] <- lapply(r, .drop_1d)
  r
}

# A Python dict -> a named R list of its (unconverted) values, keys sorted.
.py_dict_to_list <- function(d) {
  keys <- unlist(reticulate::py_to_r(reticulate::py_call(.py_helper("sorted_keys"), d)))
  out <- lapply(keys, function(k) reticulate::py_get_item(d, k))
  names(out) <- keys
  out
}
