# Modules as Keras 3 layers, from R. There is no R keras package on Debian, so the layer is the
# Python Keras 3 layer of hubfn.hub_layer(), used through reticulate; layer_hub() gives it R
# tfhub's calling conventions (compose with a model or tensor, %>%, a layer callable from R).

#' A Keras 3 layer wrapping a module
#'
#' `layer_hub()` follows R tfhub's `layer_hub()`: with a Keras model as `object` it adds the layer
#' to the model and returns the model; with a tensor (e.g. from `keras$Input()`) or an R array it
#' applies the layer and returns the result; without `object` it returns the layer, which you can
#' call from R like a function (`features <- layer_hub(handle = h); output <- features(input)`)
#' or put in a list of layers. So it works with `%>%`:
#' `model <- keras$Sequential() %>% layer_hub(handle = h, input_shape = c(64))`.
#'
#' `...` reaches the Keras layer (`input_shape`, `name`, `dtype`, ...) and hubfn's layer options
#' (`signature`, `output_key`, `output_shape`, `tags`). R numbers in `input_shape` and
#' `output_shape` become integers (`NA` or `NULL` an unknown dimension).
#'
#' The fetch settings (`cache_dir`, `offline`, `timeout`, `token`, `settings`) are hubfn's, as in
#' [hub_load()]: they say where and how the module is fetched, for this layer only, and are not
#' saved with a model (a reloaded model fetches with the settings of its own session).
#'
#' `hub_layer()` is the plain form: it returns the Python layer object.
#'
#' There is no R `keras` package here (Debian does not package it): build and fit models with
#' Keras 3 through reticulate, `keras <- reticulate::import("keras")`.
#'
#' @param object `NULL`/missing, a Keras model (the layer is added to it), or a tensor or R array
#'   (the layer is applied to it; R numbers as float32).
#' @param handle A handle (see [hub_load()]), or a module (its handle is used).
#' @param trainable Whether fitting the model trains the module's variables.
#' @param arguments A named list of extra keyword arguments for the module's function.
#' @param ... Passed to the layer (see Details).
#' @param signature The signature to call (`NULL`: the module's default).
#' @param output_key Which output to return when the signature has several.
#' @inheritParams hub_load
#' @return `layer_hub()`: the model, the output tensor, or an R function of class `hubfn_layer`
#'   (its Python layer passes to Keras wherever a layer is expected). `hub_layer()`: the Python
#'   Keras layer.
#' @examples
#' \dontrun{
#' keras <- reticulate::import("keras")
#' model <- keras$Sequential() %>%
#'   layer_hub(handle = "/path/to/fruit", input_shape = c(2), trainable = TRUE)
#' model$add(keras$layers$Dense(1L))
#' model$compile(optimizer = "sgd", loss = "mse")
#'
#' input <- keras$Input(shape = list(2L))
#' features <- layer_hub(handle = "/path/to/fruit")
#' output <- input %>% features()
#' }
#' @export
layer_hub <- function(object, handle, trainable = FALSE, arguments = NULL, ..., cache_dir = NULL, offline = NULL,
                      timeout = NULL, token = NULL, settings = NULL) {
  layer <- hub_layer(handle, trainable = trainable, arguments = arguments, ..., cache_dir = cache_dir,
                     offline = offline, timeout = timeout, token = token, settings = settings)
  if (missing(object) || is.null(object)) {
    return(.as_r_layer(layer))
  }
  .compose(object, layer)
}

#' @rdname layer_hub
#' @export
hub_layer <- function(handle, trainable = FALSE, signature = NULL, output_key = NULL,
                      arguments = NULL, tags = NULL, ..., cache_dir = NULL, offline = NULL, timeout = NULL,
                      token = NULL, settings = NULL) {
  fetch <- .fetch_args(cache_dir, offline, timeout, token, settings)
  h <- if (inherits(handle, c("hubfn_module", "hubfn.module.Module"))) {
    reticulate::py_to_r(.py_module_of(handle)$handle)  # the layer loads the module by its handle
  } else {
    as.character(handle)
  }
  # Converting, as R keras does: the layer is then callable from R, layer(x).
  fn <- .hubfn_fn("hub_layer", convert = TRUE)
  .sync_env()
  args <- if (is.null(arguments)) NULL else reticulate::dict(arguments, convert = FALSE)
  kwargs <- .layer_kwargs(list(...))
  .py_call(do.call(fn, c(list(h, trainable = isTRUE(trainable), signature = signature,
                              output_key = output_key, arguments = args, tags = .as_tags(tags)),
                         kwargs, fetch)))
}

# R values for Keras' keyword arguments: shapes as lists of integers (NULL for NA), a dtype as is.
.layer_kwargs <- function(kwargs) {
  for (name in intersect(names(kwargs), c("input_shape", "output_shape", "batch_input_shape"))) {
    s <- kwargs[[name]]
    if (!is.null(s) && !inherits(s, "python.builtin.object")) {
      kwargs[[name]] <- reticulate::tuple(lapply(as.list(s), function(d) {
        if (is.null(d) || is.na(d)) NULL else as.integer(d)
      }))
    }
  }
  kwargs
}

# Add the layer to a model, or apply it to a tensor or R array.
.compose <- function(object, layer) {
  if (inherits(object, "hubfn_layer")) {
    stop(structure(class = c("hubfn_type_error", "hubfn_error", "error", "condition"),
                   list(message = "layer_hub(object = ) takes a Keras model, a tensor or an R array, not another layer.",
                        call = sys.call(-1L))))
  }
  if (!inherits(object, "python.builtin.object")) {
    object <- reticulate::np_array(object, dtype = "float32")  # R numbers -> a float32 batch
  } else if (.py_has(object, "add") && .py_has(object, "layers")) {
    .py_call(object$add(layer))
    return(object)
  }
  .py_call(reticulate::py_call(layer, object))
}

# A Python Keras layer as an R function that composes like layer_hub(object, ...) does.
.as_r_layer <- function(layer) {
  f <- function(object, ...) .compose(object, layer)
  attr(f, "py_layer") <- layer
  class(f) <- c("hubfn_layer", "function")
  f
}

#' @export
`$.hubfn_layer` <- function(x, name) {
  attr(x, "py_layer", exact = TRUE)[[name]]
}

#' @export
`$<-.hubfn_layer` <- function(x, name, value) {
  layer <- attr(x, "py_layer", exact = TRUE)
  .py_call(reticulate::py_set_attr(layer, name, value))
  x
}

#' @export
print.hubfn_layer <- function(x, ...) {
  layer <- attr(x, "py_layer", exact = TRUE)
  cat("<hubfn layer ", as.character(layer$name), ": ", as.character(layer$handle),
      ", trainable: ", as.character(layer$trainable), ">\n", sep = "")
  invisible(x)
}

#' @rawNamespace S3method(reticulate::r_to_py, hubfn_layer)
NULL

r_to_py.hubfn_layer <- function(x, convert = FALSE) {
  attr(x, "py_layer", exact = TRUE)
}
