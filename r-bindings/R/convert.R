# R values in and out. hubfn's Python core checks and converts every input by the declared dtype and
# shape (hubfn.inputs); R only does what Python cannot see: R's kinds of value (factors, data frames,
# lists, NA in integers, logicals and strings), vectors as 1-d arrays (else reticulate passes a Python
# list), and R's wording of hubfn's input errors, built from the errors' fields.

.input_error <- function(message, call = NULL) {
  structure(class = c("hubfn_input_error", "hubfn_error", "error", "condition"),
            list(message = message, call = call))
}

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

# A data frame as one array: the column itself for one column into a rank-1 input, else a matrix
# (a mix of numbers and text becomes text, as as.matrix() does).
.frame_to_array <- function(df, spec) {
  df[] <- lapply(df, .unfactor)
  if (ncol(df) == 1L && length(spec$shape) <= 1L) return(df[[1]])
  unname(as.matrix(df))
}

# One R value for the input `spec` (from the plan; NULL when not known), as reticulate should pass it:
# an array (a [?, k] input takes a length-k vector as one example), or a scalar for a rank-0 input.
.r_value <- function(x, spec, call) {
  if (inherits(x, "python.builtin.object")) return(x)
  if (inherits(x, "hubfn_module")) return(attr(x, "py_module"))
  if (is.data.frame(x)) x <- .frame_to_array(x, spec)
  x <- .unfactor(x)
  if (!is.atomic(x) || is.null(x)) {
    stop(.input_error(paste0("Cannot convert ", if (is.null(spec)) "the input" else paste0("input '", spec$name, "'"),
                             " (an R ", class(x)[1], "); pass a numeric, integer, logical or character vector, ",
                             "matrix or array (or a data frame)."), call))
  }
  if (!is.double(x) && anyNA(x)) {  # reticulate would pass NA as a number, TRUE or "NA"
    stop(.input_error(paste0(if (is.null(spec)) "The input" else paste0("Input '", spec$name, "'"),
                             " has NA; TensorFlow has no missing values for ", typeof(x), " data."), call))
  }
  # hubfn compares doubles with int64's limits in float64, where 2^63 - 1 is 2^63 (spec$top: the first
  # double a 64-bit integer input cannot hold), and would wrap 2^63 around: refused here.
  if (!is.null(spec$top) && is.double(x) && any(x >= spec$top, na.rm = TRUE)) {
    stop(.input_error(.value_message(spec$dtype, x[which(x >= spec$top)[1]], x, spec$where), call))
  }
  if (is.null(dim(x))) {
    n <- length(x)
    shape <- spec$shape
    if (length(shape) == 2L && !is.na(shape[[2]]) && n == shape[[2]] && n > 1L) dim(x) <- c(1L, n)
    else if (is.null(shape) || length(shape) || n != 1L) dim(x) <- n
  }
  x
}

# What an input of `dtype` takes, in R terms.
.r_expects <- function(dtype) {
  if (grepl("^(float|bfloat|half|double)", dtype)) return("a numeric vector or array")
  if (grepl("^u?int", dtype)) return("a numeric vector or array of whole numbers")
  switch(dtype, bool = "a logical vector or array", string = "a character vector or array (or a factor)",
         paste("values of type", dtype))
}

# Exclusive upper and inclusive lower bounds of the integer dtypes, as doubles (powers of two, exact).
.int_ranges <- list(int8 = c(-2^7, 2^7), uint8 = c(0, 2^8), int16 = c(-2^15, 2^15), uint16 = c(0, 2^16),
                    int32 = c(-2^31, 2^31), uint32 = c(0, 2^32), int64 = c(-2^63, 2^63), uint64 = c(0, 2^64))

# hubfn's "value" input error (a number an integer dtype cannot hold) in R's words, with R's index.
.value_message <- function(dtype, v, x, where) {
  num <- function(n) format(n, scientific = FALSE)
  at <- paste0(" (element ", match(v, x), ")")
  if (!is.finite(v) || v != trunc(v)) {
    return(paste0(where, " expects ", dtype, ": whole numbers; got ", format(v), at, ". Round it first, e.g. round(x)."))
  }
  r <- .int_ranges[[dtype]]
  paste0(where, " expects ", dtype, ", whose values run from ", num(r[1]), " to ", num(r[2] - 1), "; got ", num(v),
         at, ".")
}

# The message of an input error hubfn raised about R value `x`, in R's words where its fields say
# it is about the kind of value or a value (else hubfn's own).
.input_message <- function(cond, x, where) {
  if (identical(cond$reason, "dtype") && !is.null(x)) {
    return(paste0(where, " expects ", cond$expected, ": ", .r_expects(cond$expected), "; got ", .what_r(x), "."))
  }
  if (identical(cond$reason, "value") && is.numeric(x) && is.numeric(cond$got)) {
    return(.value_message(cond$expected, cond$got, x, where))
  }
  conditionMessage(cond)
}

# NumPy arrays of rank 0 and 1 arrive as 1-d R arrays: make them plain vectors, in nested lists too.
.drop_1d <- function(r) {
  if (is.atomic(r)) {
    if (length(dim(r)) == 1L) dim(r) <- NULL
  } else if (is.list(r)) {
    for (i in seq_along(r)) {
      v <- r[[i]]
      if (is.atomic(v)) {
        if (length(dim(v)) == 1L) {
          dim(v) <- NULL
          r[[i]] <- v
        }
      } else if (is.list(v)) {
        r[[i]] <- .drop_1d(v)
      }
    }
  }
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
