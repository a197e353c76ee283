#' hubfn: TensorFlow Hub modules from R
#'
#' R bindings over the `hubfn` Python package. Load a module with [hub_load()] (a directory or
#' an `http(s)://` URL) and call it like a function on R values; list its signatures with
#' [module_signatures()]; fine-tune it with [hub_module()] or [hub_layer()]; write it with
#' [export_savedmodel()]; publish it with [pack_module()] and [hub_serve()]; manage downloads with
#' [cache_list()] and friends.
#'
#' @section Python: reticulate's Python is, in order: `RETICULATE_PYTHON`, `HUBFN_PYTHON`, or
#'   the virtualenv `r-hubfn` made by [install_hubfn()]. With reticulate < 1.38 that Python must
#'   have NumPy < 2.
#' @section Environment variables: `Sys.setenv()` of `TFHUB_CACHE_DIR`, `HUBFN_OFFLINE` and
#'   hubfn's other settings takes effect at the next call that resolves a module or uses the
#'   cache, even after Python has started; see the section in [cache_dir()]. The arguments
#'   `cache_dir`, `offline`, `timeout`, `token` and `settings` ([hub_settings()]) of those calls
#'   override the variables for one call, changing nothing global.
#' @section Errors: errors raised by hubfn arrive as R errors carrying hubfn's message, with a
#'   class per Python error class (`hubfn_input_error`, `hubfn_signature_error`,
#'   `hubfn_module_not_found`, `hubfn_fetch_error`, ...) and `hubfn_error`; other Python errors
#'   have class `hubfn_python_error`. The Python exception is in the condition's
#'   `python_exception` field.
#' @keywords internal
"_PACKAGE"
