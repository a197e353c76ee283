#' hubfn: TensorFlow Hub modules from R
#'
#' R bindings over the `hubfn` Python package. Load a module with [hub_load()] and call it like a
#' function on R values; list its signatures with [module_signatures()]; fine-tune it with [hub_module()]
#' or [layer_hub()]; write it with [export_savedmodel()]; publish it with [pack_module()] and
#' [hub_serve()]; manage downloads with [cache_list()] and friends.
#'
#' @section Errors: a class per Python error class (`hubfn_input_error`, `hubfn_fetch_error`, ..., all
#'   `hubfn_error`) with hubfn's fields; other Python errors are `hubfn_python_error`.
#' @keywords internal
"_PACKAGE"
