# Shared fixtures: real example modules written once per R process (TensorFlow loads once).

# Without hubfn's Python the tests cannot run. Locally they are skipped; in CI (CI=true) that is a
# failure, so a broken set-up cannot pass as a green run.
skip_if_no_hubfn <- function() {
  if (hubfn_available()) {
    return(invisible(TRUE))
  }
  why <- "the hubfn Python package is not available to reticulate"
  if (tolower(Sys.getenv("CI")) %in% c("true", "1", "yes")) {
    fail(paste0(why, " (CI is set, so this is a failure, not a skip)"))
    skip("failed above")
  }
  skip(why)
}

.fixtures <- new.env()

# recipes (through lubridate) asks timedatectl for the time zone when TZ is unset, and warns where
# there is no systemd.
if (!nzchar(Sys.getenv("TZ"))) Sys.setenv(TZ = "UTC")

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

# A module with one signature per integer dtype (int8 ... uint64), each returning its input x: [?].
ints_dir <- function() {
  if (is.null(.fixtures$ints)) {
    main <- reticulate::py_run_string(paste(
      "import tensorflow as tf",
      "def write_ints(path):",
      "    m = tf.Module()",
      "    sigs = {}",
      "    for dtype in ('int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'):",
      "        f = tf.function(lambda x: {'y': tf.identity(x)}, input_signature=[tf.TensorSpec([None], dtype, name='x')])",
      "        setattr(m, dtype, f)",
      "        sigs[dtype] = f",
      "    tf.saved_model.save(m, path, signatures=sigs)",
      "    return path", sep = "\n"), convert = FALSE)
    .fixtures$ints <- reticulate::py_to_r(main$write_ints(file.path(fixture_root(), "modules", "ints")))
  }
  .fixtures$ints
}

cube_dir <- function() {
  types_dir()
  .fixtures$cube
}

# Modules shaped like common TF Hub modules (shapes_modules.py beside this file), written once.
shape_dir <- function(name) {
  if (is.null(.fixtures$shapes[[name]])) {
    here <- normalizePath(test_path("."))
    mod <- reticulate::import_from_path("shapes_modules", here, convert = FALSE)
    path <- file.path(fixture_root(), "modules", "shapes", name)
    .fixtures$shapes[[name]] <- reticulate::py_to_r(reticulate::py_call(reticulate::py_get_attr(mod, name), path))
  }
  .fixtures$shapes[[name]]
}

py_numpy <- function() reticulate::import("numpy", convert = FALSE)

`%as%` <- reticulate::`%as%`

# Tests that start another R process need hubfn installed (as under R CMD check), not load_all()-ed.
skip_if_hubfn_not_installed <- function() {
  skip_if_not("hubfn" %in% rownames(utils::installed.packages(lib.loc = .libPaths())),
              "hubfn is not installed (tests run from source)")
}

# Stand-ins for the four R keras functions R tfhub's tests use (the R keras package is not
# available here), written over Keras 3 through reticulate with R keras' calling conventions
# (convert = TRUE, as R keras imports it: models and layers are callable R functions).
keras_py <- function() reticulate::import("keras")
keras_model_sequential <- function() keras_py()$Sequential()
layer_input <- function(shape, ...) keras_py()$Input(shape = reticulate::tuple(lapply(as.list(shape), as.integer)), ...)
keras_model <- function(inputs, outputs) keras_py()$Model(inputs, outputs)
layer_dense <- function(object, units, ...) {
  layer <- keras_py()$layers$Dense(as.integer(units), ...)
  if (reticulate::py_has_attr(object, "add") && reticulate::py_has_attr(object, "layers")) {
    object$add(layer)
    return(object)
  }
  reticulate::py_call(layer, object)
}
as_r <- function(tensor) keras_py()$ops$convert_to_numpy(tensor)
