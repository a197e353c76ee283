# Packing and serving modules.

#' Pack a module directory into a .tar.gz archive
#'
#' A deterministic archive with the module at its root, as the TF Hub protocol expects. `hub_pack()` is
#' another name.
#'
#' @param module_dir The module directory (it must hold `saved_model.pb`).
#' @param output The archive to write, e.g. `"module.tar.gz"`.
#' @return The archive's path, invisibly.
#' @examples
#' \dontrun{
#' pack_module("/path/to/fruit", file.path(tempdir(), "fruit.tar.gz"))
#' }
#' @export
pack_module <- function(module_dir, output) {
  .py_call(.hubfn_fn("pack_module")(path.expand(as.character(module_dir)), path.expand(as.character(output))))
  invisible(normalizePath(output))
}

#' @rdname pack_module
#' @export
hub_pack <- pack_module

#' Serve modules over HTTP in the background
#'
#' Starts `python -m hubfn serve ROOT` as a process of its own, waits until it listens, and returns a
#' server serving every module directory (or `.tar.gz`) under `root` at its relative path. Stop it with
#' `hub_serve_stop(srv)` or `srv$stop()`; it also stops when garbage collected or when R exits.
#'
#' @param root The directory to serve (else a `hubfn_serve_error`).
#' @param host The address to listen on.
#' @param port The port; `NULL` picks a free one.
#' @param timeout Seconds to wait for the server to answer.
#' @param python The Python executable (default: the one reticulate uses).
#' @param pack_dir Where the server keeps packed archives (`NULL`: under the temp directory).
#' @return A `hubfn_server`: a list of `url`, `host`, `port`, `root`, `process` ([processx::process]), `stop()`.
#' @examples
#' \dontrun{
#' srv <- hub_serve("/srv/modules")
#' m <- hub_load(paste0(srv$url, "/acme/fruit/1"))
#' srv$stop()
#' }
#' @export
hub_serve <- function(root, host = "127.0.0.1", port = NULL, timeout = 60, python = NULL, pack_dir = NULL) {
  call <- sys.call()
  root <- .serve_root(root, call)
  out <- tempfile("hubfn-serve-", fileext = ".out")
  p <- processx::process$new(
    if (is.null(python)) reticulate::py_config()$python else python,
    c("-m", "hubfn", "serve", root, "--host", host, "--port", if (is.null(port)) 0L else as.integer(port),
      if (!is.null(pack_dir)) c("--pack-dir", path.expand(pack_dir))),
    stdout = out, stderr = "2>&1", cleanup = TRUE,
    env = c("current", TF_CPP_MIN_LOG_LEVEL = "2", TF_ENABLE_ONEDNN_OPTS = "0", PYTHONUNBUFFERED = "1"))
  deadline <- Sys.time() + timeout
  repeat {  # `hubfn serve` prints its URL once it listens (on the free port it picked, for port 0)
    lines <- if (file.exists(out)) readLines(out, warn = FALSE) else character()
    url <- regmatches(lines, regexpr("http://[^ ]+:[0-9]+", lines))
    if (length(url)) break
    if (!p$is_alive()) {
      .serve_error(paste0("hubfn serve exited with status ", p$get_exit_status(),
                          if (length(lines)) paste0(":\n", paste(lines, collapse = "\n"))), call)
    }
    if (Sys.time() > deadline) {
      p$kill()
      .serve_error(paste0("hubfn serve did not answer on ", host, " within ", timeout, " s."), call)
    }
    Sys.sleep(0.05)
  }
  srv <- structure(list(url = url[[1]], host = host, port = as.integer(sub(".*:", "", url[[1]])), root = root,
                        process = p, stop = function() hub_serve_stop(srv)), class = "hubfn_server")
  srv
}

#' @rdname hub_serve
#' @param server A server from `hub_serve()`.
#' @export
hub_serve_stop <- function(server) {
  p <- server$process
  if (p$is_alive()) {
    p$interrupt()
    p$wait(2000)
    if (p$is_alive()) p$kill()
  }
  invisible(TRUE)
}

#' @export
print.hubfn_server <- function(x, ...) {
  cat("<hubfn server ", x$url, " (", if (x$process$is_alive()) "running" else "stopped", ", pid ",
      x$process$get_pid(), ") serving ", x$root, ">\n", sep = "")
  invisible(x)
}

.serve_error <- function(msg, call) stop(.hubfn_error("serve_error", msg, call))

# The directory hub_serve() serves, as an absolute path; else a hubfn_serve_error.
.serve_root <- function(root, call) {
  if (!.one(root, is.character) || !nzchar(root)) {
    .serve_error("hub_serve() needs `root`: the path of one directory of modules to serve.", call)
  }
  path <- path.expand(root)
  if (!dir.exists(path)) {
    .serve_error(paste0("Cannot serve '", root, "': ", if (file.exists(path))
      "it is a file, not a directory. Pass the directory that holds it; its modules are served at their paths under it."
      else "no such directory. Pass the directory that holds the module directories (or packed .tar.gz archives) to serve."),
      call)
  }
  normalizePath(path, mustWork = TRUE)
}
