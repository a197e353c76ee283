# hub = : a hub_hub() value (settings and resolvers) through every R door that resolves a handle.

test_that("a hub with a resolver of the user's own reaches hub_load, hub_module, hub_resolve, module_signatures and layer_hub", {
  skip_if_no_hubfn()
  py <- reticulate::py_run_string(paste(
    "class Mine:",
    "    kind = 'mine:'",
    "    def __init__(self, root): self.root, self.asked = root, []",
    "    def supports(self, handle, settings): return handle.startswith('mine:')",
    "    def resolve(self, handle, settings):",
    "        self.asked.append(handle)",
    "        return self.root",
    sep = "\n"), local = TRUE, convert = FALSE)
  mine <- py$Mine(fruit_dir())
  h <- hub_hub(resolvers = list(mine), offline = TRUE)
  expect_s3_class(h, "hubfn.resolve.Hub")
  expect_true(reticulate::py_to_r(h$settings$offline))
  m <- hub_load("mine:fruit", hub = h)
  expect_equal(m(c(1, 0)), matrix(c(1.5, 1.5), 1))
  expect_equal(hub_resolve("mine:fruit", hub = h), fruit_dir())
  expect_named(module_signatures("mine:fruit", hub = h), c("default", "fruit_to_pet", "__call__"), ignore.order = TRUE)
  expect_s3_class(hub_module("mine:fruit", trainable = TRUE, hub = h), "hubfn_module")
  layer <- layer_hub(handle = "mine:fruit", hub = h)
  expect_equal(layer(matrix(c(1, 0), 1))$numpy(), matrix(c(1.5, 1.5), 1), ignore_attr = TRUE)
  expect_gte(length(reticulate::py_to_r(mine$asked)), 5L)
  # without the hub, no resolver takes the handle
  expect_error(hub_load("mine:fruit"), class = "hubfn_error")
})

test_that("hub_hub() takes settings or hub_settings()' arguments, and a call's arguments replace the hub's", {
  skip_if_no_hubfn()
  d <- file.path(tempdir(), "hub-cache")
  h <- hub_hub(hub_settings(cache_dir = d))
  expect_equal(reticulate::py_to_r(h$settings$cache_dir), d)
  expect_error(hub_hub(hub_settings(), offline = TRUE), class = "hubfn_input_error", regexp = "not both")
  expect_error(hub_hub(settings = "x"), class = "hubfn_input_error", regexp = "`settings`")
  expect_error(hub_load(fruit_dir(), hub = "x"), class = "hubfn_input_error", regexp = "`hub` must be a value from hub_hub()")
  offline <- hub_hub(offline = TRUE, cache_dir = d)
  e <- tryCatch(hub_load("http://127.0.0.1:9/acme/fruit/1", hub = offline), error = function(e) e)
  expect_s3_class(e, "hubfn_offline_error")
  expect_match(conditionMessage(e), d, fixed = TRUE)
  # the call's cache_dir replaces the hub's (and offline stays the hub's)
  e <- tryCatch(hub_load("http://127.0.0.1:9/acme/fruit/1", hub = offline, cache_dir = file.path(d, "other")),
                error = function(e) e)
  expect_match(conditionMessage(e), file.path(d, "other"), fixed = TRUE)
})
