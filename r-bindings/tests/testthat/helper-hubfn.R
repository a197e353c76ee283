# Shared fixtures: real example modules written once per R process (TensorFlow loads once).

skip_if_no_hubfn <- function() {
  skip_if_not(hubfn_available(), "the hubfn Python package is not available to reticulate")
}

.fixtures <- new.env()

# A directory of its own for this test run, and a cache of its own.
fixture_root <- function() {
  if (is.null(.fixtures$root)) {
    root <- tempfile("hubfn-r-tests-")
    dir.create(root)
    cache <- file.path(root, "cache")
    Sys.setenv(TFHUB_CACHE_DIR = cache)
    os <- reticulate::import("os", convert = FALSE)
    os$environ$update(reticulate::dict(TFHUB_CACHE_DIR = cache))
    .fixtures$root <- root
  }
  .fixtures$root
}

examples <- function() reticulate::import("hubfn.examples")

fruit_dir <- function() {
  if (is.null(.fixtures$fruit)) {
    .fixtures$fruit <- examples()$fruit_module(file.path(fixture_root(), "modules", "acme", "fruit", "1"))
  }
  .fixtures$fruit
}

tf1_dir <- function() {
  if (is.null(.fixtures$tf1)) {
    .fixtures$tf1 <- examples()$tf1_hub_module(file.path(fixture_root(), "modules", "acme", "tf1", "1"))
  }
  .fixtures$tf1
}

# A module whose signature takes int32, bool and string inputs (written with TensorFlow, not mocked).
types_dir <- function() {
  if (is.null(.fixtures$types)) {
    path <- file.path(fixture_root(), "modules", "types")
    src <- file.path(fixture_root(), "types_module_src")
    dir.create(src, showWarnings = FALSE)
    writeLines(c(
      "import tensorflow as tf",
      "import hubfn",
      "",
      "class Types(tf.Module):",
      "    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name='ints'),",
      "                                  tf.TensorSpec([None], tf.bool, name='flags'),",
      "                                  tf.TensorSpec([None], tf.string, name='words')])",
      "    def __call__(self, ints, flags, words):",
      "        return {'twice': ints * 2, 'wide': tf.cast(ints, tf.int64) * 3, 'negated': tf.logical_not(flags),",
      "                'upper': tf.strings.upper(words), 'total': tf.reduce_sum(tf.cast(ints, tf.float64))}",
      "",
      "class Cube(tf.Module):",
      "    @tf.function(input_signature=[tf.TensorSpec([None, 2, 3], tf.float32, name='cube')])",
      "    def __call__(self, cube):",
      "        return {'corner': cube[:, 0, 2], 'row_sums': tf.reduce_sum(cube, axis=2), 'same': cube}",
      "",
      "def write_types(path):",
      "    return hubfn.export_savedmodel(Types(), path)",
      "",
      "def write_cube(path):",
      "    return hubfn.export_savedmodel(Cube(), path)"
    ), file.path(src, "types_module.py"))
    mod <- reticulate::import_from_path("types_module", src, convert = FALSE)
    .fixtures$types <- reticulate::py_to_r(mod$write_types(path))
    .fixtures$cube <- reticulate::py_to_r(mod$write_cube(file.path(fixture_root(), "modules", "cube")))
  }
  .fixtures$types
}

cube_dir <- function() {
  types_dir()
  .fixtures$cube
}

py_numpy <- function() reticulate::import("numpy", convert = FALSE)

`%as%` <- reticulate::`%as%`

# Tests that start another R process need hubfn installed (as under R CMD check), not load_all()-ed.
skip_if_hubfn_not_installed <- function() {
  skip_if_not("hubfn" %in% rownames(utils::installed.packages(lib.loc = .libPaths())),
              "hubfn is not installed (tests run from source)")
}
