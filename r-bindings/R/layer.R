#' A Keras 3 layer wrapping a module
#'
#' `hub_layer()` returns the Python Keras 3 layer of `hubfn.hub_layer()` (there is no R keras
#' package here: use it through reticulate, e.g. `keras <- reticulate::import("keras")`).
#' `layer_hub()` is the keras-style form: given a Keras model it adds the layer and returns the
#' model; given a tensor it applies the layer; without `object` it returns the layer.
#'
#' @param handle A handle (see [hub_load()]), or a module (its handle is used).
#' @param trainable Whether fitting the model trains the module's variables.
#' @param signature The signature to call (`NULL`: the module's default).
#' @param output_key Which output to return when the signature has several.
#' @param arguments A named list of extra keyword arguments for the module's function.
#' @inheritParams hub_load
#' @return A Keras layer (a Python object).
#' @examples
#' \dontrun{
#' keras <- reticulate::import("keras")
#' model <- keras$Sequential(list(keras$Input(shape = list(2L)),
#'                                hub_layer("/path/to/fruit", trainable = TRUE)))
#' model$compile(optimizer = "sgd", loss = "mse")
#' }
#' @export
hub_layer <- function(handle, trainable = FALSE, signature = NULL, output_key = NULL,
                      arguments = NULL, tags = NULL) {
  h <- if (inherits(handle, c("hubfn_module", "hubfn.module.Module"))) {
    reticulate::py_to_r(.py_module_of(handle)$handle)  # the layer loads the module by its handle
  } else {
    as.character(handle)
  }
  fn <- .hubfn_fn("hub_layer", "tune.keras_layer")
  .sync_env()
  args <- if (is.null(arguments)) NULL else reticulate::dict(arguments, convert = FALSE)
  .py_call(fn(h, trainable = isTRUE(trainable), signature = signature, output_key = output_key,
              arguments = args, tags = .as_tags(tags)))
}

#' @rdname hub_layer
#' @param object `NULL`/missing, a Keras model (the layer is added to it), or a tensor or R array
#'   (the layer is applied to it; R numbers as float32).
#' @param ... The arguments of `hub_layer()`.
#' @export
layer_hub <- function(object, handle, ...) {
  layer <- hub_layer(handle, ...)
  if (missing(object) || is.null(object)) {
    return(layer)
  }
  if (!inherits(object, "python.builtin.object")) {
    object <- reticulate::np_array(object, dtype = "float32")  # R numbers -> a float32 batch
  } else if (reticulate::py_has_attr(object, "add") && reticulate::py_has_attr(object, "layers")) {
    .py_call(object$add(layer))
    return(invisible(object))
  }
  .py_call(reticulate::py_call(layer, object))
}
