# export_savedmodel(): our own S3 generic, and a method of the R tensorflow package's generic.

#' Export a module (or a TensorFlow object) as a SavedModel
#'
#' Writes `obj` as a module at `export_dir` with a `"default"` signature, atomically. `obj` may be a
#' module from [hub_module()] (after fine-tuning: its current variable values), a `tf.Module` or Keras
#' model, or a Python callable given `input_signature`.
#'
#' @section The tensorflow package's generic: an object with a method of `tensorflow::export_savedmodel()`
#'   goes to it; hubfn's modules get methods of that generic too, so either package's generic exports them.
#'
#' @param obj What to export.
#' @param export_dir The module directory to write.
#' @param signatures Extra named signatures: a named list of Python `tf.function`s with input signatures
#'   (or concrete functions).
#' @param overwrite Replace a non-empty `export_dir`.
#' @param input_signature The input specs (a list of `tf$TensorSpec`) of a plain callable.
#' @param ... Passed on to methods.
#' @return The absolute path of the module directory, invisibly.
#' @examples
#' \dontrun{
#' m <- hub_module("/path/to/fruit", trainable = TRUE)
#' dir <- export_savedmodel(m, file.path(tempdir(), "fruit-tuned"))
#' }
#' @export
export_savedmodel <- function(obj, export_dir, ...) UseMethod("export_savedmodel")

#' @rdname export_savedmodel
#' @export
export_savedmodel.default <- function(obj, export_dir, signatures = NULL, overwrite = FALSE, input_signature = NULL,
                                      ...) {
  tf_method <- .tensorflow_method(obj)
  if (!is.null(tf_method)) return(tf_method(obj, export_dir, ...))
  call <- sys.call()
  if (!inherits(obj, c("hubfn_module", "python.builtin.object"))) {
    stop(.hubfn_error("export_error", paste0("Cannot export an R ", class(obj)[1],
                                             ": pass a hubfn module or a TensorFlow (Python) object."), call))
  }
  out <- .py_call(.hubfn()$export_savedmodel(
    if (inherits(obj, "hubfn_module")) attr(obj, "py_module") else obj, path.expand(as.character(export_dir)),
    signatures = if (!is.null(signatures)) reticulate::dict(signatures, convert = FALSE), overwrite = isTRUE(overwrite),
    input_signature = if (!is.null(input_signature)) reticulate::r_to_py(as.list(input_signature))), call)
  invisible(reticulate::py_to_r(out))
}

# A method of tensorflow's export_savedmodel generic for one of obj's classes, if tensorflow is loaded
# and has one (not for hubfn's own classes, which hubfn exports).
.tensorflow_method <- function(obj) {
  if (!isNamespaceLoaded("tensorflow")) return(NULL)
  for (cls in setdiff(class(obj), c("hubfn_module", "hubfn.module.Module"))) {
    m <- utils::getS3method("export_savedmodel", cls, optional = TRUE, envir = asNamespace("tensorflow"))
    if (!is.null(m) && !identical(m, .tf_export_savedmodel)) return(m)
  }
  NULL
}

# The method registered for tensorflow's generic (its arguments are object, export_dir_base, ...).
.tf_export_savedmodel <- function(object, export_dir_base, ...) export_savedmodel.default(object, export_dir_base, ...)

.register_tensorflow_methods <- function() {
  register <- function(...) {
    ns <- asNamespace("tensorflow")
    if (!exists("export_savedmodel", envir = ns, inherits = FALSE)) return(invisible())
    for (cls in c("hubfn_module", "hubfn.module.Module")) registerS3method("export_savedmodel", cls, .tf_export_savedmodel, envir = ns)
  }
  if (isNamespaceLoaded("tensorflow")) register()
  setHook(packageEvent("tensorflow", "onLoad"), register)
}
