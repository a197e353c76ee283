test_that("a missing input is a hubfn_input_error with hubfn's message", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  e <- tryCatch(m(list(apples = c(1, 2)), signature = "fruit_to_pet"), error = function(e) e)
  expect_s3_class(e, "hubfn_input_error")
  expect_s3_class(e, "hubfn_error")
  expect_equal(conditionMessage(e), sprintf(
    "Signature 'fruit_to_pet' of '%s': missing 'oranges'. Expected keys: apples, oranges.", fruit_dir()))
  expect_false(grepl("Traceback", conditionMessage(e)))
  expect_equal(e$python_type, "InputError")
  # tryCatch tells the classes apart
  got <- tryCatch(m(list(apples = 1), signature = "fruit_to_pet"),
                  hubfn_signature_error = function(e) "signature", hubfn_input_error = function(e) "input")
  expect_equal(got, "input")
})

test_that("an unknown signature is a hubfn_signature_error listing the signatures", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  e <- tryCatch(m(c(1, 2), signature = "fruit_to_cow"), error = function(e) e)
  expect_s3_class(e, c("hubfn_signature_error", "hubfn_error", "error", "condition"), exact = TRUE)
  # hubfn's message, whole: the module, the name asked for, what it has (signatures first)
  expect_match(conditionMessage(e), sprintf(
    "^Module '%s' has no signature( or function)? 'fruit_to_cow'; (its signatures are|it has): default, fruit_to_pet",
    fruit_dir()))
  expect_error(module_apply(m, list(apples = 1, oranges = 2), signature = "nope"), class = "hubfn_signature_error")
})

test_that("other hubfn errors map to their classes", {
  skip_if_no_hubfn()
  missing_dir <- file.path(fixture_root(), "no-such-module")
  expect_error(hub_load(missing_dir), class = "hubfn_module_not_found", regexp = "no such file or directory")
  empty <- file.path(fixture_root(), "empty")
  dir.create(empty, showWarnings = FALSE)
  expect_error(hub_load(empty), class = "hubfn_not_a_module_error", regexp = "no saved_model.pb")
  m <- hub_load(fruit_dir())
  expect_error(m(list(apples = 1, oranges = 2), signature = "fruit_to_pet"),
               class = "hubfn_output_error", regexp = "as_dict = TRUE", fixed = TRUE)
  expect_error(m(list(1, 2)), class = "hubfn_input_error", regexp = "one element per input, in order: x (got 2)",
               fixed = TRUE)
  expect_error(export_savedmodel(m, fruit_dir()), class = "hubfn_export_error", regexp = "not empty")
  expect_error(module_apply("not a module", 1), class = "hubfn_error")
})

test_that("errors that are not hubfn's are hubfn_python_error, and R errors stay R errors", {
  skip_if_no_hubfn()
  os <- reticulate::import("os", convert = FALSE)
  e <- tryCatch(hubfn:::.py_call(os$listdir(file.path(fixture_root(), "nope"))), error = function(e) e)
  expect_s3_class(e, "hubfn_python_error")
  expect_match(conditionMessage(e), "^FileNotFoundError: ")
  e <- tryCatch(hubfn:::.py_call(stop("plain R")), error = function(e) e)
  expect_false(inherits(e, "hubfn_python_error"))
  expect_equal(conditionMessage(e), "plain R")
})
