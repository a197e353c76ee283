# Modules as Keras 3 layers: hubfn.hub_layer()'s Python layer, with R tfhub's calling conventions.

#' A Keras 3 layer wrapping a module
#'
#' `layer_hub()` is R tfhub's: with a Keras model as `object` it adds the layer to the model and returns
#' the model; with a tensor or an R array it returns the layer applied to it; without `object`, the
#' Python Keras layer (hubfn's `HubLayer`), whose fields R reads and sets (`layer$trainable <- TRUE`) and
#' which R calls as a function, `layer(x)`, as `layer_hub(x, ...)` composes. Without `handle`, `object`
#' is the handle (or a module; a layer is returned as it is). `hub_layer()` gives the same layer, without
#' `layer_hub()`'s dtype choice: a module whose one input is not a float (strings) gives the layer that
#' dtype unless `dtype` is given. Keras 3 is used through reticulate (`reticulate::import("keras")`).
#'
#' @param object `NULL`/missing, a Keras model, a tensor or an R array; with no `handle`, the handle.
#' @param handle A handle (see [hub_load()]), or a module (its handle is used).
#' @param trainable Whether fitting the model trains the module's variables.
#' @param arguments A named list of extra keyword arguments for the module's function.
#' @param ... Passed to the Keras layer (`input_shape`, `name`, `dtype`, ...; shapes' numbers as
#'   integers, `NA` unknown) and to hubfn's layer (`signature`, `output_key`, `output_shape`, `tags`).
#' @param signature The signature to call (`NULL`: the module's `__call__`, else hubfn's choice).
#' @param output_key Which output to return when the signature has several.
#' @inheritParams hub_load
#' @return `layer_hub()`: the model, the output tensor, or the Keras layer. `hub_layer()`: the Keras layer.
#' @examples
#' \dontrun{
#' model <- keras$Sequential() %>% layer_hub(handle = "/path/to/fruit", input_shape = c(2), trainable = TRUE)
#' features <- layer_hub("/path/to/fruit", name = "fruit")
#' output <- keras$Input(shape = list(2L)) %>% features()
#' features$name; features$get_weights()
#' }
#' @export
layer_hub <- function(object, handle, trainable = FALSE, arguments = NULL, ..., cache_dir = NULL, offline = NULL,
                      timeout = NULL, token = NULL, settings = NULL, safe_mode = NULL, allow_ops = NULL, hub = NULL) {
  if (missing(handle)) {
    if (missing(object) || is.null(object)) stop("layer_hub() needs a handle (or a module).", call. = FALSE)
    if (inherits(object, .layer_class)) return(object)  # a layer made before
    handle <- object
    object <- NULL
  }
  layer <- hub_layer(handle, trainable = trainable, arguments = arguments, ..., cache_dir = cache_dir, offline = offline,
                     timeout = timeout, token = token, settings = settings, safe_mode = safe_mode, allow_ops = allow_ops, hub = hub)
  if (!"dtype" %in% names(list(...))) reticulate::py_call(.py_helper("take_input_dtype"), layer)  # for Sequential
  if (missing(object) || is.null(object)) layer else .compose(object, layer)
}

#' @rdname layer_hub
#' @export
hub_layer <- function(handle, trainable = FALSE, signature = NULL, output_key = NULL, arguments = NULL, tags = NULL,
                      ..., cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL, settings = NULL,
                      safe_mode = NULL, allow_ops = NULL, hub = NULL) {
  fetch <- .fetch_args(cache_dir, offline, timeout, token, settings, hub, safe_mode, allow_ops)
  loaded <- inherits(handle, c("hubfn_module", "hubfn.module.Module"))
  h <- if (loaded) reticulate::py_to_r(.py_module_of(handle)$handle) else as.character(handle)
  kwargs <- list(...)
  for (name in intersect(names(kwargs), c("input_shape", "output_shape", "batch_input_shape"))) {
    s <- kwargs[[name]]
    if (!is.null(s) && !inherits(s, "python.builtin.object")) {
      kwargs[[name]] <- reticulate::tuple(lapply(as.list(s), function(d) if (is.null(d) || is.na(d)) NULL else as.integer(d)))
    }
  }
  args <- if (!is.null(arguments)) reticulate::dict(lapply(arguments, .as_int), convert = FALSE)
  .sync_env()
  .py_call(do.call(.hubfn_fn("hub_layer", convert = TRUE),
                   c(list(h, trainable = isTRUE(trainable), signature = signature, output_key = output_key,
                          arguments = args, tags = .as_tags(tags)), kwargs, fetch)))
}

# The R class reticulate gives hubfn's Python layer (its Python class).
.layer_class <- "hubfn.tune.keras_layer.HubLayer"

# Add the layer to a model, or apply it to a tensor or R array (`...`: the call's, e.g. training = TRUE).
.compose <- function(object, layer, ...) {
  if (inherits(object, .layer_class)) {
    stop(.hubfn_error("type_error", "layer_hub(object = ) takes a Keras model, a tensor or an R array, not another layer.",
                      sys.call(-1L)))
  }
  if (!inherits(object, "python.builtin.object")) {  # R values: a batch of float32, or of strings
    object <- if (is.character(object) || is.factor(object)) reticulate::np_array(.unfactor(object))
              else reticulate::np_array(object, dtype = "float32")
  } else if (.py_has(object, "add") && .py_has(object, "layers")) {
    .py_call(object$add(layer))
    return(object)
  }
  .py_call(reticulate::py_call(layer, object, ...))
}

# How R calls the Python layer, layer(x): reticulate makes a callable Python object an R function through
# this generic; calls compose as layer_hub(x, ...) does (as R keras does for its layers).
#' @rawNamespace S3method(reticulate::py_to_r_wrapper, hubfn.tune.keras_layer.HubLayer)
NULL

py_to_r_wrapper.hubfn.tune.keras_layer.HubLayer <- function(x) {
  force(x)
  function(object, ...) .compose(object, x, ...)
}
