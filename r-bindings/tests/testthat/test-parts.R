# summary(), str(), m$signatures, m[["field"]] and sub-objects (issue item 5).

test_that("summary() and str() describe a module", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  s <- summary(m)
  expect_s3_class(s, "summary.hubfn_module")
  expect_equal(s$format, "tf2")
  expect_true(all(c("default", "fruit_to_pet") %in% names(s$signatures)))
  printed <- capture.output(print(s))
  expect_true(any(grepl("signature fruit_to_pet", printed, fixed = TRUE)))
  expect_true(any(grepl("inputs:  apples: float32[?], oranges: float32[?]", printed, fixed = TRUE)))
  expect_true(any(grepl("outputs: default: float32[?, 2]", printed, fixed = TRUE)))
  shown <- capture.output(str(m))
  expect_match(shown[1], "^hubfn_module function\\(inputs")
  expect_true(any(grepl(sprintf('$ path      : chr "%s"', fruit_dir()), shown, fixed = TRUE)))
  expect_true(any(grepl("\\$ signatures: List of [0-9]+ functions: default, fruit_to_pet.*__call__", shown)))
  img <- hub_load(shape_dir("image_feature_vector"))
  expect_true(any(grepl("__call__", capture.output(print(summary(img))))))
  expect_true(any(grepl("images: float32[?, 8, 8, 3]", capture.output(print(summary(img))), fixed = TRUE)))
  # print() names __call__'s inputs too, for a module whose only function is __call__
  expect_true(any(grepl("__call__(images: float32[?, 8, 8, 3])", capture.output(print(img)), fixed = TRUE)))
})

test_that("m[[name]] and m$name read fields; m$signatures runs a named signature", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  expect_equal(m[["path"]], fruit_dir())
  expect_equal(m$path, fruit_dir())
  expect_equal(m[["format"]], "tf2")
  expect_false(m[["trainable"]])
  sigs <- m$signatures
  expect_true(all(c("default", "fruit_to_pet", "__call__") %in% names(sigs)))
  expect_true(all(vapply(sigs, is.function, TRUE)))
  out <- sigs[["fruit_to_pet"]](list(apples = c(1, 2), oranges = c(3, 4)))
  expect_equal(out$cats, c(5, 8))
  expect_equal(out$dogs, c(1, 2) - 3 * c(3, 4))
  expect_equal(sigs$default(matrix(c(1, 0), 1))$default, matrix(c(1.5, 1.5), 1))
})

test_that("a callable sub-object (a BERT preprocessor's tokenize) is an R function", {
  skip_if_no_hubfn()
  pre <- hub_load(shape_dir("bert_preprocessor"))
  tokens <- pre$tokenize(c("hello world", "a"))
  expect_type(tokens, "list")  # ragged: one integer vector per string
  expect_equal(lengths(tokens), c(2L, 1L))
  ids <- pre(c("hello world", "a"), as_dict = TRUE)$input_word_ids
  expect_equal(ids[1, 2:3], tokens[[1]])  # the preprocessor packs what tokenize gives
  expect_error(pre$tokenize(c(1, 2)), class = "hubfn_input_error",
               regexp = "Input 'strings' of tokenize ('", fixed = TRUE)
  expect_error(pre$tokenize(c(1, 2)), class = "hubfn_input_error", regexp = "expects string: a character vector")
  # the same function as module_apply(signature = "tokenize") runs, with its checks
  expect_identical(pre[["tokenize"]](c("hello world", "a")), tokens)
  expect_identical(module_apply(pre, c("hello world", "a"), signature = "tokenize"), tokens)
  expect_error(pre$no_such_part, class = "hubfn_python_error")
})
