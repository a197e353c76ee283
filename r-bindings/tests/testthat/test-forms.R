# A function saved with several concrete functions takes what any of them takes (issue 28, item 2), from R.
# The module is shaped as TF Hub's BERT preprocessors are saved by the Model Garden's exporter; the recipe
# is theirs for text pairs: bert_pack_inputs(list(tokenize(premises), tokenize(hypotheses)), seq_length).

premises <- c("The cat sat on the mat", "a dog ran")
hypotheses <- c("an animal sat", "the dog is outside")

test_that("the text-pair recipe packs tokens of rank 3, as TensorFlow runs it", {
  skip_if_no_hubfn()
  tf <- reticulate::import("tensorflow")
  pre <- hub_load(shape_dir("bert_preprocessor_garden"))
  tokens <- function(x) module_apply(pre, x, signature = "tokenize", convert = FALSE)
  expect_equal(reticulate::py_to_r(tokens(premises)$shape$rank), 3L)
  packed <- module_apply(pre, list(tokens(premises), tokens(hypotheses)), signature = "bert_pack_inputs",
                         arguments = list(seq_length = 48), as_dict = TRUE)
  obj <- tf$saved_model$load(shape_dir("bert_preprocessor_garden"))
  ref <- obj$bert_pack_inputs(list(obj$tokenize(tf$constant(premises)), obj$tokenize(tf$constant(hypotheses))),
                              seq_length = 48L)
  for (key in c("input_word_ids", "input_mask", "input_type_ids")) {
    expect_equal(packed[[key]], ref[[key]]$numpy(), info = key)
  }
  expect_equal(dim(packed$input_word_ids), c(2L, 48L))
  expect_equal(packed$input_type_ids[2, 1:6], c(0L, 0L, 0L, 0L, 0L, 1L))  # [start] a dog ran [end] | the ...
  # the rank-2 form, and the saved default seq_length, as well
  flat <- tokens(premises)$merge_dims(1L, -1L)
  one <- pre$bert_pack_inputs(list(flat))
  expect_equal(one$input_word_ids, pre(premises, as_dict = TRUE)$input_word_ids)
})

test_that("inputs no saved form takes are refused naming every form", {
  skip_if_no_hubfn()
  pre <- hub_load(shape_dir("bert_preprocessor_garden"))
  tokens <- module_apply(pre, premises, signature = "tokenize", convert = FALSE)
  expect_error(module_apply(pre, list(tokens, tokens$merge_dims(1L, -1L)), signature = "bert_pack_inputs"),
               class = "hubfn_input_error",
               regexp = "saved for 2 forms of inputs.*ragged int32\\[\\?, \\?\\]\\].*ragged int32\\[\\?, \\?, \\?\\]\\]")
  shown <- capture.output(print(pre))
  expect_true(any(grepl("    bert_pack_inputs(inputs[0]: ragged int32[?, ?]) -> {", shown, fixed = TRUE)))
  expect_true(any(grepl("      or bert_pack_inputs(inputs[0]: ragged int32[?, ?, ?])", shown, fixed = TRUE)))
  forms <- module_signatures(pre)$bert_pack_inputs$alternatives
  expect_equal(forms[[1]]$inputs[[1]]$shape, c(NA_integer_, NA_integer_, NA_integer_))
})
