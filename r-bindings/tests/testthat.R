library(testthat)
library(hubfn)

# All tests run in this one R process (TensorFlow is imported once). When HUBFN_R_TEST_RESULTS
# names a file, the counts go there as "passed failed skipped" for run-tests.sh.
results <- as.data.frame(test_check("hubfn", stop_on_failure = FALSE))
passed <- sum(results$passed)
failed <- sum(results$failed) + sum(results$error)
skipped <- sum(results$skipped)
out <- Sys.getenv("HUBFN_R_TEST_RESULTS")
if (nzchar(out)) {
  skipped_tests <- as.character(results$test[results$skipped])
  writeLines(c(paste(passed, failed, skipped), if (length(skipped_tests)) paste0("  skipped: ", skipped_tests)), out)
}
if (failed > 0) stop(failed, " R test(s) failed")
