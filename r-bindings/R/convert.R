# R values <-> Python values, guided by a signature's input specs.

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

# One R value prepared for the input `spec` (list(name, dtype, shape), or NULL when the signature
# is not known): list(value = what reticulate passes, dtype = the NumPy dtype to make (NULL: as
# NumPy infers it; "keep": a Python object passed as it is), scalar = make a rank-0 array).
.prep_value <- function(x, spec = NULL, call = NULL) {
  if (inherits(x, "python.builtin.object")) {
    return(list(value = x, dtype = "keep", scalar = FALSE))
  }
  if (inherits(x, "hubfn_module")) {
    return(list(value = attr(x, "py_module"), dtype = "keep", scalar = FALSE))
  }
  what <- if (is.null(spec$name)) "the input" else paste0("input '", spec$name, "'")
  if (is.factor(x)) {
    x <- array(as.character(x), dim = dim(x))
  }
  if (is.null(x) || !is.atomic(x)) {
    stop(.input_error(paste0("Cannot convert ", what, " (an R ", class(x)[1],
                             "); pass a numeric, integer, logical or character vector, matrix or array."),
                      call))
  }
  if (!is.double(x) && !is.complex(x) && anyNA(x)) {
    stop(.input_error(paste0("The value of ", what, " has NA; TensorFlow has no missing values for ",
                             typeof(x), " data."), call))
  }
  dtype <- spec$dtype
  kind <- .dtype_kind(dtype)
  if (identical(kind, "float") && !dtype %in% c("float16", "float32", "float64")) {
    dtype <- "float32"  # e.g. bfloat16, which NumPy lacks: hubfn casts float32 to it
  }
  np_dtype <- switch(typeof(x),
    double = if (identical(kind, "float")) dtype
             else if (identical(kind, "int") && all(is.finite(x)) && all(x == trunc(x))) dtype
             else if (is.null(kind)) "float32"
             else "float64",  # left for hubfn to refuse with its own message
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

# Inputs for a signature, prepared for apply_r(): one value, or a named list (-> dict by input name).
.prep_inputs <- function(inputs, specs = NULL, call = NULL) {
  if (is.list(inputs) && !inherits(inputs, "python.builtin.object")) {
    nms <- names(inputs)
    if (is.null(nms) || any(!nzchar(nms))) {
      if (length(inputs) == 1L && is.null(nms)) {
        return(.prep_inputs(inputs[[1]], specs, call))
      }
      stop(.input_error(paste0("Inputs given as a list must be named, one element per input",
                               if (length(specs)) paste0(" (", paste(names(specs), collapse = ", "), ")"),
                               "."), call))
    }
    prepped <- lapply(nms, function(n) .prep_value(inputs[[n]], specs[[n]], call))
    names(prepped) <- nms
    return(list(prepped = prepped, single = FALSE))
  }
  spec <- if (length(specs) == 1L) specs[[1]] else NULL
  list(prepped = list(.prep_value(inputs, spec, call)), single = TRUE)
}

.py_helper <- function(name) {
  f <- .hubfn_env$helper_fns[[name]]
  if (is.null(f)) {
    f <- reticulate::py_get_attr(.py_helpers(), name)
    .hubfn_env$helper_fns[[name]] <- f
  }
  f
}

# NumPy arrays of rank 0 and 1 arrive as 1-d R arrays: make them plain vectors.
.drop_1d <- function(r) {
  if (is.atomic(r) && length(dim(r)) == 1L) dim(r) <- NULL
  r
}

# A Python dict -> a named R list of its (unconverted) values, keys sorted.
.py_dict_to_list <- function(d) {
  keys <- unlist(reticulate::py_to_r(reticulate::py_call(.py_helper("sorted_keys"), d)))
  out <- lapply(keys, function(k) reticulate::py_get_item(d, k))
  names(out) <- keys
  out
}
