# The vignettes are installed with the package (issue item 7): R CMD build knits them (build.sh
# copies them in from the repository's vignettes/), R CMD check re-builds them.

test_that("the vignettes are installed with the package", {
  skip_if_hubfn_not_installed()
  skip_if(!nzchar(system.file("python", "hubfn-src", package = "hubfn")),
          "package not built with r-bindings/build.sh")
  v <- utils::vignette(package = "hubfn")$results
  expect_setequal(v[, "Item"], c("key-concepts", "transfer-learning", "python"))
  doc <- system.file("doc", package = "hubfn")
  expect_true(all(file.exists(file.path(doc, paste0(c("key-concepts", "transfer-learning", "python"), ".html")))))
})
