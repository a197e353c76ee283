# Loading and applying modules: an R function of class "hubfn_module" over a Python hubfn.Module, which
# runs hubfn's call plan (asked once per (signature, training), kept with the module: .plan).

.as_tags <- function(tags) if (is.null(tags)) NULL else as.list(as.character(tags))  # character(0): {}

.py_module_of <- function(x, call = NULL) {
  if (inherits(x, "hubfn_module")) return(attr(x, "py_module"))
  if (inherits(x, "hubfn.module.Module")) return(x)
  stop(.hubfn_error("type_error", "Expected a hubfn module, as returned by hub_load() or hub_module().", call))
}

.new_module <- function(py) {
  plans <- new.env(parent = emptyenv())  # shared by every copy of the function
  f <- function(inputs, signature = NULL, as_dict = FALSE, training = FALSE, convert = TRUE, batch_size = NULL,
                progress = NULL, arguments = NULL) {
    .apply(py, plans, inputs, signature, as_dict, training, convert, batch_size, progress, arguments, sys.call())
  }
  structure(f, py_module = py, plans = plans, class = c("hubfn_module", "function"))
}

# A hubfn function of a handle (or module) with one call's fetch settings, after syncing the environment.
.fetching <- function(name, handle, fetch, ...) {
  .sync_env()
  .py_call(do.call(.hubfn()[[name]], c(list(handle, ...), fetch)), sys.call(-1L))
}

#' Load a TensorFlow Hub module
#'
#' Loads the module named by `handle` for inference, as an R function: `m(x)`, `m(list(a = ..., b =
#' ...), signature = "name", as_dict = TRUE)` (see [module_apply()] and [module-parts]).
#'
#' @param handle A module directory, or a `file://`, `http(s)://` or `kaggle:` handle (see [cache_dir()]).
#' @param tags The graph variant (tag set) to load; `NULL`: the default; `character(0)`: the empty one.
#' @param cache_dir The cache directory for this call (`~` is expanded), instead of `TFHUB_CACHE_DIR`.
#' @param offline `TRUE`: the cache only, never the network (a module not in it is a
#'   `hubfn_offline_error`); `FALSE`: download even if `HUBFN_OFFLINE` is set.
#' @param timeout Seconds to wait for connecting and for each read: a number, or `c(connect, read)`.
#' @param token A bearer token for a private hub, sent only to the handle's host and over `https://`
#'   (unless `token_over_http`, see [hub_settings()]); or tokens by host, `c("hub.example.com" = "...")`.
#' @param settings A value from [hub_settings()]; the arguments named in the call replace what it holds.
#' @param hub A value from [hub_hub()] (settings and resolvers); as for `settings`.
#' @param safe_mode `TRUE`: refuse a module holding ops that reach outside it (file writes and reads,
#'   the network, ...) with a `hubfn_unsafe_module_error`; `FALSE`: load it anyway; `NULL`: `HUBFN_SAFE_MODE`.
#' @param allow_ops Op types to allow in safe mode, e.g. `c("WriteFile")` (added to `HUBFN_ALLOW_OPS`).
#' @return A `hubfn_module`, a function of `(inputs, signature = NULL, as_dict = FALSE, training = FALSE,
#'   convert = TRUE, batch_size = NULL, progress = NULL, arguments = NULL)`.
#' @examples
#' \dontrun{
#' m <- hub_load("https://example.com/acme/fruit/1", cache_dir = "~/hub-cache", timeout = c(5, 30))
#' m(matrix(c(1, 2, 3, 4), 2, byrow = TRUE))
#' m(list(apples = c(1, 2), oranges = c(3, 4)), signature = "fruit_to_pet", as_dict = TRUE)$cats
#' }
#' @export
hub_load <- function(handle, tags = NULL, cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL,
                     settings = NULL, safe_mode = NULL, allow_ops = NULL, hub = NULL) {
  fetch <- .fetch_args(cache_dir, offline, timeout, token, settings, hub, safe_mode, allow_ops)
  .new_module(.fetching("hub_load", as.character(handle), fetch, tags = .as_tags(tags)))
}

#' A module, trainable or not
#'
#' [hub_load()] for fine-tuning: with `trainable = TRUE` the module's variables train and `m(x, training =
#' TRUE)` runs its `__call__` in training mode (a TF1 hub module's `"train"` graph variant by default).
#'
#' @param handle_or_module A handle, or a module already loaded (not fetched again).
#' @param trainable Whether the module's variables are to be trained.
#' @inheritParams hub_load
#' @return A `hubfn_module`.
#' @export
hub_module <- function(handle_or_module, trainable = FALSE, tags = NULL, cache_dir = NULL, offline = NULL,
                       timeout = NULL, token = NULL, settings = NULL, safe_mode = NULL, allow_ops = NULL, hub = NULL) {
  fetch <- .fetch_args(cache_dir, offline, timeout, token, settings, hub, safe_mode, allow_ops)
  h <- if (inherits(handle_or_module, c("hubfn_module", "hubfn.module.Module"))) .py_module_of(handle_or_module)
       else as.character(handle_or_module)
  .new_module(.fetching("hub_module", h, fetch, trainable = isTRUE(trainable), tags = .as_tags(tags)))
}

#' Apply a module to R values
#'
#' Runs the function hubfn chooses (`signature`, else `"default"`, `__call__`, `"serving_default"`, the
#' only signature) on R values: vectors, matrices, arrays, factors, data frames, tensors; several inputs
#' as a named list, or an unnamed one in input order. Outputs are R arrays (a vector for rank 1),
#' character for strings, lists of arrays for lists of tensors. The R guide has the conversion rules.
#'
#' @param module A module from [hub_load()] or [hub_module()].
#' @param inputs One value, or a list of values.
#' @param signature The signature, `"__call__"` or callable sub-object to run; `NULL`: hubfn's choice.
#' @param as_dict `TRUE`: every output, in a named list; `FALSE`: the default (or only) one.
#' @param training Run the module's `__call__` in training mode (fine-tuning).
#' @param convert `FALSE` gives TensorFlow tensors (with `batch_size`, NumPy arrays) instead of R values.
#' @param batch_size A whole number: apply to at most that many rows at a time and join the outputs.
#' @param progress With `batch_size`, a progress bar: `NULL` on a terminal only, `TRUE`, `FALSE`.
#' @param arguments A named list of keyword arguments for a `__call__` or sub-object (whole numbers as
#'   integers), e.g. `list(seq_length = 16)`.
#' @return An R array, a named list of them, or tensors.
#' @section Errors: classes such as `hubfn_input_error`, with hubfn's fields (see [hubfn-package]).
#' @examples
#' \dontrun{
#' module_apply(m, list(apples = 1:3, oranges = c(0.5, 1, 2)), signature = "fruit_to_pet", as_dict = TRUE)
#' tryCatch(m(list(apples = 1), signature = "fruit_to_pet"), hubfn_input_error = function(e) e$expected)
#' emb <- module_apply(m, matrix(runif(2e6), ncol = 2), batch_size = 10000)
#' }
#' @export
module_apply <- function(module, inputs, signature = NULL, as_dict = FALSE, training = FALSE, convert = TRUE,
                         batch_size = NULL, progress = NULL, arguments = NULL) {
  plans <- attr(module, "plans")
  .apply(.py_module_of(module, sys.call()), if (is.null(plans)) new.env() else plans, inputs, signature, as_dict,
         training, convert, batch_size, progress, arguments, sys.call())
}

# The plan for (signature, training), made on first use and kept (hubfn_r_helpers.runner): its Way as
# data, and its function as a Python object whose results R converts (run_r) or not (run).
.plan <- function(py, plans, signature, training) {
  key <- if (is.null(signature)) "\r" else signature
  kept <- plans[[key]]  # list(plan without training, plan with training)
  p <- kept[[training + 1L]]
  if (is.null(p)) {
    if (is.null(kept)) kept <- list(NULL, NULL)
    got <- .py_call(reticulate::py_call(.py_helper("runner"), py, signature, training), sys.call(-1L))
    again <- reticulate::py_call(.py_helper("runner", convert = TRUE), py, signature, training)
    kept[[training + 1L]] <- p <- list(way = reticulate::py_to_r(reticulate::py_get_item(got, 0L)),
                                       run = reticulate::py_get_item(got, 1L), run_r = reticulate::py_get_item(again, 1L))
    plans[[key]] <- kept
  }
  p
}

# R inputs as the runner takes them, list(values, r_list): one value, or an R list of them (r_list TRUE;
# reticulate passes a named one as a dict). A data frame is a matrix, or one input per column for several inputs.
.r_inputs <- function(inputs, p, call) {
  df <- is.object(inputs) && inherits(inputs, "data.frame")
  if (!is.list(inputs) || df && length(p$way$inputs) < 2L) return(list(.r_value(inputs, call), FALSE))
  if (df) inputs <- as.list(inputs)
  nms <- names(inputs)  # some named, others not: an input error (hubfn_r_helpers._pack)
  if (!is.null(nms) && !any(nzchar(nms))) names(inputs) <- nms <- NULL
  for (i in seq_along(inputs)) {
    v <- inputs[[i]]  # an R number vector (the common case) gets its 1-d dim here, as .r_value gives it
    inputs[[i]] <- if (is.double(v) && !is.object(v) && is.null(dim(v))) `dim<-`(v, length(v)) else .r_value(v, call, nms[i])
  }
  list(inputs, TRUE)
}

.apply <- function(py, plans, inputs, signature, as_dict, training, convert, batch_size, progress, arguments, call) {
  p <- .plan(py, plans, if (!is.null(signature)) as.character(signature), isTRUE(training))
  as_dict <- isTRUE(as_dict)
  convert <- isTRUE(convert)
  x <- .r_inputs(inputs, p, call)
  if (is.null(batch_size) && is.null(arguments)) {
    out <- .hubfn_env$call(if (convert) p$run_r else p$run, c(x, as_dict, convert), NULL)  # see .onLoad
  } else {
    out <- reticulate::py_call(.py_helper("apply"), py, x[[1]], x[[2]], convert = convert, signature = signature,
                               as_dict = as_dict, training = isTRUE(training), batch_size = batch_size, progress = progress,
                               arguments = if (!is.null(arguments)) reticulate::dict(lapply(arguments, .as_int), convert = FALSE))
  }
  if (convert) out <- .hubfn_env$to_r(out)  # list(the outputs): an R array, or a named list of them with as_dict
  if (!is.list(out) && inherits(out, "python.builtin.BaseException")) stop(.py_condition(out, call))  # hubfn's "r" policy
  if (!convert) return(if (as_dict) .py_dict_to_list(out) else out)
  .drop_1d(out[[1]])
}

#' The signatures of a module
#'
#' What each function of a module takes and gives, read from `saved_model.pb`: a handle is resolved
#' (fetched) but not loaded. `hub_signatures()` is another name.
#'
#' @param module_or_handle A module, or a handle.
#' @inheritParams hub_load
#' @return A list named by function of lists of `name`, `inputs`, `outputs` (each a list of `name`,
#'   `dtype`, `shape` with `NA` unknown, and `kind` when not dense) and, for a function saved for other
#'   forms of inputs too, `alternatives` (a list of `inputs` per form).
#' @export
module_signatures <- function(module_or_handle, cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL,
                              settings = NULL, hub = NULL) {
  fetch <- .fetch_args(cache_dir, offline, timeout, token, settings, hub)
  sigs <- if (inherits(module_or_handle, c("hubfn_module", "hubfn.module.Module")))
    .py_call(.hubfn()$module_signatures(.py_module_of(module_or_handle)))  # loaded: nothing to fetch
  else .fetching("module_signatures", as.character(module_or_handle), fetch)
  .drop_1d(reticulate::py_to_r(reticulate::py_call(.py_helper("signatures_for_r"), sigs)))  # shapes as vectors
}

#' @rdname module_signatures
#' @export
hub_signatures <- module_signatures

#' Resolve a handle to a local directory
#'
#' Local directories and `file://` URLs are checked; other handles are downloaded once into the cache.
#'
#' @inheritParams hub_load
#' @return The module's local directory.
#' @export
hub_resolve <- function(handle, cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL, settings = NULL,
                        hub = NULL) {
  reticulate::py_to_r(.fetching("hub_resolve", as.character(handle), .fetch_args(cache_dir, offline, timeout, token, settings, hub)))
}

#' Parts of a module
#'
#' `m$name` and `m[["name"]]` read a field of the Python `hubfn.Module` (`handle`, `path`, `format`,
#' `tags`, `trainable`, `variables`, ...). `m$signatures` is a named list of R functions giving every
#' output: `m$signatures$fruit_to_pet(list(apples = 1, oranges = 2))$cats`. Another function of the
#' module by name (a BERT preprocessor's `tokenize`) is `function(inputs, ..., convert = TRUE)`, `...`
#' its keyword arguments. `summary(m)` lists the functions' inputs and outputs; `str(m)` the fields.
#'
#' @param x,object A module.
#' @param name A field, `"signatures"` or a function's name.
#' @param ... Ignored.
#' @return An R value, a list of functions, or a function.
#' @name module-parts
NULL

#' @rdname module-parts
#' @export
`$.hubfn_module` <- function(x, name) .module_part(x, name)

#' @rdname module-parts
#' @export
`[[.hubfn_module` <- function(x, name, ...) .module_part(x, name)

.module_part <- function(x, name) {
  py <- attr(x, "py_module")
  if (identical(name, "signatures")) {
    names <- unlist(reticulate::py_to_r(reticulate::py_call(.py_helper("function_names"), py)))
    return(stats::setNames(lapply(names, function(n) function(inputs, training = FALSE, convert = TRUE) {
      module_apply(x, inputs, signature = n, as_dict = TRUE, training = training, convert = convert)
    }), names))
  }
  p <- if (!.py_has(py, name)) tryCatch(.plan(py, attr(x, "plans"), name, FALSE), hubfn_signature_error = function(e) NULL)
  if (!is.null(p)) {
    return(function(inputs, ..., convert = TRUE) {
      module_apply(x, inputs, signature = name, as_dict = isTRUE(p$way$returns_dict), convert = convert,
                   arguments = if (...length()) list(...))
    })
  }
  v <- .py_call(reticulate::py_get_attr(py, name))
  if (inherits(v, c("python.builtin.frozenset", "python.builtin.set"))) v <- reticulate::import_builtins(FALSE)$sorted(v)
  plain <- paste0("python.builtin.", c("str", "bool", "int", "float", "NoneType", "list", "tuple"))
  if (inherits(v, plain)) reticulate::py_to_r(v) else v
}

# What print(), summary() and str() show (hubfn_r_helpers.module_text).
.module_text <- function(x, what) reticulate::py_to_r(reticulate::py_call(.py_helper("module_text"), attr(x, "py_module"), what))

#' @export
print.hubfn_module <- function(x, ...) { cat(.module_text(x, "print")); invisible(x) }

#' @rdname module-parts
#' @export
summary.hubfn_module <- function(object, ...) {
  structure(list(handle = object$handle, path = object$path, format = object$format, tags = object$tags,
                 trainable = object$trainable, variables = length(object$variables),
                 signatures = module_signatures(object), text = .module_text(object, "summary")),
            class = "summary.hubfn_module")
}

#' @export
print.summary.hubfn_module <- function(x, ...) { cat(x$text); invisible(x) }

#' @rdname module-parts
#' @export
str.hubfn_module <- function(object, ...) invisible(cat(.module_text(object, "str")))

# Passing a module to Python (a reticulate call, say) passes its hubfn.Module.
#' @importFrom reticulate r_to_py
#' @rawNamespace S3method(reticulate::r_to_py, hubfn_module)
NULL

r_to_py.hubfn_module <- function(x, convert = FALSE) attr(x, "py_module")
