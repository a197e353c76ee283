# Per-call cost of module_apply from R against the same call from Python, in one process.
#
#   source scripts/env.sh && Rscript bench/bench_r_apply.R [N]
#
# Both sides apply the fruit example module (signature "default", x: float32[?, 2]) to the same
# 8 x 2 input, N calls in all (default 3000) after a warm-up. The Python loop runs inside Python (no R in the loop), so
# the ratio is the cost of the R layer: converting R values in, the reticulate call, and
# converting the tensor back to an R array.
#
# The Python variants end where R's conversion begins: module_apply(m, x).numpy(), and for as_dict each
# output's .numpy() ({name: tensor.numpy()}), so Python's own tensor -> NumPy step is counted on both
# sides. (Before, the as_dict variant stopped at the dict of tensors while the single-output one had
# .numpy(); making them alike raised the as_dict Python and floor figures by that step, about 2-6 us here.)
args <- commandArgs(trailingOnly = TRUE)
n <- if (length(args)) as.integer(args[[1]]) else 3000L

file_arg <- grep("^--file=", commandArgs(FALSE), value = TRUE)
root <- normalizePath(file.path(dirname(sub("^--file=", "", file_arg[1])), ".."))
if (!nzchar(Sys.getenv("RETICULATE_PYTHON"))) {
  Sys.setenv(RETICULATE_PYTHON = file.path(root, ".venv", "bin", "python"),
             TF_CPP_MIN_LOG_LEVEL = "2", TF_ENABLE_ONEDNN_OPTS = "0")
}
if (requireNamespace("pkgload", quietly = TRUE)) {
  pkgload::load_all(file.path(root, "r-bindings"), quiet = TRUE, export_all = FALSE)
} else {
  library(hubfn)
}

dir <- reticulate::import("hubfn.examples")$fruit_module(file.path(tempdir(), "fruit"))
m <- hub_load(dir)
x <- matrix(as.double(1:16), ncol = 2)
py_m <- reticulate::r_to_py(m)
py_x <- reticulate::np_array(x, dtype = "float32")
helpers <- reticulate::import_from_path("hubfn_r_helpers", file.path(root, "r-bindings", "inst", "python"),
                                        convert = FALSE)
bench <- reticulate::py_run_string("
def py_apply(module, x):
    from hubfn import module_apply
    return lambda: module_apply(module, x)
def py_apply_numpy(module, x):
    from hubfn import module_apply
    return lambda: module_apply(module, x).numpy()
def py_apply_r(module, x, helpers):
    run = helpers.runner(module)[1]
    return lambda: run(x, False, False, True)
def once(thunk):
    thunk()
def py_apply_dict(module, a, o):
    from hubfn import module_apply
    return lambda: {k: v.numpy() for k, v in module_apply(module, {'apples': a, 'oranges': o}, signature='fruit_to_pet',
                                                            as_dict=True).items()}
", local = TRUE, convert = FALSE)
fn <- function(name) reticulate::py_get_item(bench, name)

# Each variant runs in `rounds` rounds of n / rounds calls, the R and Python variants interleaved
# round by round so both see the same machine load; a time is the median round. An R call and its floor
# run next to each other in every round, and R / floor is the median of the rounds' own ratios, so a slow
# stretch of the machine (which moves the floor itself by 10-20 % between runs) hits both sides of a ratio.
rounds <- 15L
per_round <- max(1L, n %/% rounds)
r_round <- function(f) {
  t0 <- proc.time()[["elapsed"]]
  for (i in seq_len(per_round)) f()
  (proc.time()[["elapsed"]] - t0) / per_round
}
py_round <- function(thunk) reticulate::py_to_r(helpers$time_calls(thunk, per_round))
measure <- function(variants) {
  for (v in variants) v()  # warm up
  times <- replicate(rounds, vapply(variants, function(v) v(), 0))
  list(median = apply(times, 1, stats::median), rounds = times)
}
paired <- function(a, b) stats::median(t$rounds[a, ] / t$rounds[b, ])  # median of the rounds' ratios

stopifnot(isTRUE(all.equal(m(x), x %*% matrix(c(1, 3, 2, 4), 2) + matrix(c(0.5, -0.5), 8, 2, byrow = TRUE))))
a <- c(1, 2, 3); o <- c(4, 5, 6)

py_x_thunk <- reticulate::py_call(fn("py_apply"), py_m, py_x)
py_numpy_thunk <- reticulate::py_call(fn("py_apply_numpy"), py_m, py_x)
py_dict_thunk <- reticulate::py_call(fn("py_apply_dict"), py_m, reticulate::np_array(a, dtype = "float32"),
                                     reticulate::np_array(o, dtype = "float32"))
py_helper_thunk <- reticulate::py_call(fn("py_apply_r"), py_m, reticulate::r_to_py(x), helpers)
# reticulate's floor: R calling Python to run the Python variant's call once, on inputs already in
# Python, with nothing converted either way (the same Python work, entered from R call by call).
once <- fn("once")
t <- measure(list(
  py_helper = function() py_round(py_helper_thunk),
  r_call = function() r_round(function() m(x)),
  floor_numpy = function() r_round(function() reticulate::py_call(once, py_numpy_thunk)),
  py_numpy = function() py_round(py_numpy_thunk),
  r_apply = function() r_round(function() module_apply(m, x)),
  py_call = function() py_round(py_x_thunk),
  r_tensor = function() r_round(function() m(x, convert = FALSE)),
  r_dict = function() r_round(function() m(list(apples = a, oranges = o), signature = "fruit_to_pet",
                                           as_dict = TRUE)),
  floor_dict = function() r_round(function() reticulate::py_call(once, py_dict_thunk)),
  py_dict = function() py_round(py_dict_thunk)
))
med <- t$median
r_call <- med[["r_call"]]; r_apply <- med[["r_apply"]]; r_tensor <- med[["r_tensor"]]; r_dict <- med[["r_dict"]]
floor_numpy <- med[["floor_numpy"]]; floor_dict <- med[["floor_dict"]]
py_helper <- med[["py_helper"]]; py_call <- med[["py_call"]]; py_numpy <- med[["py_numpy"]]; py_dict <- med[["py_dict"]]

us <- function(s) sprintf("%8.1f us", s * 1e6)
cat(sprintf("module_apply per call, median of %d rounds of %d calls, fruit module, x: 8 x 2 (reticulate %s, %s)\n", rounds, per_round,
            packageVersion("reticulate"), R.version.string))
cat("  R      m(x) -> R matrix                     ", us(r_call), "\n")
cat("  R      module_apply(m, x) -> R matrix       ", us(r_apply), "\n")
cat("  R      m(x, convert = FALSE) -> tensor      ", us(r_tensor), "\n")
cat("  Python module_apply(m, x) -> tensor         ", us(py_call), "\n")
cat("  Python module_apply(m, x).numpy()           ", us(py_numpy), "\n")
cat("  Python runner(m)(R matrix) (R's helper)     ", us(py_helper), "\n")
cat("  R      fruit_to_pet, named list, as_dict    ", us(r_dict), "\n")
cat("  Python fruit_to_pet, dict, as_dict, .numpy()", us(py_dict), "\n")
cat("  R -> Python: module_apply(m, x).numpy() ", us(floor_numpy), " (reticulate's floor: the Python call, entered from R)\n")
cat("  R -> Python: fruit_to_pet dict, as_dict  ", us(floor_dict), " (the same, as_dict, .numpy() each)\n")
cat(sprintf("ratio R / Python: %.2fx (m(x) vs module_apply(m, x).numpy()), %.2fx (module_apply vs module_apply), %.2fx (as_dict)\n",
            r_call / py_numpy, r_apply / py_call, r_dict / py_dict))
cat(sprintf("reticulate's floor / Python: %.2fx (the numpy call), %.2fx (as_dict)\n",
            floor_numpy / py_numpy, floor_dict / py_dict))
cat(sprintf("R / floor (median of the rounds' ratios, target <= 1.10): %.2fx (m(x), matrix), %.2fx (named list, as_dict)\n",
            paired("r_call", "floor_numpy"), paired("r_dict", "floor_dict")))
