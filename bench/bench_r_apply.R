# Per-call cost of module_apply from R against the same call from Python, in one process.
#
#   source scripts/env.sh && Rscript bench/bench_r_apply.R [N]
#
# Both sides apply the fruit example module (signature "default", x: float32[?, 2]) to the same
# 8 x 2 input, N times after a warm-up. The Python loop runs inside Python (no R in the loop), so
# the ratio is the cost of the R layer: converting R values in, the reticulate call, and
# converting the tensor back to an R array.
args <- commandArgs(trailingOnly = TRUE)
n <- if (length(args)) as.integer(args[[1]]) else 500L

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
def py_apply_dict(module, a, o):
    from hubfn import module_apply
    return lambda: module_apply(module, {'apples': a, 'oranges': o}, signature='fruit_to_pet', as_dict=True)
", local = TRUE, convert = FALSE)
fn <- function(name) reticulate::py_get_item(bench, name)

per_call_r <- function(f) {
  f()
  gc()
  t <- system.time(for (i in seq_len(n)) f())[["elapsed"]]
  t / n
}
per_call_py <- function(thunk) reticulate::py_to_r(helpers$time_calls(thunk, n))

stopifnot(isTRUE(all.equal(m(x), x %*% matrix(c(1, 3, 2, 4), 2) + matrix(c(0.5, -0.5), 8, 2, byrow = TRUE))))
a <- c(1, 2, 3); o <- c(4, 5, 6)

r_call <- per_call_r(function() m(x))
r_apply <- per_call_r(function() module_apply(m, x))
r_tensor <- per_call_r(function() m(x, convert = FALSE))
r_dict <- per_call_r(function() m(list(apples = a, oranges = o), signature = "fruit_to_pet", as_dict = TRUE))
py_call <- per_call_py(reticulate::py_call(fn("py_apply"), py_m, py_x))
py_numpy <- per_call_py(reticulate::py_call(fn("py_apply_numpy"), py_m, py_x))
py_dict <- per_call_py(reticulate::py_call(fn("py_apply_dict"), py_m,
                                           reticulate::np_array(a, dtype = "float32"),
                                           reticulate::np_array(o, dtype = "float32")))

us <- function(s) sprintf("%8.1f us", s * 1e6)
cat(sprintf("module_apply per call, N = %d, fruit module, x: 8 x 2 (reticulate %s, %s)\n", n,
            packageVersion("reticulate"), R.version.string))
cat("  R      m(x) -> R matrix                     ", us(r_call), "\n")
cat("  R      module_apply(m, x) -> R matrix       ", us(r_apply), "\n")
cat("  R      m(x, convert = FALSE) -> tensor      ", us(r_tensor), "\n")
cat("  Python module_apply(m, x) -> tensor         ", us(py_call), "\n")
cat("  Python module_apply(m, x).numpy()           ", us(py_numpy), "\n")
cat("  R      fruit_to_pet, named list, as_dict    ", us(r_dict), "\n")
cat("  Python fruit_to_pet, dict, as_dict          ", us(py_dict), "\n")
cat(sprintf("ratio R / Python: %.2fx (m(x) vs module_apply(m, x).numpy()), %.2fx (module_apply vs module_apply), %.2fx (as_dict)\n",
            r_call / py_numpy, r_apply / py_call, r_dict / py_dict))
