library(testthat)
library(hubfn)

test_check("hubfn")
