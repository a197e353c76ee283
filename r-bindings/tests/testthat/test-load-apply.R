test_that("a module loads from a path, prints, and is callable like the seed", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  expect_s3_class(m, "hubfn_module")
  expect_true(is.function(m))
  printed <- capture.output(print(m))
  expect_true(any(grepl(fruit_dir(), printed, fixed = TRUE)))
  expect_true(any(grepl("format: +tf2", printed)))
  expect_true(any(grepl("tags: +default", printed)))
  expect_true(any(grepl("trainable: +FALSE", printed)))
  expect_true(any(grepl("default(x: float32[?, 2]) -> {default: float32[?, 2]}", printed, fixed = TRUE)))
  expect_true(any(grepl("fruit_to_pet(apples: float32[?], oranges: float32[?]) -> {cats: float32[?], dogs: float32[?]}",
                        printed, fixed = TRUE)))

  # the seed: m(list(apples = x1, oranges = x2), signature = "fruit_to_pet", as_dict = TRUE)$cats
  out <- m(list(apples = c(1, 2, 3), oranges = c(4, 5, 6)), signature = "fruit_to_pet", as_dict = TRUE)
  expect_type(out, "list")
  expect_setequal(names(out), c("cats", "dogs"))
  expect_equal(out$cats, 2 * c(1, 2, 3) + c(4, 5, 6))
  expect_equal(out$dogs, c(1, 2, 3) - 3 * c(4, 5, 6))
  # the same through module_apply(), and integers for a float signature
  out2 <- module_apply(m, list(apples = 1:3, oranges = 4:6), signature = "fruit_to_pet", as_dict = TRUE)
  expect_equal(out2$cats, out$cats)
})

test_that("R matrices keep their rows and columns on the way in and out", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  x <- matrix(c(1, 2,
                3, 4,
                5, 6), nrow = 3, byrow = TRUE)
  w <- matrix(c(1, 2, 3, 4), 2, byrow = TRUE)
  y <- m(x)
  expect_true(is.matrix(y))
  expect_type(y, "double")
  expect_equal(dim(y), c(3L, 2L))
  expect_equal(y, x %*% w + matrix(c(0.5, -0.5), 3, 2, byrow = TRUE))
  # a plain vector is one example of a [?, 2] input
  expect_equal(m(c(1, 0)), matrix(c(1.5, 1.5), 1))
  # the same values reach Python with the same layout
  arr <- reticulate::r_to_py(x)
  expect_equal(reticulate::py_to_r(arr$shape), list(3L, 2L))
  expect_equal(unlist(reticulate::py_to_r(arr$tolist())[[1]]), c(1, 2))
})

test_that("R arrays in and out keep their dtypes", {
  skip_if_no_hubfn()
  m <- hub_load(types_dir())
  out <- m(list(ints = c(1, 2, 3), flags = c(TRUE, FALSE, TRUE), words = c("a", "bc", "")), as_dict = TRUE)
  expect_identical(out$twice, c(2L, 4L, 6L))     # int32 -> R integer (whole doubles went in as int32)
  expect_equal(out$wide, c(3, 6, 9))             # int64 -> R double
  expect_identical(out$negated, c(FALSE, TRUE, FALSE))
  expect_identical(out$upper, c("A", "BC", ""))
  expect_identical(out$total, 6)                 # a rank-0 output is an R number
  out <- m(list(ints = 5L, flags = NA_integer_ == 1L | TRUE, words = "x"), as_dict = TRUE)
  expect_identical(out$twice, 10L)
  # keep tensors with convert = FALSE
  t <- m(list(ints = 1:2, flags = c(TRUE, TRUE), words = c("p", "q")), as_dict = TRUE, convert = FALSE)
  expect_s3_class(t$twice, "tensorflow.python.framework.ops.EagerTensor")
  expect_equal(reticulate::py_to_r(t$twice$dtype$name), "int32")
  # doubles with fractions are refused for an int32 input, in R's words
  expect_error(m(list(ints = c(1.5, 2), flags = c(TRUE, TRUE), words = c("a", "b"))),
               class = "hubfn_input_error", regexp = "Input 'ints' of signature 'default' (.*) expects int32: whole numbers; got 1.5 \\(element 1\\)")
  expect_error(m(list(ints = c(1L, NA), flags = c(TRUE, TRUE), words = c("a", "b"))),
               class = "hubfn_input_error", regexp = "NA")
})

test_that("3-d R arrays reach Python index for index and come back the same", {
  skip_if_no_hubfn()
  m <- hub_load(cube_dir())
  a <- array(as.double(1:24), dim = c(4, 2, 3))
  out <- m(a, as_dict = TRUE)
  expect_identical(out$same, a)                        # float32 round trip of small integers is exact
  expect_equal(out$corner, a[, 1, 3])                  # Python's cube[:, 0, 2]
  expect_equal(out$row_sums, apply(a, c(1, 2), sum))   # Python's reduce_sum(cube, axis=2)
  expect_error(m(array(1, c(4, 3, 2))), class = "hubfn_input_error", regexp = "expects shape \\[\\?, 2, 3\\]")
})

test_that("signatures are listed as R data", {
  skip_if_no_hubfn()
  sigs <- module_signatures(fruit_dir())
  expect_equal(names(sigs)[1:2], c("default", "fruit_to_pet"))  # then __call__ and functions, if listed
  expect_equal(vapply(sigs$fruit_to_pet$inputs, `[[`, "", "name"), c("apples", "oranges"))
  expect_equal(sigs$default$inputs[[1]]$dtype, "float32")
  expect_identical(sigs$default$inputs[[1]]$shape, c(NA, 2L))
  expect_identical(hub_signatures(hub_load(fruit_dir())), sigs)
  expect_equal(hub_resolve(fruit_dir()), fruit_dir())
})

test_that("a TF1 hub module loads with its graph variants", {
  skip_if_no_hubfn()
  m <- hub_load(tf1_dir())
  x <- matrix(c(1, 2, 3,
                -1, 0, 2), 2, byrow = TRUE)
  expected <- examples()$tf1_forward(x)
  expect_equal(m(x), expected, tolerance = 1e-6)
  expect_true(any(grepl("tags: +\\{\\}", capture.output(print(m)))))
  mt <- hub_load(tf1_dir(), tags = "train")
  expect_true(any(grepl("tags: +\\{\"train\"\\}", capture.output(print(mt)))))
  expect_equal(dim(mt(x, signature = "hidden")), c(2L, 4L))
  expect_error(hub_load(tf1_dir(), tags = "serve"), class = "hubfn_tags_error")
})

test_that("module_apply(batch_size =) equals one call: matrices, strings, named lists in and out", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  x <- matrix(seq(-3, 3.5, by = 0.5), ncol = 2)   # 7 rows: batches of 3, 3, 1
  whole <- module_apply(m, x)
  expect_equal(module_apply(m, x, batch_size = 3), whole)
  expect_equal(m(x, batch_size = 3L), whole)        # the module function takes it too
  expect_equal(dim(module_apply(m, x, batch_size = 100)), c(7L, 2L))

  pets <- list(apples = c(1, 2, 3, 4, 5), oranges = c(5, 4, 3, 2, 1))
  one <- module_apply(m, pets, signature = "fruit_to_pet", as_dict = TRUE)
  batched <- module_apply(m, pets, signature = "fruit_to_pet", as_dict = TRUE, batch_size = 2,
                          progress = FALSE)
  expect_setequal(names(batched), c("cats", "dogs"))
  expect_equal(batched$cats, one$cats)
  expect_equal(batched$dogs, one$dogs)

  emb <- hub_load(shape_dir("text_embedding"))
  words <- c("the cat sat", "", "a dog", "on the mat", "ran", "The Cat")
  expect_equal(module_apply(emb, words, batch_size = 4), module_apply(emb, words), tolerance = 1e-6)
})

test_that("a bad batch_size or progress is a hubfn_input_error that names the argument", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  x <- matrix(1:4, 2)
  for (bad in list(0, -1, 2.5, "10", TRUE)) {
    err <- tryCatch(module_apply(m, x, batch_size = bad), error = function(e) e)
    expect_s3_class(err, "hubfn_input_error")
    expect_match(conditionMessage(err), "batch_size")
  }
  err <- tryCatch(module_apply(m, x, batch_size = 1, progress = "yes"), error = function(e) e)
  expect_s3_class(err, "hubfn_input_error")
  expect_match(conditionMessage(err), "progress")
})

test_that("without \"default\" or __call__, R converts inputs for \"serving_default\" (a Keras 3 export's one), as hubfn runs it", {
  skip_if_no_hubfn()
  path <- file.path(fixture_root(), "modules", "serving-default")
  if (!dir.exists(path)) {
    # Two signatures, so "the only signature" does not decide; no __call__, no "default".
    main <- reticulate::py_run_string(paste(
      "import tensorflow as tf",
      "class Served(tf.Module):",
      "    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.int32, name='ids')])",
      "    def serve(self, ids):",
      "        return {'twice': ids * 2}",
      "    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name='x')])",
      "    def other(self, x):",
      "        return {'y': x + 1.0}",
      "def write_served(path):",
      "    s = Served()",
      "    tf.saved_model.save(s, path, signatures={'serving_default': s.serve, 'other': s.other})",
      sep = "\n"), convert = FALSE)
    main$write_served(path)
  }
  m <- hub_load(path)
  expect_false(reticulate::py_to_r(attr(m, "py_module")$has_call))
  # a plain vector is one example of the [?, 3] int32 input: whole doubles become int32
  expect_identical(m(c(1, 2, 3), as_dict = TRUE)$twice, matrix(c(2L, 4L, 6L), 1))
  expect_error(m(c(1.5, 2, 3)), class = "hubfn_input_error",
               regexp = "Input 'ids' of signature 'serving_default' (.*) expects int32: whole numbers; got 1.5 \\(element 1\\)")
})

test_that("R makes one plan per (signature, training), on first use, and keeps it with the module", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  copy <- m  # a copy of the R function shares the plans
  m(c(1, 0))
  first <- attr(m, "plans")[["\r"]][[1]]
  expect_equal(first$way$name, "default")
  expect_equal(copy(matrix(1:4, 2)), matrix(c(1:4), 2) %*% matrix(c(1, 3, 2, 4), 2) + matrix(c(0.5, -0.5), 2, 2, byrow = TRUE))
  m(list(apples = 1, oranges = 2), signature = "fruit_to_pet", as_dict = TRUE)
  expect_equal(m(c(1, 0), training = TRUE), matrix(c(1.5, 1.5), 1))
  plans <- attr(m, "plans")
  expect_setequal(ls(plans, all.names = TRUE), c("\r", "fruit_to_pet"))
  expect_identical(plans[["\r"]][[1]], first)  # not made again
  expect_equal(plans[["\r"]][[2]]$way$name, "__call__")  # training = TRUE runs __call__ (hubfn's choice)
  # R integers and doubles reach a float32 input alike (the plan's cast), in a named list too
  expect_identical(m(list(apples = 1:3, oranges = 4:6), signature = "fruit_to_pet", as_dict = TRUE),
                   m(list(apples = c(1, 2, 3), oranges = c(4, 5, 6)), signature = "fruit_to_pet", as_dict = TRUE))
})
