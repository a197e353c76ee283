#' hubfn: TensorFlow Hub modules from R
#'
#' R bindings over the `hubfn` Python package. Load a module with [hub_load()] and call it like a
#' function on R values; list its signatures with [module_signatures()]; fine-tune it with [hub_module()]
#' or [layer_hub()]; write it with [export_savedmodel()]; publish it with [pack_module()] and
#' [hub_serve()]; manage downloads with [cache_list()] and friends.
#'
#' @section Python: reticulate's Python is, in order: `RETICULATE_PYTHON`, `HUBFN_PYTHON`, or the
#'   virtualenv `r-hubfn` made by [install_hubfn()] (see [hubfn_available()]).
#' @section Environment variables: see [cache_dir()]; the arguments `cache_dir`, `offline`, `timeout`,
#'   `token` and `settings` ([hub_settings()]) override them for one call.
#' @section Errors: hubfn's errors are R errors with hubfn's message, a class per Python error class
#'   (`hubfn_input_error`, `hubfn_signature_error`, `hubfn_module_not_found`, `hubfn_fetch_error`, ...,
#'   all `hubfn_error`) and hubfn's fields (`handle`, `input`, `expected`, `got`, `reason`); other Python
#'   errors are `hubfn_python_error`. The Python exception is the condition's `python_exception`.
#' @keywords internal
"_PACKAGE"
