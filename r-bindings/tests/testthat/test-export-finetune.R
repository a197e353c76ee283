test_that("a module fine-tuned from R with GradientTape exports and reloads", {
  skip_if_no_hubfn()
  tf <- reticulate::import("tensorflow", convert = FALSE)
  m <- hub_module(fruit_dir(), trainable = TRUE)
  vars <- m$trainable_variables
  skip_if(length(vars) == 0, "no trainable variables")
  x <- matrix(c(1, 0, 0, 1, 1, 1), ncol = 2, byrow = TRUE)
  target <- tf$constant(matrix(0, 3, 2), dtype = tf$float32)
  loss_of <- function() {
    y <- m(x, training = TRUE, convert = FALSE)
    tf$reduce_mean(tf$square(tf$subtract(y, target)))
  }
  losses <- numeric()
  for (step in 1:5) {
    with(tf$GradientTape() %as% tape, {
      loss <- loss_of()
    })
    grads <- tape$gradient(loss, vars)
    for (i in seq_along(vars)) {
      g <- reticulate::py_get_item(grads, as.integer(i - 1L))
      if (!inherits(g, "python.builtin.NoneType")) vars[[i]]$assign_sub(tf$multiply(g, 0.05))
    }
    losses <- c(losses, reticulate::py_to_r(loss$numpy()))
  }
  expect_true(all(diff(losses) < 0))
  tuned <- m(x)
  expect_false(isTRUE(all.equal(tuned, hub_load(fruit_dir())(x))))

  out_dir <- file.path(fixture_root(), "exported", "fruit-tuned")
  path <- export_savedmodel(m, out_dir)
  expect_equal(path, normalizePath(out_dir))
  again <- hub_load(out_dir)
  expect_equal(again(x), tuned, tolerance = 1e-6)
  pets <- again(list(apples = 1, oranges = 2), signature = "fruit_to_pet", as_dict = TRUE)
  expect_length(pets$cats, 1L)
  # overwrite = TRUE replaces it
  expect_equal(export_savedmodel(m, out_dir, overwrite = TRUE), path)
})

test_that("export_savedmodel is an S3 generic that leaves tensorflow's alone", {
  expect_true(is.function(getS3method("export_savedmodel", "default")))
  expect_null(hubfn:::.tensorflow_method(structure(list(), class = "some_class")))
  expect_error(export_savedmodel(list(1), tempfile()), class = "hubfn_export_error")
})

test_that("hub_layer fine-tunes inside a Keras 3 model for a few steps", {
  skip_if_no_hubfn()
  skip_if_not(hubfn_has("hub_layer"), "hubfn.hub_layer has not landed")
  keras <- reticulate::import("keras", convert = FALSE)
  np <- py_numpy()
  model <- keras$Sequential(list(keras$Input(shape = list(2L))))
  model <- layer_hub(model, fruit_dir(), trainable = TRUE)
  model$compile(optimizer = keras$optimizers$SGD(learning_rate = 0.01), loss = "mse")
  x <- np_x <- reticulate::np_array(matrix(c(1, 0, 0, 1, 1, 1, 2, 1), ncol = 2, byrow = TRUE), dtype = "float32")
  y <- reticulate::np_array(matrix(0, 4, 2), dtype = "float32")
  before <- reticulate::py_to_r(model$evaluate(x, y, verbose = 0L))
  warnings <- reticulate::import("warnings")
  warnings$filterwarnings("ignore", message = "Gradients do not exist")
  model$fit(x, y, epochs = 3L, batch_size = 4L, verbose = 0L)
  after <- reticulate::py_to_r(model$evaluate(x, y, verbose = 0L))
  expect_lt(after, before)
  # the layer alone, applied to a tensor
  out <- layer_hub(reticulate::np_array(matrix(c(1, 0), 1), dtype = "float32"), fruit_dir())
  expect_equal(out$numpy(), matrix(c(1.5, 1.5), 1))  # convert = TRUE, as R keras: R values back
  # an R matrix in; a module (not a handle) for the layer
  layer <- hub_layer(hub_load(fruit_dir()))
  expect_equal(layer_hub(matrix(c(0, 1), 1), hub_load(fruit_dir()))$numpy(),
               matrix(c(3.5, 3.5), 1))
  expect_equal(layer(reticulate::np_array(matrix(c(1, 1), 1), dtype = "float32"))$numpy(),
               matrix(c(4.5, 5.5), 1))
})
