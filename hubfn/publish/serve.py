"""Serve: a directory of modules over HTTP, speaking TensorFlow Hub's hosting protocol.

    ROOT/acme/fruit/1/saved_model.pb   ->  http://HOST/acme/fruit/1
    ROOT/acme/fruit/2.tar.gz           ->  http://HOST/acme/fruit/2  (and /acme/fruit/2.tar.gz)

One URL is both the module's documentation and its download:
- no query: an HTML page (signatures, variants, size, README, load lines); JSON with Accept: application/json;
- `?tf-hub-format=a,b,...`: the first format this server supports ("compressed": the packed .tar.gz);
  none supported -> 400 naming the supported ones;
- a path ending in .tar.gz is always the archive, whatever the query says (tensorflow_hub appends
  tf-hub-format=compressed to such URLs too).

`make_app(root)` is a plain WSGI app for any WSGI server; `serve_modules(root)` runs it on waitress in a
background thread; `hubfn serve ROOT` runs it in the foreground. Both close idle and slow connections and
cap how many are open at once (limits.py says how and why).

With a token (`token=`, or `hubfn serve --token-file`) the hub is private: every request, whatever its
path, must carry the token or gets the same 401 (auth.py says how it is checked and sent).

Nothing a client sends makes the app answer 500 with details: a request it cannot use is a 4xx, and an
unexpected failure is logged with its traceback and answered with a plain 500 that says to see the log.
"""

import errno
import logging
import os
import threading
import urllib.parse

import attrs

from .. import errors
from . import http as serve_http, limits as serve_limits, page as serve_page
from .auth import TokenCheck, private_caching, read_token_file
from .store import ARCHIVE_SUFFIX, SUPPORTED_FORMATS, ModuleStore

log = logging.getLogger("hubfn")

# A path whose last segment is a version number names one immutable release by convention (as on
# tfhub.dev), so clients may keep it a day; anything else must be revalidated with its ETag.
# (On a private hub, auth.private_caching makes it, and every other answer, "private".)
VERSIONED_CACHE = "public, max-age=86400"
_FACTS_CACHE_SIZE = 256


class ModuleApp:
    """The WSGI application. Thread-safe: per-request state stays in locals."""

    def __init__(self, root, pack_dir=None, token=None, refuse_unsafe=False):
        self.store = ModuleStore(root, pack_dir=pack_dir)
        self.refuse_unsafe = refuse_unsafe
        self.auth = None if token is None else TokenCheck(token)
        self._facts = {}  # (path, fingerprint) -> facts dict; small, evicted oldest first
        self._facts_lock = threading.Lock()

    def __call__(self, environ, start_response):
        # The details (absolute paths on this machine) go to the server's log, not to the client.
        path = environ.get("PATH_INFO", "")
        if self.auth is not None:
            if not self.auth.allows(environ):
                # Before routing: the answer cannot depend on whether the path exists.
                return self.auth.refuse(environ, start_response)
            start_response = private_caching(start_response)
        try:
            response = self._handle(environ)
        except (errors.NotAModuleError, errors.ExportError, FileNotFoundError) as e:
            # Not a module after all, a symlink out of the module, or changed while we looked at it.
            self.store.note_refusal(path, path.lstrip("/"), str(e))  # logged once, not per request
            response = serve_http.text(404, "No module at this path. The list of modules is at /.")
        except (errors.HubError, OSError) as e:
            log.error("hubfn serve: %s: %s", path, e)
            response = serve_http.text(500, "This module cannot be read right now; the server's log says why.")
        except Exception:  # a bug: the traceback goes to the log, never to the client
            log.exception("hubfn serve: unexpected error answering %s %r", environ.get("REQUEST_METHOD"), path)
            response = serve_http.text(500, "The server failed to answer this request; its log says why.")
        return response.send(environ, start_response)

    # --- routing ----------------------------------------------------------------------------------
    def _handle(self, environ):
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return serve_http.text(405, f"{method} is not supported; modules are read with GET or HEAD.",
                                   [("Allow", "GET, HEAD")])
        target = self.store.locate(environ.get("PATH_INFO", "") or "/")
        if target is None:
            return serve_http.text(404, "No module at this path. The list of modules is at /.")
        if target.kind == "refused":
            return serve_http.text(404, "The module at this path is not served: it cannot be published as it "
                                        "is (the server's log says why). The list of modules is at /.")
        if target.kind == "listing":
            return self._listing(environ, target)
        if self.refuse_unsafe:
            findings = self._module_facts(target)["safety"]
            if findings:
                ops = ", ".join(sorted({f["op"] for f in findings}))
                return serve_http.text(403, f"This server does not publish the module at this path: it holds ops "
                                            f"that reach outside it ({ops}); `hubfn scan` on it says where.")
        if target.kind == "archive_file":
            return self._archive(environ, target)
        formats = _requested_formats(environ)
        if formats is None:
            return self._page(environ, target)
        for fmt in formats:
            if fmt in SUPPORTED_FORMATS:
                return self._archive(environ, target)
        return serve_http.text(
            400, f"Unsupported tf-hub-format {','.join(formats)!r}. This server supports: "
                 f"{', '.join(SUPPORTED_FORMATS)}.")

    def _archive(self, environ, target):
        versioned = target.rel.rsplit("/", 1)[-1].isdigit()
        cache = VERSIONED_CACHE if versioned else "no-cache"
        filename = target.rel.replace("/", "_") + ARCHIVE_SUFFIX
        if os.path.isdir(target.path):
            archive, fp, mtime = self.store.archive_of(target.path)
            facts = serve_http.file_facts(archive, f'"{fp[:24]}"', cache, filename)
            facts = attrs.evolve(facts, mtime=mtime)  # the module's time, not the pack's
        else:
            st = os.stat(target.path)
            etag = f'"{st.st_size:x}-{st.st_mtime_ns:x}"'
            facts = serve_http.file_facts(target.path, etag, cache, filename)
        return serve_http.send_file(environ, facts)

    # --- documentation ----------------------------------------------------------------------------
    def _module_facts(self, target):
        if target.kind == "module_dir":
            fp, total, _ = self.store.fingerprint(target.path)
            key = (target.path, fp)
        else:
            st = os.stat(target.path)
            key = (target.path, st.st_size, st.st_mtime_ns)
        with self._facts_lock:
            facts = self._facts.get(key)
        if facts is None:
            if target.kind == "module_dir":
                facts = serve_page.module_facts(target.path, total)
            else:
                facts = serve_page.archive_facts(target.path)
            with self._facts_lock:
                while len(self._facts) >= _FACTS_CACHE_SIZE:
                    self._facts.pop(next(iter(self._facts)))
                self._facts[key] = facts
        if target.kind == "module_dir":
            facts = {**facts, "archive_bytes": self._packed_size(target.path, key[1])}
        return facts

    def _packed_size(self, module_dir, fp):
        try:
            return os.path.getsize(self.store.archive_path(module_dir, fp))
        except FileNotFoundError:
            return None  # not packed until someone downloads it

    def _page(self, environ, target):
        url = _base_url(environ) + urllib.parse.quote(target.rel)
        facts = serve_page.with_urls(self._module_facts(target), target.rel, url)
        if serve_http.wants_json(environ):
            return serve_http.document("application/json", serve_page.to_json(facts), [("Vary", "Accept")])
        return serve_http.document("text/html; charset=utf-8", serve_page.module_html(facts), [("Vary", "Accept")])

    def _listing(self, environ, target):
        base = _base_url(environ)
        names = self.store.list_modules(target.rel)
        modules = [(n, base + urllib.parse.quote(n)) for n in names]
        if serve_http.wants_json(environ):
            body = serve_page.to_json({"modules": [{"name": n, "url": u} for n, u in modules]})
            return serve_http.document("application/json", body, [("Vary", "Accept")])
        title = "Modules" + (f" under /{target.rel}" if target.rel else "")
        return serve_http.document("text/html; charset=utf-8", serve_page.listing_html(title, modules),
                                   [("Vary", "Accept")])


def _requested_formats(environ):
    """The tf-hub-format list of the query (several parameters are joined), or None if absent."""
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if "tf-hub-format" not in query:
        return None
    return [f.strip() for value in query["tf-hub-format"] for f in value.split(",") if f.strip()] or [""]


def _base_url(environ) -> str:
    """scheme://host[:port]/script-name/ of this request, for the absolute URLs on the pages."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST")
    if not host:
        host = environ.get("SERVER_NAME", "localhost")
        port = environ.get("SERVER_PORT", "")
        if port and port != {"http": "80", "https": "443"}.get(scheme):
            host += ":" + port
    script = urllib.parse.quote(environ.get("SCRIPT_NAME", "").rstrip("/"))
    return f"{scheme}://{host}{script}/"


def make_app(root, pack_dir=None, token=None, refuse_unsafe=False) -> ModuleApp:
    """A WSGI app serving the modules under `root`; archives are packed into `pack_dir` (default: under
    the system temp dir, outside root). `token` (a string, or several for rotation) makes the hub
    private: each request must send one as `Authorization: Bearer TOKEN` or as a Basic auth password.
    `refuse_unsafe`: answer 403 for modules whose ops reach outside them (hubfn.safety), page and archive
    alike; this reads each module's saved_model.pb, so TensorFlow is imported at the first request."""
    return ModuleApp(root, pack_dir=pack_dir, token=token, refuse_unsafe=refuse_unsafe)


class ModuleServer:
    """A running server: `.url`, `.host`, `.port`, `.stop()`; also a context manager that stops it."""

    def __init__(self, app, host, port, limits=None):
        import waitress

        self.limits = limits or serve_limits.Limits()
        # File bodies are sent by waitress's I/O loop (wsgi.file_wrapper), so a few worker threads
        # serve many downloads; poll() lifts select()'s 1024-descriptor limit.
        try:
            self._server = waitress.create_server(app, host=host, port=port, ident="hubfn",
                                                  asyncore_use_poll=True, clear_untrusted_proxy_headers=True,
                                                  **serve_limits.waitress_options(self.limits))
        except OSError as e:
            shown = f"[{host}]" if ":" in str(host) else host
            hint = (" Another program (perhaps another hubfn serve) is using that port: stop it, or pick "
                    "another port with --port (0 picks a free one)." if e.errno == errno.EADDRINUSE else
                    " Check --host and --port (ports below 1024 need privileges).")
            raise errors.ServeError(f"Cannot serve on {shown}:{port}: {e.strerror or e}.{hint}") from None
        serve_limits.add_head_deadline(self._server, self.limits.idle_timeout)
        self.app = app
        self.host = self._server.effective_host
        self.port = int(self._server.effective_port)
        shown = f"[{self.host}]" if ":" in str(self.host) else self.host
        self.url = f"http://{shown}:{self.port}/"
        self._thread = threading.Thread(target=self._server.run, name=f"hubfn-serve-{self.port}", daemon=True)
        self._thread.start()

    def stop(self, timeout=5.0):
        """Close the listening socket and every connection, and wait for the server thread."""
        from waitress import wasyncore

        server, trigger = self._server, self._server.trigger
        if self._thread.is_alive():
            # Closing sockets from this thread would race the I/O loop; hand the closing to the loop. The
            # loop's wake-up pipe (its trigger) only leaves the loop there: another wake-up (a worker's)
            # can make the loop run the closing before this very pull has written its byte, and a closed
            # pipe would turn that write into EBADF, or into a byte in whatever file took its number.
            trigger.pull_trigger(lambda: _close_all_but_the_trigger(server))
            self._thread.join(timeout)
        if self._thread.is_alive():
            wasyncore.close_all(server._map, ignore_all=True)
            self._thread.join(timeout)
        server.task_dispatcher.shutdown()
        trigger.close()  # no loop and no worker is left to pull it

    def wait(self):
        """Block until the server stops (the CLI waits here until Ctrl-C)."""
        while self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _close_all_but_the_trigger(server):
    """In the I/O loop of the waitress `server`: close its listening socket and every connection, and take
    its trigger out of the loop's map without closing it; the empty map ends the loop."""
    from waitress import wasyncore

    server.trigger.del_channel()
    wasyncore.dispatcher.close(server)  # (the server's own close() would close the trigger too)
    wasyncore.close_all(server._map, ignore_all=True)


def serve_modules(root, host="127.0.0.1", port=0, threads=serve_limits.DEFAULT_THREADS, pack_dir=None,
                  idle_timeout=serve_limits.DEFAULT_IDLE_TIMEOUT,
                  connection_limit=serve_limits.DEFAULT_CONNECTION_LIMIT, token=None,
                  refuse_unsafe=False) -> ModuleServer:
    """Serve the modules under `root` on waitress in a background thread; port 0 picks a free port.

    `idle_timeout` (seconds) closes connections that are silent, or slower to send a request head, for
    that long; `connection_limit` caps the client connections open at once; `token` and `refuse_unsafe`
    as for make_app.
    """
    limits = serve_limits.Limits(idle_timeout=idle_timeout, connection_limit=connection_limit, threads=threads)
    return ModuleServer(make_app(root, pack_dir=pack_dir, token=token, refuse_unsafe=refuse_unsafe), host, port,
                        limits)


def run_forever(root, host="127.0.0.1", port=0, pack_dir=None, out=None, token_file=None, refuse_unsafe=False,
                **limits) -> int:
    """`hubfn serve`: serve until Ctrl-C or SIGTERM; the URL is printed (and flushed) once listening.
    `token_file` (one token per line) is read once, here, and makes the hub private; `limits` are
    serve_modules' threads, idle_timeout and connection_limit."""
    import signal
    import sys

    out = out or sys.stdout
    token = None if token_file is None else read_token_file(token_file)
    server = serve_modules(root, host=host, port=port, pack_dir=pack_dir, token=token, refuse_unsafe=refuse_unsafe,
                           **limits)
    stop = threading.Event()

    def on_term(signum, frame):
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_term)  # a service manager's stop is a clean stop
    private = "" if token is None else f" (private: {len(token)} token(s) from {token_file})"
    private += " (refusing unsafe modules)" if refuse_unsafe else ""
    print(f"hubfn: serving {server.app.store.root} at {server.url}{private}", file=out, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
