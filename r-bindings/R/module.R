# Loading and applying modules; a module is an R function of class "hubfn_module".

.as_tags <- function(tags) {
  if (is.null(tags)) NULL else as.list(as.character(tags))  # character(0) is the empty tag set
}

.py_module_of <- function(x, call = NULL) {
  if (inherits(x, "hubfn_module")) {
    return(attr(x, "py_module"))
  }
  if (inherits(x, "hubfn.module.Module")) {
    return(x)
  }
  stop(structure(class = c("hubfn_type_error", "hubfn_error", "error", "condition"),
                 list(message = "Expected a hubfn module, as returned by hub_load() or hub_module().",
                      call = call)))
}

# What R needs to know of a module, read once at load: its signatures and functions as R data
# (module_signatures(), summary()), the input specs of each (named by input), and (for a TF2
# module) its `__call__`'s, which R needs to convert R doubles to integer inputs such as a BERT
# encoder's ids.
.module_info <- function(py) {
  sigs <- reticulate::py_to_r(.hubfn()$module_signatures(py))
  signatures <- .tidy_signatures(sigs)
  specs <- lapply(signatures, function(s) .by_name(s$inputs))
  has_call <- reticulate::py_to_r(py$has_call)
  if (has_call && is.null(specs[["__call__"]])) {
    call_specs <- reticulate::py_to_r(.py_call(reticulate::py_call(.py_helper("call_input_specs"), py)))
    if (!is.null(call_specs)) specs[["__call__"]] <- .specs_of(call_specs)
  }
  signature_names <- vapply(Filter(function(s) !identical(s$kind, "function"), sigs), `[[`, "", "name")
  list(signatures = signatures, specs = specs, signature_names = signature_names, has_call = has_call,
       handle = reticulate::py_to_r(py$handle))
}

# hubfn's module_signatures() as R data: a list named by function of list(name, inputs, outputs),
# each tensor a list(name, dtype, shape).
.tidy_signatures <- function(sigs) {
  out <- lapply(sigs, function(s) list(name = s$name, inputs = .tidy_tensors(s$inputs),
                                       outputs = .tidy_tensors(s$outputs)))
  .by_name(out)
}

.tidy_tensors <- function(ts) {
  lapply(ts, function(t) list(name = t$name, dtype = t$dtype, shape = .r_shape(t$shape)))
}

.by_name <- function(xs) {
  names(xs) <- vapply(xs, `[[`, "", "name")
  xs
}

.specs_of <- function(inputs) .by_name(.tidy_tensors(inputs))

# The functions a module can run by name: its signatures and functions, and __call__.
.function_names <- function(info) {
  fns <- names(info$specs)
  if (info$has_call && !"__call__" %in% fns) c(fns, "__call__") else fns
}

.r_shape <- function(shape) {
  if (is.null(shape)) NULL else vapply(shape, function(d) if (is.null(d)) NA_integer_ else as.integer(d), 1L)
}

# The name and input specs of the function module_apply() will run, in the order of hubfn's
# choice (hubfn.apply._select): "default", else __call__, else "serving_default" (e.g. a Keras 3
# export), else the only signature. Specs NULL when not known (hubfn then checks the inputs itself).
.pick_specs <- function(info, signature, training) {
  specs <- info$specs
  pick <- function(name) list(name = name, specs = specs[[name]])
  sigs <- info$signature_names  # SignatureDefs only, not __call__ or sub-objects
  call <- function() {  # __call__'s saved specs; without them it takes what "default" takes
    list(name = "__call__", specs = if (!is.null(specs[["__call__"]])) specs[["__call__"]]
                                    else if ("default" %in% sigs) specs[["default"]])
  }
  if (!is.null(signature)) {
    return(pick(signature))  # NULL specs for an unknown name: hubfn then says so
  }
  if (training && info$has_call) {
    return(call())  # signatures are traced for inference: only __call__ takes training = TRUE
  }
  if ("default" %in% sigs) {
    return(pick("default"))
  }
  if (info$has_call) {
    return(call())
  }
  if ("serving_default" %in% sigs) {
    return(pick("serving_default"))
  }
  if (length(sigs) == 1L) {
    return(pick(sigs))
  }
  list(name = NULL, specs = NULL)
}

.apply <- function(py, info, inputs, signature, as_dict, training, convert, call,
                   batch_size = NULL, progress = NULL) {
  if (!is.null(signature)) signature <- as.character(signature)
  chosen <- .pick_specs(info, signature, isTRUE(training))
  where <- function(input) sprintf("Input '%s' of %s ('%s')", input,
                                   if (identical(chosen$name, "__call__")) "__call__"
                                   else sprintf("signature '%s'", chosen$name), info$handle)
  p <- .prep_inputs(inputs, chosen$specs, call, where)
  if (p$single) {  # the common case, without dicts to convert
    q <- p$prepped[[1]]
    out <- .py_call(reticulate::py_call(
      .py_helper("apply_r1"), py, q$value, q$dtype, q$scalar, signature = signature,
      as_dict = isTRUE(as_dict), training = isTRUE(training), convert = isTRUE(convert),
      batch_size = batch_size, progress = progress), call)
  } else {
    values <- unname(lapply(p$prepped, `[[`, "value"))
    dtypes <- unname(lapply(p$prepped, function(q) q$dtype))
    scalars <- vapply(p$prepped, `[[`, TRUE, "scalar", USE.NAMES = FALSE)
    out <- .py_call(reticulate::py_call(
      .py_helper("apply_rn"), py, names(p$prepped), values, dtypes, scalars,
      signature = signature, as_dict = isTRUE(as_dict), training = isTRUE(training),
      convert = isTRUE(convert), batch_size = batch_size, progress = progress), call)
  }
  if (!isTRUE(convert)) {
    return(if (isTRUE(as_dict)) .py_dict_to_list(out) else out)
  }
  r <- reticulate::py_to_r(out)
  if (isTRUE(as_dict)) .drop_1d(r) else .drop_1d(r[[1]])
}

.new_module <- function(py) {
  info <- .module_info(py)
  f <- function(inputs, signature = NULL, as_dict = FALSE, training = FALSE, convert = TRUE,
                batch_size = NULL, progress = NULL) {
    .apply(py, info, inputs, signature, as_dict, training, convert, sys.call(), batch_size, progress)
  }
  attr(f, "py_module") <- py
  attr(f, "hubfn_info") <- info
  class(f) <- c("hubfn_module", "function")
  f
}

#' Load a TensorFlow Hub module
#'
#' Loads the module named by `handle` for inference and returns it as an R function: call it on
#' R values (`m(x)`, or `m(list(a = ..., b = ...), signature = "name", as_dict = TRUE)`); see
#' [module_apply()] for the arguments. `print(m)` shows its handle, format, tags and signatures;
#' `m$name` reads an attribute of the Python `hubfn.Module` (e.g. `m$path`, `m$variables`).
#'
#' @param handle A module directory, a `file://` URL, or an `http(s)://` URL (downloaded once into
#'   the cache; see [cache_dir()]).
#' @param tags The graph variant (tag set) to load, as a character vector; `NULL` for the default,
#'   `character(0)` for the empty tag set of a TF1 hub module.
#' @param cache_dir The cache directory for this call (one path; `~` is expanded), instead of
#'   `TFHUB_CACHE_DIR` (else `<temp>/tfhub_modules`). `NULL`: the environment (or `settings`)
#'   decides.
#' @param offline `TRUE` to use the cache only, never the network (a module not in the cache is an
#'   error of class `hubfn_offline_error`); `FALSE` to download even if `HUBFN_OFFLINE` is set.
#'   `NULL`: the environment (or `settings`) decides.
#' @param timeout Seconds to wait, for connecting and for each read: one positive number, or
#'   `c(connect, read)`. `NULL`: `HUBFN_CONNECT_TIMEOUT` and `HUBFN_READ_TIMEOUT` (15 and 60).
#' @param token A bearer token for a private hub: a single string, sent only to the host the handle
#'   names (never to a host a redirect leads to), or a named character vector or list of tokens by
#'   host, `c("hub.example.com" = "...")`. Tokens are sent over `https://` only, unless
#'   `token_over_http = TRUE` (see [hub_settings()]). `NULL`: `HUBFN_TOKENS` or `~/.netrc`.
#' @param settings A value from [hub_settings()] holding any of these; the arguments named in the
#'   call replace what it holds. `NULL`: the environment.
#' @return A `hubfn_module`: a function of `(inputs, signature = NULL, as_dict = FALSE,
#'   training = FALSE, convert = TRUE, batch_size = NULL, progress = NULL)`.
#' @section Fetch settings: `cache_dir`, `offline`, `timeout`, `token` and `settings` apply to
#'   this call only: nothing global changes (not R's environment, not Python's `os.environ`), and
#'   what they do not name comes from the environment variables (see [cache_dir()]).
#' @seealso [hub_module()], [module_apply()], [module_signatures()], [hub_settings()]
#' @examples
#' \dontrun{
#' m <- hub_load("https://example.com/acme/fruit/1")
#' m(matrix(c(1, 2, 3, 4), 2, byrow = TRUE))
#' out <- m(list(apples = c(1, 2), oranges = c(3, 4)), signature = "fruit_to_pet", as_dict = TRUE)
#' out$cats
#' # this call's own cache, and a token for a private hub
#' m <- hub_load("https://hub.example.com/acme/fruit/1", cache_dir = "~/hub-cache",
#'               token = Sys.getenv("HUB_TOKEN"), timeout = c(5, 30))
#' }
#' @export
hub_load <- function(handle, tags = NULL, cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL,
                     settings = NULL) {
  fetch <- .fetch_args(cache_dir, offline, timeout, token, settings)
  .sync_env()
  py <- .py_call(do.call(.hubfn()$hub_load, c(list(as.character(handle), tags = .as_tags(tags)), fetch)))
  .new_module(py)
}

#' A module, trainable or not
#'
#' Like [hub_load()], and also for fine-tuning: with `trainable = TRUE` the module's variables can
#' be trained (`m$trainable_variables`, `m$regularization_losses`) and `m(x, training = TRUE)`
#' runs its `__call__` in training mode. A TF1 hub module with a `"train"` graph variant gets that
#' variant unless `tags` names another.
#'
#' @param handle_or_module A handle (see [hub_load()]) or a module already loaded.
#' @param trainable Whether the module's variables are to be trained.
#' @inheritParams hub_load
#' @return A `hubfn_module`. The fetch settings (`cache_dir`, ..., `settings`) apply to a handle;
#'   a module already loaded is not fetched again.
#' @examples
#' \dontrun{
#' m <- hub_module("/path/to/module", trainable = TRUE)
#' length(m$trainable_variables)
#' }
#' @export
hub_module <- function(handle_or_module, trainable = FALSE, tags = NULL, cache_dir = NULL, offline = NULL,
                       timeout = NULL, token = NULL, settings = NULL) {
  fetch <- .fetch_args(cache_dir, offline, timeout, token, settings)
  h <- if (inherits(handle_or_module, c("hubfn_module", "hubfn.module.Module"))) {
    .py_module_of(handle_or_module)
  } else {
    as.character(handle_or_module)
  }
  .sync_env()
  py <- .py_call(do.call(.hubfn()$hub_module, c(list(h, trainable = isTRUE(trainable), tags = .as_tags(tags)),
                                               fetch)))
  .new_module(py)
}

#' Apply a module to R values
#'
#' Converts the inputs to the signature's dtypes and shapes, runs the module and converts the
#' outputs back to R.
#'
#' Inputs: numeric, integer, logical and character vectors, matrices and arrays; a named list (or
#' data frame) for a signature with several inputs, keyed by input name. R doubles become the
#' signature's float type (e.g. float32), and whole-valued doubles its integer type; a plain
#' vector given to a `[?, k]` input of length `k` is one example (a 1 x k matrix). R matrices
#' arrive with the same rows and columns. Tensors (Python objects) are passed as they are.
#'
#' Outputs: an R array (a plain vector for rank 1, a number for rank 0; strings as character), or
#' with `as_dict = TRUE` a named list of them; `convert = FALSE` keeps TensorFlow tensors (e.g. to
#' compute gradients).
#'
#' @param module A module from [hub_load()] or [hub_module()].
#' @param inputs One value, or a named list of values.
#' @param signature The signature to run: `NULL` picks `"default"`, else the module's `__call__`,
#'   else `"serving_default"` (e.g. a Keras 3 export), else its only signature.
#' @param as_dict `TRUE` returns every output in a named list; `FALSE` the default (or only) one.
#' @param training Run the module's `__call__` in training mode (fine-tuning).
#' @param convert `FALSE` returns TensorFlow tensors instead of R values (with `batch_size`, the
#'   joined outputs are NumPy arrays).
#' @param batch_size `NULL` runs the module once on all the inputs; a whole number runs it on at
#'   most that many rows (examples) at a time and joins the outputs, so memory is bounded by one
#'   batch, not the whole input. Every input must have the same number of rows.
#' @param progress `NULL` shows a progress bar (on stderr) only when stderr is a terminal; `TRUE`
#'   always, `FALSE` never. Used with `batch_size`.
#' @return An R array, a named list of them, or tensors (see `convert`).
#' @section Errors: hubfn's errors arrive as R errors with hubfn's message and classes such as
#'   `hubfn_input_error`, `hubfn_signature_error`, `hubfn_output_error`, all with `hubfn_error`.
#' @examples
#' \dontrun{
#' m <- hub_load("/path/to/fruit")
#' module_apply(m, matrix(1:4, 2))
#' module_apply(m, list(apples = 1:3, oranges = c(0.5, 1, 2)), signature = "fruit_to_pet",
#'              as_dict = TRUE)
#' tryCatch(m(list(apples = 1), signature = "fruit_to_pet"),
#'          hubfn_input_error = function(e) conditionMessage(e))
#' # a million rows, 10,000 at a time
#' emb <- module_apply(m, matrix(runif(2e6), ncol = 2), batch_size = 10000)
#' }
#' @export
module_apply <- function(module, inputs, signature = NULL, as_dict = FALSE, training = FALSE,
                         convert = TRUE, batch_size = NULL, progress = NULL) {
  call <- sys.call()
  py <- .py_module_of(module, call)
  info <- attr(module, "hubfn_info")
  if (is.null(info)) info <- .module_info(py)
  .apply(py, info, inputs, signature, as_dict, training, convert, call, batch_size, progress)
}

#' The signatures of a module
#'
#' Lists what each of a module's functions takes and gives, without loading it when given a
#' handle (which may be downloaded, with the fetch settings `cache_dir`, ..., `settings`; they
#' are not used for a module already loaded). `hub_signatures()` is another name for
#' `module_signatures()`.
#'
#' @param module_or_handle A module, or a handle (see [hub_load()]).
#' @inheritParams hub_load
#' @return A list named by signature, each a list of `name`, `inputs` and `outputs`; each input or
#'   output is a list of `name`, `dtype` and `shape` (an integer vector, `NA` for unknown
#'   dimensions, `NULL` for unknown rank).
#' @examples
#' \dontrun{
#' sigs <- module_signatures("/path/to/fruit")
#' names(sigs)
#' sigs$fruit_to_pet$inputs[[1]]$dtype
#' }
#' @export
module_signatures <- function(module_or_handle, cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL,
                              settings = NULL) {
  fetch <- .fetch_args(cache_dir, offline, timeout, token, settings)
  info <- attr(module_or_handle, "hubfn_info")
  if (inherits(module_or_handle, "hubfn_module") && !is.null(info)) {
    return(info$signatures)  # read when it was loaded
  }
  if (inherits(module_or_handle, c("hubfn_module", "hubfn.module.Module"))) {
    h <- .py_module_of(module_or_handle)
    fetch <- list()  # a loaded module is not fetched
  } else {
    .sync_env()  # a handle may be resolved (downloaded)
    h <- as.character(module_or_handle)
  }
  .tidy_signatures(reticulate::py_to_r(.py_call(do.call(.hubfn()$module_signatures, c(list(h), fetch)))))
}

#' @rdname module_signatures
#' @export
hub_signatures <- module_signatures

#' Resolve a handle to a local directory
#'
#' Local directories and `file://` URLs are checked; `http(s)://` URLs are downloaded once into the
#' cache (see [cache_dir()]; `cache_dir =` names another one for this call).
#'
#' @inheritParams hub_load
#' @return The module's local directory.
#' @examples
#' \dontrun{
#' hub_resolve("https://example.com/acme/fruit/1")
#' hub_resolve("https://example.com/acme/fruit/1", cache_dir = tempfile("cache-"))
#' }
#' @export
hub_resolve <- function(handle, cache_dir = NULL, offline = NULL, timeout = NULL, token = NULL,
                        settings = NULL) {
  fetch <- .fetch_args(cache_dir, offline, timeout, token, settings)
  .sync_env()
  reticulate::py_to_r(.py_call(do.call(.hubfn()$hub_resolve, c(list(as.character(handle)), fetch))))
}

.format_tags <- function(tags) {
  if (is.null(tags)) {
    return("default")
  }
  t <- sort(unlist(tags))
  if (!length(t)) {
    return("{}")
  }
  paste0("{", paste0("\"", t, "\"", collapse = ", "), "}")
}

#' @export
print.hubfn_module <- function(x, ...) {
  py <- attr(x, "py_module")
  tags <- .module_tags(py)
  cat("<hubfn module>\n")
  cat("  handle:     ", reticulate::py_to_r(py$handle), "\n", sep = "")
  cat("  path:       ", reticulate::py_to_r(py$path), "\n", sep = "")
  cat("  format:     ", reticulate::py_to_r(py$format), "\n", sep = "")
  cat("  tags:       ", .format_tags(tags), "\n", sep = "")
  cat("  trainable:  ", reticulate::py_to_r(py$trainable), "\n", sep = "")
  cat("  signatures:\n")
  for (d in reticulate::py_to_r(.py_helpers()$describe_signatures(py))) cat("    ", d, "\n", sep = "")
  info <- attr(x, "hubfn_info")
  if (isTRUE(info$has_call) && is.null(info$specs[["default"]])) {
    ins <- vapply(info$specs[["__call__"]], function(t) {
      sprintf("%s: %s%s", t$name, t$dtype, .format_r_shape(t$shape))
    }, "")
    cat("    __call__(", paste(ins, collapse = ", "), ")\n", sep = "")
  }
  invisible(x)
}

#' Parts of a module
#'
#' `m$name` and `m[["name"]]` read a field of the Python `hubfn.Module` as an R value (`handle`,
#' `path`, `format`, `tags`, `trainable`, `variables`, `trainable_variables`, ...), with two
#' additions for R:
#' * `m$signatures` is a named list of R functions, one per signature (and `__call__` for a TF2
#'   module that has one): `m$signatures[["fruit_to_pet"]](list(apples = 1, oranges = 2))` runs that
#'   signature, as `m(..., signature = "fruit_to_pet", as_dict = TRUE)` does. [module_signatures()]
#'   describes them as data.
#' * A callable sub-object of the saved module, e.g. a BERT preprocessor's `tokenize` or
#'   `bert_pack_inputs`, is an R function applying it with the same conversions as `m()`:
#'   `m$tokenize(c("hello world"))`.
#'
#' `summary(m)` lists the signatures with their inputs and outputs; `str(m)` is a compact one-line
#' description per field.
#'
#' @param x,object A module from [hub_load()] or [hub_module()].
#' @param name The field, signature list or sub-object.
#' @param ... Ignored.
#' @return An R value, a list of functions, or a function.
#' @name module-parts
#' @examples
#' \dontrun{
#' m <- hub_load("/path/to/fruit")
#' m$path
#' names(m$signatures)
#' m$signatures$fruit_to_pet(list(apples = c(1, 2), oranges = c(3, 4)))$cats
#' summary(m)
#' }
NULL

#' @rdname module-parts
#' @export
`$.hubfn_module` <- function(x, name) {
  .module_part(x, name)
}

#' @rdname module-parts
#' @export
`[[.hubfn_module` <- function(x, name, ...) {
  .module_part(x, name)
}

.module_part <- function(x, name) {
  py <- attr(x, "py_module")
  if (identical(name, "signatures")) {
    return(.signature_functions(x))
  }
  if (!.py_has(py, name)) {
    if (name %in% names(attr(x, "hubfn_info")$specs)) {  # hubfn lists it: apply it through hubfn
      return(function(inputs, as_dict = FALSE, convert = TRUE) {
        module_apply(x, inputs, signature = name, as_dict = as_dict, convert = convert)
      })
    }
    sub <- .sub_function(x, name)  # a hubfn that does not list sub-objects
    if (!is.null(sub)) {
      return(sub)
    }
  }
  .to_r_attr(.py_call(reticulate::py_get_attr(py, name)))
}

# One R function per signature (and __call__): each runs it and returns every output.
.signature_functions <- function(m) {
  names <- .function_names(attr(m, "hubfn_info"))
  fns <- lapply(names, function(name) {
    force(name)
    function(inputs, training = FALSE, convert = TRUE) {
      module_apply(m, inputs, signature = name, as_dict = TRUE, training = training, convert = convert)
    }
  })
  names(fns) <- names
  fns
}

# A callable sub-object of the saved module (e.g. a preprocessor's `tokenize`) as an R function, or
# NULL if the module has no such callable.
.sub_function <- function(m, name) {
  py <- attr(m, "py_module")
  found <- .py_call(reticulate::py_call(.py_helper("sub_callable"), py, name))
  if (inherits(found, "python.builtin.NoneType")) {
    return(NULL)
  }
  specs <- reticulate::py_to_r(reticulate::py_call(.py_helper("sub_input_specs"), py, name))
  specs <- if (is.null(specs)) NULL else .specs_of(specs)
  handle <- attr(m, "hubfn_info")$handle
  f <- function(inputs, ..., convert = TRUE) {
    call <- sys.call()
    where <- function(input) sprintf("Input '%s' of %s ('%s')", input, name, handle)
    positional <- is.list(inputs) && !is.data.frame(inputs) && is.null(names(inputs)) &&
      is.null(specs) && !inherits(inputs, "python.builtin.object")
    if (positional) {  # e.g. bert_pack_inputs(list(segment_a, segment_b)): a Python list
      prepped <- lapply(inputs, .prep_value, call = call)
      keys <- as.character(seq_along(prepped) - 1L)
      mode <- "list"
    } else {
      p <- .prep_inputs(inputs, specs, call, where)
      prepped <- p$prepped
      keys <- if (p$single) ".single" else names(prepped)
      mode <- if (p$single) "single" else "dict"
    }
    values <- lapply(prepped, `[[`, "value")
    dtypes <- lapply(prepped, function(q) q$dtype)
    scalars <- lapply(prepped, `[[`, "scalar")
    names(values) <- names(dtypes) <- names(scalars) <- keys
    kwargs <- lapply(list(...), function(v) if (is.double(v) && length(v) == 1L && v == trunc(v)) as.integer(v) else v)
    out <- .py_call(reticulate::py_call(.py_helper("apply_sub_r"), py, name, values, dtypes, scalars, mode,
                                        if (length(kwargs)) reticulate::dict(kwargs) else NULL, convert = isTRUE(convert)), call)
    if (!isTRUE(convert)) out else .drop_1d(reticulate::py_to_r(out)[[1]])
  }
  f
}

.to_r_attr <- function(v) {
  if (inherits(v, c("python.builtin.str", "python.builtin.bool", "python.builtin.int",
                    "python.builtin.float", "python.builtin.NoneType", "python.builtin.list",
                    "python.builtin.tuple", "python.builtin.frozenset", "python.builtin.set"))) {
    if (inherits(v, c("python.builtin.frozenset", "python.builtin.set"))) {
      v <- reticulate::import_builtins(convert = FALSE)$sorted(v)
    }
    return(reticulate::py_to_r(v))
  }
  v
}

#' @rdname module-parts
#' @export
summary.hubfn_module <- function(object, ...) {
  py <- attr(object, "py_module")
  info <- attr(object, "hubfn_info")
  n_vars <- reticulate::py_len(py$variables)
  structure(list(handle = info$handle, path = reticulate::py_to_r(py$path),
                 format = reticulate::py_to_r(py$format), tags = .module_tags(py),
                 trainable = reticulate::py_to_r(py$trainable), variables = n_vars,
                 has_call = info$has_call, signatures = info$signatures,
                 call_inputs = info$specs[["__call__"]]),
            class = "summary.hubfn_module")
}

#' @export
print.summary.hubfn_module <- function(x, ...) {
  cat("hubfn module ", x$handle, "\n", sep = "")
  cat("  path:      ", x$path, "\n", sep = "")
  cat("  format:    ", x$format, ", tags: ", .format_tags(x$tags), ", trainable: ", x$trainable,
      ", variables: ", x$variables, "\n", sep = "")
  one <- function(t) sprintf("%s: %s%s", t$name, t$dtype, .format_r_shape(t$shape))
  for (s in x$signatures) {
    cat("  signature ", s$name, "\n", sep = "")
    cat("    inputs:  ", paste(vapply(s$inputs, one, ""), collapse = ", "), "\n", sep = "")
    cat("    outputs: ", paste(vapply(s$outputs, one, ""), collapse = ", "), "\n", sep = "")
  }
  if (isTRUE(x$has_call) && is.null(x$signatures[["__call__"]])) {
    cat("  __call__", if (length(x$call_inputs)) paste0("\n    inputs:  ", paste(vapply(x$call_inputs, one, ""), collapse = ", ")),
        "\n", sep = "")
  }
  invisible(x)
}

.format_r_shape <- function(shape) {
  if (is.null(shape)) return("[<unknown rank>]")
  paste0("[", paste(ifelse(is.na(shape), "?", as.character(shape)), collapse = ", "), "]")
}

#' @rdname module-parts
#' @export
str.hubfn_module <- function(object, ...) {
  py <- attr(object, "py_module")
  info <- attr(object, "hubfn_info")
  fns <- .function_names(info)
  cat("hubfn_module function(inputs, signature = NULL, as_dict = FALSE, training = FALSE, convert = TRUE)\n")
  cat(" $ handle    : chr \"", info$handle, "\"\n", sep = "")
  cat(" $ path      : chr \"", reticulate::py_to_r(py$path), "\"\n", sep = "")
  cat(" $ format    : chr \"", reticulate::py_to_r(py$format), "\"\n", sep = "")
  cat(" $ tags      : ", .format_tags(.module_tags(py)), "\n", sep = "")
  cat(" $ trainable : logi ", reticulate::py_to_r(py$trainable), "\n", sep = "")
  cat(" $ signatures: List of ", length(fns), " functions: ", paste(fns, collapse = ", "), "\n", sep = "")
  invisible()
}

.module_tags <- function(py) {
  tags <- py$tags
  if (inherits(tags, "python.builtin.NoneType")) NULL
  else reticulate::py_to_r(reticulate::import_builtins(convert = FALSE)$sorted(tags))
}

# Passing a module to Python (e.g. a reticulate call) passes its hubfn.Module.
#' @importFrom reticulate r_to_py
#' @rawNamespace S3method(reticulate::r_to_py, hubfn_module)
NULL

r_to_py.hubfn_module <- function(x, convert = FALSE) {
  attr(x, "py_module")
}
