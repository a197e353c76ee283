# R inputs of every kind (issue items 3 and 4): factors, unnamed lists, whole doubles and integer
# ranges, data frames, errors in R's words; and list outputs as R lists of R arrays.

test_that("factors go in as their labels, alone and as data-frame columns", {
  skip_if_no_hubfn()
  m <- hub_load(types_dir())
  words <- factor(c("b", "a", "b"))
  out <- m(list(ints = 1:3, flags = c(TRUE, TRUE, FALSE), words = words), as_dict = TRUE)
  expect_identical(out$upper, c("B", "A", "B"))
  emb <- hub_load(shape_dir("text_embedding"))
  expect_equal(emb(factor(c("good day", "hi"))), emb(c("good day", "hi")))
  df <- data.frame(text = factor(c("hi", "heello", "goodbye")))
  expect_equal(emb(df), emb(c("hi", "heello", "goodbye")))  # one column into a [?] input: the column
  # a factor matrix keeps its dims
  f <- factor(c("a", "b", "c", "d"))
  dim(f) <- c(2, 2)
  expect_identical(dim(hubfn:::.unfactor(f)), c(2L, 2L))
})

test_that("a list without names maps to the inputs in signature order", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  named <- m(list(apples = c(1, 2), oranges = c(3, 4)), signature = "fruit_to_pet", as_dict = TRUE)
  expect_identical(m(list(c(1, 2), c(3, 4)), signature = "fruit_to_pet", as_dict = TRUE), named)
  expect_equal(m$signatures$fruit_to_pet(list(c(1, 2), c(3, 4)))$cats, c(5, 8))
  expect_error(m(list(1, 2, 3), signature = "fruit_to_pet"), class = "hubfn_input_error",
               regexp = "in order: apples, oranges (got 3)", fixed = TRUE)
  expect_error(m(list(apples = 1, 2), signature = "fruit_to_pet"), class = "hubfn_input_error",
               regexp = "all be named, or none")
})

test_that("whole doubles go into integer inputs; numbers out of the integer range are an input error", {
  skip_if_no_hubfn()
  m <- hub_load(types_dir())
  ok <- m(list(ints = c(2^31 - 1, -2^31, 0), flags = c(TRUE, TRUE, TRUE), words = c("a", "b", "c")),
          as_dict = TRUE)
  expect_identical(ok$wide, c(3 * (2^31 - 1), 3 * -2^31, 0))  # int64 output: exact in a double
  e <- tryCatch(m(list(ints = c(1, 2^31), flags = c(TRUE, TRUE), words = c("a", "b"))), error = function(e) e)
  expect_s3_class(e, "hubfn_input_error")
  expect_match(conditionMessage(e), "expects int32, whose values run from -2147483648 to 2147483647; got 2147483648 (element 2)",
               fixed = TRUE)
  expect_error(m(list(ints = -2^31 - 1, flags = TRUE, words = "a")), class = "hubfn_input_error")
  expect_error(m(list(ints = Inf, flags = TRUE, words = "a")), class = "hubfn_input_error", regexp = "whole numbers")
  # the same rule for the int32 ids of a BERT-style encoder's __call__ (a dict of inputs)
  enc <- hub_load(shape_dir("bert_encoder"))
  ids <- matrix(c(1, 5, 7, 0, 0, 0, 0, 0), 1)
  out <- enc(list(input_word_ids = ids, input_mask = 1 * (ids > 0), input_type_ids = 0 * ids), as_dict = TRUE)
  expect_equal(dim(out$pooled_output), c(1L, 4L))
  ids[1, 2] <- 2^40 + 7
  expect_error(enc(list(input_word_ids = ids, input_mask = 1 * (ids > 0), input_type_ids = 0 * ids)),
               class = "hubfn_input_error", regexp = "Input 'input_word_ids' of __call__ .* expects int32")
})

test_that("a data frame into a one-input signature is a matrix; into several, one input per column", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  df <- data.frame(a = c(1, 2, 5), b = c(3, 4, 6))
  expect_equal(m(df), m(as.matrix(unname(df))))
  expect_equal(m(df), as.matrix(unname(df)) %*% matrix(c(1, 3, 2, 4), 2) + matrix(c(0.5, -0.5), 3, 2, byrow = TRUE))
  pets <- m(data.frame(oranges = c(3, 4), apples = c(1, 2)), signature = "fruit_to_pet", as_dict = TRUE)
  expect_equal(pets$cats, c(5, 8))
})

test_that("wrong kinds of R value are refused in R's words", {
  skip_if_no_hubfn()
  m <- hub_load(fruit_dir())
  e <- tryCatch(m(c("a", "b")), error = function(e) e)
  expect_s3_class(e, "hubfn_input_error")
  expect_equal(conditionMessage(e), sprintf(
    "Input 'x' of signature 'default' ('%s') expects float32: a numeric vector or array; got a character vector.",
    fruit_dir()))
  emb <- hub_load(shape_dir("text_embedding"))
  expect_error(emb(c(1, 2)), class = "hubfn_input_error",
               regexp = "expects string: a character vector or array (or a factor); got a double vector.", fixed = TRUE)
  types <- hub_load(types_dir())
  expect_error(types(list(ints = 1L, flags = 1, words = "a")), class = "hubfn_input_error",
               regexp = "expects bool: a logical vector or array; got a double vector")
  expect_error(m(list(apples = list(1), oranges = 2), signature = "fruit_to_pet"), class = "hubfn_input_error",
               regexp = "pass a numeric, integer, logical or character vector")
  # hubfn's own messages reach R with R's spelling of arguments
  expect_error(m(list(apples = 1, oranges = 2), signature = "fruit_to_pet"), class = "hubfn_output_error",
               regexp = "as_dict = TRUE", fixed = TRUE)
})

test_that("list outputs come back as R lists of R arrays; strings as character", {
  skip_if_no_hubfn()
  pre <- hub_load(shape_dir("bert_preprocessor"))
  enc <- hub_load(shape_dir("bert_encoder"))
  inputs <- pre(c("hello world", "good day to you"), as_dict = TRUE)
  expect_setequal(names(inputs), c("input_word_ids", "input_mask", "input_type_ids"))
  expect_type(inputs$input_word_ids, "integer")
  expect_equal(dim(inputs$input_word_ids), c(2L, 8L))
  expect_equal(rowSums(inputs$input_mask), c(3, 5))
  out <- enc(inputs, as_dict = TRUE)
  expect_type(out$encoder_outputs, "list")
  expect_length(out$encoder_outputs, 2L)
  for (layer in out$encoder_outputs) {
    expect_true(is.array(layer))
    expect_equal(dim(layer), c(2L, 8L, 4L))
  }
  expect_equal(out$encoder_outputs[[2]], out$sequence_output)
  expect_equal(out$default, out$pooled_output)
  # whole doubles for the ids work too (R users type numbers)
  doubles <- lapply(inputs, function(x) array(as.double(x), dim(x)))
  expect_equal(enc(doubles, as_dict = TRUE)$pooled_output, out$pooled_output)
})

test_that("each integer dtype takes exactly its range of whole numbers", {
  skip_if_no_hubfn()
  m <- hub_load(ints_dir())  # one signature per integer dtype, each returning its input x
  limits <- list(int8 = c(-128, 127), uint8 = c(0, 255), int16 = c(-32768, 32767), uint16 = c(0, 65535),
                 int32 = c(-2147483648, 2147483647), uint32 = c(0, 4294967295))
  for (dtype in names(limits)) {
    lo <- limits[[dtype]][1]
    hi <- limits[[dtype]][2]
    expect_length(m(c(lo, hi), signature = dtype), 2L)  # (an int32 -2^31 comes back as NA: R's NA_integer_)
    range_text <- sprintf("Input 'x' of signature '%s' ('%s') expects %s, whose values run from %s to %s; got ",
                          dtype, ints_dir(), dtype, format(lo, scientific = FALSE), format(hi, scientific = FALSE))
    expect_error(m(c(lo, hi + 1), signature = dtype), class = "hubfn_input_error",
                 regexp = paste0(range_text, format(hi + 1, scientific = FALSE), " (element 2)."), fixed = TRUE)
    expect_error(m(lo - 1, signature = dtype), class = "hubfn_input_error",
                 regexp = paste0(range_text, format(lo - 1, scientific = FALSE), " (element 1)."), fixed = TRUE)
  }
  # 64 bits: the limits are compared exactly although 2^63 - 1 and 2^64 - 1 are not doubles
  expect_equal(as.numeric(m(c(-2^63, 2^62), signature = "int64")), c(-2^63, 2^62))
  expect_error(m(2^63, signature = "int64"), class = "hubfn_input_error", regexp = "got 9223372036854775808 (element 1)",
               fixed = TRUE)
  expect_equal(as.numeric(m(c(0, 2^63), signature = "uint64")), c(0, 2^63))
  expect_error(m(c(1, 2^64), signature = "uint64"), class = "hubfn_input_error",
               regexp = "got 18446744073709551616 (element 2)", fixed = TRUE)
  expect_error(m(-1, signature = "uint64"), class = "hubfn_input_error", regexp = "expects uint64, whose values run from 0 to ")
  # the condition carries hubfn's fields: which input, what it takes, what it got
  e <- tryCatch(m(c(1, 300), signature = "uint8"), error = function(e) e)
  expect_equal(e[c("input", "expected", "got", "reason")], list(input = "x", expected = "uint8", got = 300L, reason = "value"))
})
