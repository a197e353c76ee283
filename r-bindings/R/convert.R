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

# One R value -> a NumPy array (or the Python object itself), for the input `spec`
# (list(name, dtype, shape) or NULL when the signature is not known).
.to_py_value <- function(x, spec = NULL, call = NULL) {
  if (inherits(x, "python.builtin.object")) {
    return(x)
  }
  if (inherits(x, "hubfn_module")) {
    return(attr(x, "py_module"))
  }
  what <- if (is.null(spec$name)) "the input" else paste0("input '", spec$name, "'")
  if (is.factor(x)) {
    x <- array(as.character(x), dim = dim(x), dimnames = NULL)
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
  rank0 <- !is.null(shape) && length(shape) == 0L
  if (is.null(dim(x)) && !is.null(shape) && length(shape) == 2L && !is.na(shape[[2]]) &&
      length(x) == shape[[2]] && length(x) > 1L) {
    dim(x) <- c(1L, length(x))  # one example for a [?, k] input
  }
  arr <- reticulate::np_array(x, dtype = np_dtype, order = "C")
  if (rank0 && length(x) == 1L) {
    arr <- arr$reshape(reticulate::tuple())
  }
  arr
}

# Inputs for a signature: one value, or a named list (-> dict keyed by input name).
.to_py_inputs <- function(inputs, specs = NULL, call = NULL) {
  if (is.list(inputs) && !inherits(inputs, "python.builtin.object")) {
    nms <- names(inputs)
    if (is.null(nms) || any(!nzchar(nms))) {
      if (length(inputs) == 1L && is.null(nms)) {
        return(.to_py_inputs(inputs[[1]], specs, call))
      }
      stop(.input_error(paste0("Inputs given as a list must be named, one element per input",
                               if (length(specs)) paste0(" (", paste(names(specs), collapse = ", "), ")"),
                               "."), call))
    }
    out <- reticulate::py_dict(list(), list(), convert = FALSE)
    for (n in nms) {
      reticulate::py_set_item(out, n, .to_py_value(inputs[[n]], specs[[n]], call))
    }
    return(out)
  }
  spec <- if (length(specs) == 1L) specs[[1]] else NULL
  .to_py_value(inputs, spec, call)
}

# A tensor or array -> an R vector (rank 1), scalar (rank 0) or array; other objects via py_to_r.
.to_r_value <- function(x) {
  if (!inherits(x, "python.builtin.object")) {
    return(x)
  }
  h <- .py_helpers()
  if (reticulate::py_to_r(h$is_tensor(x)) || inherits(x, "numpy.ndarray")) {
    r <- reticulate::py_to_r(h$to_numpy(x))
    if (length(dim(r)) <= 1L) dim(r) <- NULL
    return(r)
  }
  if (inherits(x, "python.builtin.dict")) {
    return(.to_r_dict(x))
  }
  reticulate::py_to_r(x)
}

.to_r_dict <- function(d, convert = TRUE) {
  keys <- reticulate::py_to_r(reticulate::import_builtins(convert = FALSE)$sorted(d))
  out <- lapply(keys, function(k) {
    v <- reticulate::py_get_item(d, k)
    if (convert) .to_r_value(v) else v
  })
  names(out) <- unlist(keys)
  out
}
