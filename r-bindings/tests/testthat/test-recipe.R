# step_pretrained_text_embedding() for recipes (issue item 6), and the re-exported %>%.

test_that("step_pretrained_text_embedding preps and bakes text columns into embedding columns", {
  skip_if_no_hubfn()
  skip_if_not_installed("recipes")
  suppressPackageStartupMessages(library(recipes))
  df <- data.frame(text = c("hi", "heello", "goodbye"), other = factor(c("a b", "b", "c")), y = c(0, 1, 0))
  rec <- recipe(y ~ text + other, df) %>%
    step_pretrained_text_embedding(text, other, handle = shape_dir("text_embedding"))
  expect_output(print(rec$steps[[1]]), "Pretrained text embedding")
  rec <- prep(rec, training = df)
  expect_equal(rec$steps[[1]]$vars, c("text", "other"))
  baked <- bake(rec, df)
  expect_s3_class(baked, "data.frame")
  expect_setequal(names(baked), c("y", sprintf("text_txt_emb_%04d", 1:3), sprintf("other_txt_emb_%04d", 1:3)))
  emb <- hub_load(shape_dir("text_embedding"))
  expect_equal(unname(as.matrix(baked[, sprintf("text_txt_emb_%04d", 1:3)])), emb(df$text), tolerance = 1e-6)
  expect_equal(unname(as.matrix(baked[, sprintf("other_txt_emb_%04d", 1:3)])), emb(c("a b", "b", "c")), tolerance = 1e-6)
  # new data bakes the same way; a numeric column is refused at prep
  new <- bake(rec, data.frame(text = "goodbye", other = factor("c"), y = 1))
  expect_equal(unname(unlist(new[1, sprintf("text_txt_emb_%04d", 1:3)])), emb("goodbye")[1, ], tolerance = 1e-6)
  bad <- recipe(y ~ ., data.frame(n = c(1, 2), y = c(0, 1))) %>%
    step_pretrained_text_embedding(n, handle = shape_dir("text_embedding"))
  expect_error(prep(bad), class = "hubfn_input_error", regexp = "column 'n' is a double vector")
})

test_that("%>% is re-exported", {
  expect_true("%>%" %in% getNamespaceExports("hubfn"))
  expect_equal(c(1, 4) %>% sqrt(), c(1, 2))
})
