# Packing and serving modules.

#' Pack a module directory into a .tar.gz archive
#'
#' The archive is deterministic (the same module packs to the same bytes) and has the module
#' directory at its root, as the TF Hub protocol expects. `hub_pack()` is another name.
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
  fn <- .hubfn_fn("pack_module")
  out <- .py_call(fn(path.expand(as.character(module_dir)), path.expand(as.character(output))))
  invisible(if (inherits(out, "python.builtin.NoneType")) normalizePath(output)
            else as.character(reticulate::py_to_r(reticulate::import_builtins(convert = FALSE)$str(out))))
}

#' @rdname pack_module
#' @export
hub_pack <- pack_module

#' Serve modules over HTTP in the background
#'
#' Starts `python -m hubfn serve ROOT` as a separate process (never a fork of this R session, as
#' TensorFlow is not fork-safe), waits until it answers, and returns a server object. Every module
#' directory (or packed `.tar.gz`) under `root` is served at its relative path, so
#' `hub_load(paste0(srv$url, "/acme/fruit/1"))` loads `root/acme/fruit/1`. Stop it with
#' `hub_serve_stop(srv)` or `srv$stop()`; it is also stopped when the object is garbage collected
#' or R exits.
#'
#' @param root The directory to serve (an existing directory; otherwise an error of class
#'   `hubfn_serve_error`).
#' @param host The address to listen on.
#' @param port The port; `NULL` picks a free one.
#' @param timeout Seconds to wait for the server to answer.
#' @param python The Python executable (default: the one reticulate uses).
#' @param pack_dir Where the server keeps packed archives (`NULL`: its default, under the system
#'   temp directory).
#' @return A `hubfn_server`: a list with `url`, `host`, `port`, `root`, `process` (a
#'   [processx::process]) and `stop()`.
#' @examples
#' \dontrun{
#' srv <- hub_serve("/srv/modules")
#' m <- hub_load(paste0(srv$url, "/acme/fruit/1"))
#' srv$stop()
#' }
#' @export
hub_serve <- function(root, host = "127.0.0.1", port = NULL, timeout = 60, python = NULL, pack_dir = NULL) {
  root <- .serve_root(root)
  python <- if (is.null(python)) reticulate::py_config()$python else python
  if (is.null(port)) port <- .free_port(host)
  port <- as.integer(port)
  out <- tempfile("hubfn-serve-", fileext = ".out")
  err <- tempfile("hubfn-serve-", fileext = ".err")
  p <- processx::process$new(
    python, c("-m", "hubfn", "serve", root, "--host", host, "--port", as.character(port),
              if (!is.null(pack_dir)) c("--pack-dir", path.expand(pack_dir))),
    stdout = out, stderr = err, cleanup = TRUE,
    env = c("current", TF_CPP_MIN_LOG_LEVEL = "2", TF_ENABLE_ONEDNN_OPTS = "0", PYTHONUNBUFFERED = "1"))
  url <- paste0("http://", host, ":", port)
  deadline <- Sys.time() + timeout
  repeat {
    if (!p$is_alive()) {
      msg <- paste(c(.read_lines(err), .read_lines(out)), collapse = "\n")
      stop(structure(class = c("hubfn_serve_error", "hubfn_error", "error", "condition"),
                     list(message = paste0("hubfn serve exited with status ", p$get_exit_status(),
                                           if (nzchar(msg)) paste0(":\n", msg)), call = sys.call(-1L))))
    }
    if (.port_open(host, port)) break
    if (Sys.time() > deadline) {
      p$kill()
      stop(structure(class = c("hubfn_serve_error", "hubfn_error", "error", "condition"),
                     list(message = paste0("hubfn serve did not answer on ", url, " within ", timeout, " s."),
                          call = sys.call(-1L))))
    }
    Sys.sleep(0.05)
  }
  printed <- regmatches(.read_lines(out), regexpr("https?://[^ ]+", .read_lines(out)))
  if (length(printed)) url <- sub("/+$", "", printed[[1]])
  srv <- list(url = url, host = host, port = port, root = root, process = p,
              stop = function() hub_serve_stop(srv))
  srv <- structure(srv, class = "hubfn_server")
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
  state <- if (x$process$is_alive()) "running" else "stopped"
  cat("<hubfn server ", x$url, " (", state, ", pid ", x$process$get_pid(), ") serving ", x$root, ">\n",
      sep = "")
  invisible(x)
}

# The directory hub_serve() serves, as an absolute path; an R error of class hubfn_serve_error
# (not normalizePath()'s simpleError) when it is not an existing directory.
.serve_root <- function(root, call = sys.call(-1L)) {
  force(call)
  serve_error <- function(msg) {
    stop(structure(class = c("hubfn_serve_error", "hubfn_error", "error", "condition"),
                   list(message = msg, call = call)))
  }
  if (!is.character(root) || length(root) != 1L || is.na(root) || !nzchar(root)) {
    serve_error("hub_serve() needs `root`: the path of one directory of modules to serve.")
  }
  path <- path.expand(root)
  if (!file.exists(path)) {
    serve_error(paste0("Cannot serve '", root, "': no such directory. Pass the directory that ",
                       "holds the module directories (or packed .tar.gz archives) to serve."))
  }
  if (!dir.exists(path)) {
    serve_error(paste0("Cannot serve '", root, "': it is a file, not a directory. Pass the ",
                       "directory that holds it; its modules are served at their paths under it."))
  }
  normalizePath(path, mustWork = TRUE)
}

.read_lines <- function(path) {
  if (file.exists(path)) readLines(path, warn = FALSE) else character()
}

.port_open <- function(host, port) {
  con <- suppressWarnings(tryCatch(
    socketConnection(host, port, blocking = TRUE, open = "r+b", timeout = 1),
    error = function(e) NULL))
  if (is.null(con)) {
    return(FALSE)
  }
  close(con)
  TRUE
}

.free_port <- function(host) {
  socket <- reticulate::import("socket", convert = FALSE)
  s <- socket$socket()
  on.exit(s$close())
  s$bind(reticulate::tuple(host, 0L))
  as.integer(reticulate::py_to_r(s$getsockname())[[2]])
}
