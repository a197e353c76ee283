# R tfhub's recipes step; recipes is suggested: prep() and bake() get these methods when it loads.

#' Pretrained text embeddings as a recipes step
#'
#' Adds a step replacing each selected text column by the columns of a text-embedding module's output,
#' `<column>_txt_emb_0001`, ...; the module is loaded when the step is baked.
#'
#' @param recipe A recipe (from [recipes::recipe()]).
#' @param ... Selector functions choosing the text columns (see [recipes::selections]).
#' @param role The role of the new columns.
#' @param trained Whether the step has been prepped (set by [recipes::prep()]).
#' @param handle The module's handle (see [hub_load()]).
#' @param args A list of more arguments for [hub_load()] (e.g. `tags`).
#' @param skip Whether [recipes::bake()] skips the step on new data.
#' @param id A unique id for the step.
#' @param vars The selected columns (set by [recipes::prep()]).
#' @return The recipe with the step added.
#' @examples
#' \dontrun{
#' rec <- recipes::recipe(y ~ text, df) %>% step_pretrained_text_embedding(text, handle = "/path/to/embedding")
#' }
#' @export
step_pretrained_text_embedding <- function(recipe, ..., role = "predictor", trained = FALSE, handle, args = NULL,
                                           skip = FALSE, vars = NULL, id = recipes::rand_id("pretrained_text_embedding")) {
  if (!requireNamespace("recipes", quietly = TRUE)) {
    stop("step_pretrained_text_embedding() needs the recipes package (Debian: r-cran-recipes).", call. = FALSE)
  }
  recipes::add_step(recipe, .text_embedding_step(terms = recipes::ellipse_check(...), role = role, trained = trained,
                                                 vars = vars, handle = handle, args = args, skip = skip, id = id))
}

.text_embedding_step <- function(...) recipes::step(subclass = "pretrained_text_embedding", ...)

#' @rawNamespace S3method(recipes::prep, step_pretrained_text_embedding)
prep.step_pretrained_text_embedding <- function(x, training, info = NULL, ...) {
  vars <- recipes::recipes_eval_select(x$terms, training, info)
  for (v in vars) {
    if (!is.character(training[[v]]) && !is.factor(training[[v]])) {
      stop(.hubfn_error("input_error", paste0("step_pretrained_text_embedding(): column '", v, "' is ", .what_r(training[[v]]),
                               "; select text (character or factor) columns.")))
    }
  }
  .text_embedding_step(terms = x$terms, role = x$role, trained = TRUE, vars = unname(vars), handle = x$handle,
                       args = x$args, skip = x$skip, id = x$id)
}

#' @rawNamespace S3method(recipes::bake, step_pretrained_text_embedding)
bake.step_pretrained_text_embedding <- function(object, new_data, ...) {
  module <- do.call(hub_load, c(list(handle = object$handle), object$args))
  for (v in object$vars) {
    emb <- as.data.frame(matrix(module(as.character(new_data[[v]])), nrow = nrow(new_data)))
    names(emb) <- sprintf("%s_txt_emb_%04d", v, seq_len(ncol(emb)))
    new_data <- cbind(new_data[setdiff(names(new_data), v)], emb)
  }
  if (requireNamespace("tibble", quietly = TRUE)) tibble::as_tibble(new_data) else new_data
}

#' @export
print.step_pretrained_text_embedding <- function(x, width = max(20, options()$width - 30), ...) {
  cat("Pretrained text embedding (", x$handle, ") for ",
      if (isTRUE(x$trained)) paste(paste(x$vars, collapse = ", "), "[trained]") else "(not prepped)", "\n", sep = "")
  invisible(x)
}

#' The pipe
#'
#' hubfn re-exports magrittr's `%>%`, as R tfhub does.
#'
#' @name %>%
#' @rdname pipe
#' @keywords internal
#' @export
#' @importFrom magrittr %>%
#' @usage lhs \%>\% rhs
#' @param lhs,rhs A value and a function call.
#' @return The result of the call.
NULL
