# Modules are untrusted code: the R functions refuse a module whose ops reach outside it, with an R
# condition of class hubfn_unsafe_module_error, and load it when told to.

# A module whose __call__ writes `target` (written with TensorFlow, as an attacker would).
writing_module <- function(target) {
  path <- file.path(fixture_root(), "modules", paste0("evil-", basename(tempfile())))
  code <- c(
    "import tensorflow as tf",
    "def write_evil(path, target):",
    "    class M(tf.Module):",
    "        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])",
    "        def __call__(self, x):",
    "            tf.io.write_file(target, 'written from a module')",
    "            return 2.0 * x",
    "    tf.saved_model.save(M(), path)",
    "    return path")
  main <- reticulate::py_run_string(paste(code, collapse = "\n"), convert = TRUE)
  main$write_evil(path, target)
}

test_that("hub_load refuses a module that writes a file, before it runs", {
  skip_if_no_hubfn()
  target <- tempfile("written-")
  path <- writing_module(target)
  err <- tryCatch(hub_load(path), error = identity)
  expect_s3_class(err, "hubfn_unsafe_module_error")
  expect_s3_class(err, "hubfn_error")
  expect_match(conditionMessage(err), "WriteFile", fixed = TRUE)
  expect_match(conditionMessage(err), "safe_mode", fixed = TRUE)
  expect_equal(err$handle, path)
  expect_false(file.exists(target))
  expect_error(hub_module(path, trainable = TRUE), class = "hubfn_unsafe_module_error")
  expect_false(file.exists(target))
})

test_that("safe_mode = FALSE and allow_ops load it, and then it does what it was built to do", {
  skip_if_no_hubfn()
  target <- tempfile("written-")
  path <- writing_module(target)
  m <- hub_load(path, allow_ops = "WriteFile")
  expect_false(file.exists(target))  # loading alone writes nothing here; the call does
  expect_equal(as.vector(m(c(1, 2))), c(2, 4))
  expect_true(file.exists(target))
  unlink(target)
  m2 <- hub_load(path, safe_mode = FALSE)
  m2(c(3))
  expect_true(file.exists(target))
  expect_error(hub_load(path, allow_ops = c("ReadFile")), class = "hubfn_unsafe_module_error")
  expect_error(hub_load(path, safe_mode = NA), class = "hubfn_input_error")
  expect_error(hub_load(path, allow_ops = 1), class = "hubfn_input_error")
})

test_that("hub_settings and HUBFN_SAFE_MODE carry safe mode", {
  skip_if_no_hubfn()
  path <- writing_module(tempfile("written-"))
  s <- hub_settings(safe_mode = FALSE)
  expect_output(print(s), "safe_mode:       FALSE")
  expect_true(inherits(hub_load(path, settings = s), "hubfn_module"))
  expect_output(print(hub_settings(allow_ops = c("WriteFile", "ReadFile"))), "allowing ReadFile, WriteFile")
  withr_set <- function(value) Sys.setenv(HUBFN_SAFE_MODE = value)
  withr_set("0")
  on.exit(Sys.unsetenv("HUBFN_SAFE_MODE"), add = TRUE)
  expect_true(inherits(hub_load(path), "hubfn_module"))
  Sys.unsetenv("HUBFN_SAFE_MODE")
  expect_error(hub_load(path), class = "hubfn_unsafe_module_error")
})

test_that("layer_hub refuses it too, and takes the same arguments", {
  skip_if_no_hubfn()
  target <- tempfile("written-")
  path <- writing_module(target)
  expect_error(layer_hub(handle = path), class = "hubfn_unsafe_module_error")
  layer <- layer_hub(handle = path, allow_ops = "WriteFile")
  expect_false(file.exists(target))
  expect_equal(as.vector(as_r(layer(c(1, 2)))), c(2, 4))
  expect_true(file.exists(target))
})

test_that("the modules R users load every day pass the scan", {
  skip_if_no_hubfn()
  expect_true(inherits(hub_load(fruit_dir()), "hubfn_module"))
  expect_true(inherits(hub_load(tf1_dir()), "hubfn_module"))
})
