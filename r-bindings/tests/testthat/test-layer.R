# layer_hub() with R tfhub's conventions, and Keras 3 models fitted from R (issue item 2).

test_that("layer_hub passes ... to the Keras layer (input_shape, name, dtype)", {
  skip_if_no_hubfn()
  layer <- layer_hub(handle = fruit_dir(), input_shape = c(2), name = "fruity", dtype = "float32")
  expect_s3_class(layer, "keras.src.layers.layer.Layer")
  expect_true(is.function(layer))
  expect_equal(layer$name, "fruity")
  expect_equal(layer$dtype, "float32")
  expect_output(print(layer), sprintf("<HubLayer name=fruity, handle='%s', trainable=False", fruit_dir()), fixed = TRUE)
  model <- keras_model_sequential() %>% layer_hub(handle = fruit_dir(), input_shape = c(2), name = "hub")
  expect_equal(model$layers[[1]]$name, "hub")
  expect_equal(as_r(model(reticulate::np_array(matrix(c(1, 0), 1), dtype = "float32"))), matrix(c(1.5, 1.5), 1))
  expect_error(layer_hub(handle = fruit_dir(), no_such_argument = 1), class = "hubfn_python_error",
               regexp = "no_such_argument")
})

test_that("a layer made without object is callable from R, and composes with %>%", {
  skip_if_no_hubfn()
  features <- layer_hub(handle = shape_dir("image_feature_vector"))
  input <- layer_input(shape = c(8, 8, 3))
  output <- input %>% features() %>% layer_dense(1)
  model <- keras_model(input, output)
  a <- array(runif(2 * 8 * 8 * 3), c(2, 8, 8, 3))
  y <- as_r(model(reticulate::np_array(a, dtype = "float32")))
  expect_equal(dim(y), c(2L, 1L))
  # the layer inside is the one made in R: same weights as the module
  direct <- hub_load(shape_dir("image_feature_vector"))(a)
  expect_equal(as_r(features(reticulate::np_array(a, dtype = "float32"))), direct, tolerance = 1e-6)
  expect_equal(as_r(features(a)), direct, tolerance = 1e-6)  # an R array in
  # passes to Keras as its Python layer, in a list of layers
  seq_model <- keras_py()$Sequential(list(keras_py()$Input(shape = reticulate::tuple(8L, 8L, 3L)), features))
  expect_length(seq_model$layers, 1L)
  # fields of the layer read and set from R
  features$trainable <- FALSE
  expect_false(features$trainable)
})

test_that("Sequential and functional models holding layer_hub fit from R", {
  skip_if_no_hubfn()
  keras <- keras_py()
  keras$utils$set_random_seed(1L)
  x <- matrix(runif(64), 32, 2)
  y <- matrix(x[, 1] * 2 - x[, 2], 32, 1)
  seq_model <- keras_model_sequential() %>%
    layer_hub(handle = fruit_dir(), input_shape = c(2), trainable = TRUE) %>%
    layer_dense(1)
  input <- layer_input(shape = 2)
  fun_model <- keras_model(input, input %>% layer_hub(handle = fruit_dir(), trainable = TRUE) %>% layer_dense(1))
  warnings <- reticulate::import("warnings")
  for (model in list(seq_model, fun_model)) {
    model$compile(optimizer = keras$optimizers$SGD(learning_rate = 0.01), loss = "mse")
    before <- model$evaluate(x, y, verbose = 0L)
    hist <- model$fit(x, y, epochs = 5L, batch_size = 8L, verbose = 0L)
    after <- model$evaluate(x, y, verbose = 0L)
    expect_lt(after, before)
    expect_length(hist$history$loss, 5L)
  }
  # the module's weights moved in the trainable layer, and not in anyone else's module
  expect_false(isTRUE(all.equal(as_r(seq_model$layers[[1]]$weights[[1]]),
                                as_r(hub_load(fruit_dir())$variables[[1]]))))
  expect_equal(hub_load(fruit_dir())(c(1, 0)), matrix(c(1.5, 1.5), 1))
})

test_that("layer_hub(object) without handle: object is the handle, a module or a layer made before", {
  skip_if_no_hubfn()
  one <- reticulate::np_array(matrix(c(1, 0), 1), dtype = "float32")
  by_handle <- layer_hub(fruit_dir())  # R tfhub: layer_hub(handle) as layer_hub(handle = handle)
  expect_s3_class(by_handle, "hubfn.tune.keras_layer.HubLayer")
  expect_equal(as_r(by_handle(one)), matrix(c(1.5, 1.5), 1))
  expect_equal(as_r(layer_hub(hub_load(fruit_dir()))(one)), matrix(c(1.5, 1.5), 1))
  expect_identical(layer_hub(by_handle), by_handle)
  again <- layer_hub(hub_layer(fruit_dir(), name = "python_made"))
  expect_s3_class(again, "hubfn.tune.keras_layer.HubLayer")
  expect_equal(again$name, "python_made")
  # ... reaches the layer with the handle given first, as in R tfhub's layer_hub(handle, name = )
  named <- layer_hub(fruit_dir(), name = "x", trainable = TRUE)
  expect_equal(named$name, "x")
  expect_true(named$trainable)
  input <- layer_input(shape = 2)
  model <- keras_model(input, input %>% layer_hub(handle = fruit_dir(), name = "hub_in_model") %>% layer_dense(1))
  expect_equal(model$get_layer("hub_in_model")$name, "hub_in_model")
  expect_error(layer_hub(), regexp = "needs a handle")
})

test_that("an R layer takes R strings and passes training = to Keras", {
  skip_if_no_hubfn()
  emb <- layer_hub(handle = shape_dir("text_embedding"))
  expect_equal(as_r(emb(c("good day", "hi"))), hub_load(shape_dir("text_embedding"))(c("good day", "hi")),
               tolerance = 1e-6)
  # the image module drops out features in training: training = TRUE reaches its __call__
  features <- layer_hub(handle = shape_dir("image_feature_vector"), trainable = TRUE)
  a <- reticulate::np_array(array(runif(64 * 8 * 8 * 3), c(64, 8, 8, 3)), dtype = "float32")
  expect_false(isTRUE(all.equal(as_r(features(a, training = TRUE)), as_r(features(a, training = FALSE)))))
  expect_equal(as_r(features(a)), as_r(features(a, training = FALSE)))
})

test_that("layer_hub(trainable = TRUE) fine-tunes a text embedding fed tf$constant strings in a Sequential model", {
  skip_if_no_hubfn()
  tf <- reticulate::import("tensorflow")
  keras <- keras_py()
  keras$utils$set_random_seed(2L)
  # No input_shape or dtype: Keras 3 builds the model's input on the first batch, with the first
  # layer's dtype, which layer_hub takes from the module (strings).
  model <- keras_model_sequential() %>% layer_hub(handle = shape_dir("text_embedding"), trainable = TRUE) %>%
    layer_dense(1)
  emb <- model$layers[[1]]
  expect_equal(emb$dtype_policy$name, "string")
  before <- as_r(emb$weights[[1]])
  x <- tf$constant(c("the cat sat", "a dog ran", "good day", "hello world"))
  y <- tf$constant(matrix(c(1, 0, 1, 0), 4), dtype = "float32")
  model$compile(optimizer = keras$optimizers$SGD(learning_rate = 0.5), loss = "mse")
  loss_before <- model$evaluate(x, y, verbose = 0L)
  model$fit(x, y, epochs = 5L, verbose = 0L)
  expect_lt(model$evaluate(x, y, verbose = 0L), loss_before)
  expect_false(isTRUE(all.equal(as_r(emb$weights[[1]]), before)))  # the embedding table moved
  # in the layer's own copy: the module other users load is unchanged
  expect_equal(as_r(hub_load(shape_dir("text_embedding"))$variables[[1]]), before)
})

test_that("layer_hub() without object is the Keras layer itself: fields, weights, py_call, Python APIs", {
  skip_if_no_hubfn()
  tf <- reticulate::import("tensorflow")
  keras <- keras_py()
  layer <- layer_hub(handle = fruit_dir(), name = "x")  # R tfhub: layer_hub(handle = h, name = "x")
  expect_true(inherits(layer, "python.builtin.object"))
  expect_true(reticulate::import_builtins()$isinstance(layer, keras$layers$Layer))
  expect_equal(layer$name, "x")
  module_weights <- lapply(hub_load(fruit_dir())$variables, as_r)
  expect_equal(layer$get_weights(), module_weights)
  expect_length(layer$trainable_weights, 0L)  # frozen, as made
  layer$trainable <- TRUE
  expect_true(layer$trainable)
  expect_length(layer$trainable_weights, length(module_weights))
  one <- tf$constant(matrix(c(1, 0), 1), dtype = "float32")
  expect_equal(as_r(reticulate::py_call(layer, one)), matrix(c(1.5, 1.5), 1))
  expect_equal(as_r(layer(one)), matrix(c(1.5, 1.5), 1))
  # Python APIs take it as it is, and give back the same object
  model <- keras$Sequential(list(keras$Input(shape = reticulate::tuple(2L)), layer))
  expect_identical(reticulate::py_id(model$layers[[1]]), reticulate::py_id(layer))
  expect_equal(as_r(model$layers[[1]](matrix(c(0, 1), 1))), as_r(layer(matrix(c(0, 1), 1))))
  expect_error(layer_hub(layer, fruit_dir()), class = "hubfn_type_error", regexp = "not another layer")
})

test_that("R tfhub's text recipe: a trainable embedding in a functional model, fed tf$constant, is fine-tuned", {
  skip_if_no_hubfn()
  tf <- reticulate::import("tensorflow")
  keras <- keras_py()
  keras$utils$set_random_seed(3L)
  embeddings <- layer_hub(handle = shape_dir("text_embedding"), trainable = TRUE)
  input <- layer_input(shape = c(), dtype = "string")
  output <- input %>% embeddings() %>% layer_dense(units = 1)
  model <- keras_model(input, output)
  model$compile(optimizer = keras$optimizers$SGD(learning_rate = 0.5), loss = "mse")
  before <- embeddings$get_weights()
  x <- tf$constant(c("the cat sat", "a dog ran", "good day", "hello world"))
  y <- tf$constant(matrix(c(1, 0, 1, 0), 4), dtype = "float32")
  model$fit(x, y, epochs = 5L, verbose = 0L)
  after <- embeddings$get_weights()
  expect_equal(dim(after[[1]]), dim(before[[1]]))
  expect_false(isTRUE(all.equal(after[[1]], before[[1]])))  # the embedding table moved
  expect_identical(reticulate::py_id(model$get_layer(embeddings$name)), reticulate::py_id(embeddings))
  # in the layer's own copy: the module other users load is unchanged
  expect_equal(as_r(hub_load(shape_dir("text_embedding"))$variables[[1]]), before[[1]])
})
