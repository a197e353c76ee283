# R tfhub's own tests/testthat cases (rstudio/tfhub: test-load.R, test-layer-hub.R, test-recipe.R),
# ported to local modules: the modules are shaped like the ones they load from tfhub.dev (a
# mobilenet-style image feature vector, a gnews-swivel-style text embedding) and served on
# 127.0.0.1. keras_model_sequential(), layer_input(), layer_dense() and keras_model() are the
# stand-ins in helper-hubfn.R over Keras 3 (there is no R keras package here).
#
# Not ported, as they need R's keras/tensorflow packages or TF1-only Python APIs:
# - test-columns.R "hub_text_embedding_column can load a module": TF1 feature columns
#   (tensorflow_hub.text_embedding_column over tf.feature_column), which Keras 3 no longer takes.
# - test-module.R "hub_module can load a module" / "hub_module_spec can load a module" (removed in
#   tfhub 0.7): TF1 graph-mode hub.Module / load_module_spec; tfhub skipped them in eager mode.
# - tfhub's `tf$...` calls (tensorflow::tf) are written as reticulate::import("tensorflow").

serve_shapes <- function() {
  if (is.null(.fixtures$shapes_server)) {
    shape_dir("image_feature_vector")
    shape_dir("text_embedding")
    .fixtures$shapes_server <- hub_serve(file.path(fixture_root(), "modules", "shapes"),
                                         pack_dir = file.path(fixture_root(), "packs-ported"))
  }
  .fixtures$shapes_server
}

mobilenet_url <- function() paste0(serve_shapes()$url, "/image_feature_vector")

# tfhub's check on its layer_hub models: one 8 x 8 x 3 image of zeros in, one number out.
expect_one_number_out <- function(model) {
  tf <- reticulate::import("tensorflow")
  a <- tf$constant(array(0, dim = as.integer(c(1, 8, 8, 3))), dtype = "float32")
  res <- as.numeric(as_r(model(a)))
  expect_type(res, "double")
  expect_length(res, 1L)
}

test_that("tfhub: Can load module from URL", {
  skip_if_no_hubfn()
  module <- hub_load(mobilenet_url())
  expect_s3_class(module, "hubfn_module")  # tfhub: a tensorflow _UserObject
  expect_equal(dim(module(array(0, c(1, 8, 8, 3)))), c(1L, 4L))
})

test_that("tfhub: Can load module from file path (a Keras model with two inputs, added)", {
  skip_if_no_hubfn()
  tf <- reticulate::import("tensorflow")
  input <- layer_input(shape = 1, name = "a")
  input2 <- layer_input(shape = 1, name = "b")
  output <- keras_py()$layers$Add()(list(input, input2))
  model <- keras_model(list(input, input2), output)
  tmp <- tempfile()
  dir.create(tmp)
  export_savedmodel(model, tmp, overwrite = TRUE)  # tfhub: export_savedmodel(model, tmp, remove_learning_phase = FALSE)
  module <- hub_load(tmp)
  expect_s3_class(module, "hubfn_module")
  # tfhub: as.numeric(module(list(tf$ones(shape = c(1,1)), tf$ones(shape = c(1,1))))) == 2
  expect_equal(as.numeric(module(list(tf$ones(shape = c(1L, 1L)), tf$ones(shape = c(1L, 1L))))), 2)
  expect_equal(as.numeric(module(list(matrix(1), matrix(1)))), 2)  # R values, in signature order
})

test_that("tfhub: hub_load correctly uses the env var", {
  skip_if_no_hubfn()
  skip_if_not_installed("callr")
  skip_if_hubfn_not_installed()
  tmp <- tempfile()
  url <- mobilenet_url()
  x <- callr::r(function(url) {
    m <- hubfn::hub_load(url)
    class(m)
  }, args = list(url = url), env = c(callr::rcmd_safe_env(), TFHUB_CACHE_DIR = tmp,
                                     RETICULATE_PYTHON = Sys.getenv("RETICULATE_PYTHON")))
  expect_equal(x[[1]], "hubfn_module")
  key <- reticulate::import("hashlib")$sha1(charToRaw(url))$hexdigest()
  files <- list.files(tmp)
  # tfhub expects 2 entries (the module directory and its descriptor); hubfn adds its manifest
  # (and lock) beside them
  expect_true(all(c(key, paste0(key, ".descriptor.txt")) %in% files))
  expect_true(file.exists(file.path(tmp, key, "saved_model.pb")))
})

test_that("tfhub: layer_hub works with sequential models", {
  skip_if_no_hubfn()
  model <- keras_model_sequential() %>%
    layer_hub(handle = mobilenet_url(), input_shape = c(8, 8, 3)) %>%
    layer_dense(1)
  expect_one_number_out(model)
})

test_that("tfhub: layer_hub works with functional API", {
  skip_if_no_hubfn()
  input <- layer_input(shape = c(8, 8, 3))
  output <- input %>%
    layer_hub(handle = mobilenet_url()) %>%
    layer_dense(1)
  model <- keras_model(input, output)
  expect_one_number_out(model)
})

test_that("tfhub: can initialiaze the layer_hub", {
  skip_if_no_hubfn()
  features <- layer_hub(handle = mobilenet_url())
  input <- layer_input(shape = c(8, 8, 3))
  output <- input %>%
    features() %>%
    layer_dense(1)
  model <- keras_model(input, output)
  expect_one_number_out(model)
})

test_that("tfhub: Can use with recipes", {
  skip_if_no_hubfn()
  skip_if_not_installed("recipes")
  skip_if_not_installed("tibble")
  suppressPackageStartupMessages({
    library(tibble)
    library(recipes)
  })
  df <- tibble(text = c("hi", "heello", "goodbye"), y = 0)
  rec <- recipe(y ~ text, df)
  rec <- rec %>% step_pretrained_text_embedding(
    text,
    handle = paste0(serve_shapes()$url, "/text_embedding")
  )
  rec <- prep(rec)
  x <- bake(rec, df)
  expect_s3_class(x, "data.frame")
  expect_equal(dim(x), c(3L, 4L))
})

test_that("tfhub docs: hub_load(handle)(x) and layer_hub(handle, trainable = TRUE) in a fitted model", {
  # From tfhub's key-concepts and hub-with-keras vignettes: a module is called on a batch; a
  # trainable layer_hub in a Sequential model is compiled and fitted.
  skip_if_no_hubfn()
  keras <- keras_py()
  module <- hub_load(paste0(serve_shapes()$url, "/text_embedding"))
  embeddings <- module(c("cat is on the mat", "dog is in the fog"))
  expect_equal(dim(embeddings), c(2L, 3L))
  model <- keras_model_sequential() %>%
    layer_hub(handle = mobilenet_url(), input_shape = c(8, 8, 3), trainable = TRUE) %>%
    layer_dense(2, activation = "softmax")
  model$compile(optimizer = "adam", loss = "sparse_categorical_crossentropy", metrics = list("accuracy"))
  x <- array(runif(16 * 8 * 8 * 3), c(16, 8, 8, 3))
  y <- array(rep(0:1, 8))  # an R vector would reach Python as a list
  hist <- model$fit(x, y, epochs = 2L, verbose = 0L)
  expect_length(hist$history$loss, 2L)
})
