# Modules as Keras 3 layers: hubfn.hub_layer()'s Python layer through reticulate (Debian has no R keras
# package), with R tfhub's calling conventions (compose with a model or tensor, %>%, callable from R).

#' A Keras 3 layer wrapping a module
#'
#' `layer_hub()` is R tfhub's: with a Keras model as `object` it adds the layer to the model and returns
#' the model; with a tensor (from `keras$Input()`, say) or an R array it returns the layer applied to it;
#' without `object` it returns the layer itself: the Python Keras layer (hubfn's `HubLayer`), as R tfhub
#' returns `KerasLayer`. R reads and sets its fields (`layer$name`, `layer$get_weights()`,
#' `layer$trainable_weights`, `layer$trainable <- TRUE`), hands it to Python (`reticulate::py_call(layer,
#' x)`, a list of layers for `keras$Sequential()`), and calls it as a function: `layer(x)`,
#' `input %>% layer()`, where `x` may be a tensor, a Keras model (the layer is added to it) or an R array
#' or character vector (numbers as float32). Without `handle`, `object` is the handle (or a module, or a
#' layer, returned as it is). `hub_layer()` returns the same layer, without `layer_hub()`'s dtype choice.
#'
#' `...` reaches the Keras layer (`input_shape`, `name`, `dtype`, ...) and hubfn's layer options
#' (`signature`, `output_key`, `output_shape`, `tags`); shapes' numbers become integers (`NA` unknown).
#' Without `dtype`, a module whose one input is not a float (a text embedding's strings) gives the layer
#' that dtype, so a Sequential model built on its first batch makes its input of that dtype. The fetch
#' settings are this layer's only and are not saved with a model. Keras 3 is used through reticulate:
#' `keras <- reticulate::import("keras")` (there is no R keras package here).
#'
#' @param object `NULL`/missing, a Keras model, a tensor or an R array (numbers as float32); with no
#'   `handle`, the handle.
#' @param handle A handle (see [hub_load()]), or a module (its handle is used).
#' @param trainable Whether fitting the model trains the module's variables.
#' @param arguments A named list of extra keyword arguments for the module's function.
#' @param ... Passed to the layer (see Details).
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
  layer <- hub_layer(handle, trainable = trainable, arguments = arguments, ..., cache_dir = cache_dir,
                     offline = offline, timeout = timeout, token = token, settings = settings,
                     safe_mode = safe_mode, allow_ops = allow_ops, hub = hub)
  # Keras 3 builds a Sequential model's input, when none is given, with the first layer's dtype.
  if (!"dtype" %in% names(list(...))) reticulate::py_call(.py_helper("take_input_dtype"), layer)
  if (missing(object) || is.null(object)) layer else .compose(object, layer)
}

#' @rdname layer_hub
#' @export
hub_layer <- function(handle, trainable = FALSE, signature = NULL, output_key = NULL, arguments = NULL, tags = NULL,
                      ..., cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL, settings = NULL,
                      safe_mode = NULL, allow_ops = NULL, hub = NULL) {
  fetch <- c(.fetch_args(cache_dir, offline, timeout, token, settings, hub), .safety_args(safe_mode, allow_ops))
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
  # Converting, as R keras does: the layer comes back through py_to_r_wrapper (below), callable from R.
  .py_call(do.call(.hubfn_fn("hub_layer", convert = TRUE),
                   c(list(h, trainable = isTRUE(trainable), signature = signature, output_key = output_key,
                          arguments = args, tags = .as_tags(tags)), kwargs, fetch)))
}

# The R class reticulate gives hubfn's Python layer (its Python class).
.layer_class <- "hubfn.tune.keras_layer.HubLayer"

# Add the layer to a model, or apply it to a tensor or R array (`...`: the call's, e.g. training = TRUE).
.compose <- function(object, layer, ...) {
  if (inherits(object, .layer_class)) {
    stop(structure(class = c("hubfn_type_error", "hubfn_error", "error", "condition"),
                   list(message = "layer_hub(object = ) takes a Keras model, a tensor or an R array, not another layer.",
                        call = sys.call(-1L))))
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

# How R calls the Python layer, layer(x): reticulate makes a callable Python object an R function
# through this generic, so the layer stays the Python object (fields, py_call, Python APIs) while R
# calls compose as layer_hub(x, ...) does, R arrays and character vectors included (as R keras does
# for its layers).
#' @rawNamespace S3method(reticulate::py_to_r_wrapper, hubfn.tune.keras_layer.HubLayer)
NULL

py_to_r_wrapper.hubfn.tune.keras_layer.HubLayer <- function(x) {
  force(x)
  function(object, ...) .compose(object, x, ...)
}
