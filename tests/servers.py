"""Real HTTP servers on 127.0.0.1 for the remote-module tests, and archive builders.

`ModuleServer` serves named routes from a thread; every request is recorded (method, path, query,
headers, time) so tests can count archive GETs and see Range requests. A `Route` says how to answer:
static bytes, "smart" (only with ?tf-hub-format=compressed), redirect, or with faults (cut the body,
reset the connection, stall, fail with 500 first, ignore Range, throttle).
"""

import contextlib
import email.utils
import gzip
import hashlib
import io
import os
import shutil
import socket
import struct
import subprocess
import tarfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs


@attrs.define
class Route:
    body: bytes = b""
    content_type: str = "application/x-gzip"
    smart: bool = False  # 404 unless the query has tf-hub-format=compressed
    redirect: str | None = None  # answer 302 to this path
    status: int = 200  # e.g. 403, 404 (with `body` as the error page)
    ranges: bool = True  # honour Range / If-Range (and send ETag, Accept-Ranges)
    if_range: bool = True  # False: answer a Range with 206 even when If-Range names another version
    etag: bool = True  # send an ETag (else Last-Modified only when `last_modified`)
    last_modified: bool = False
    fail_first: int = 0  # answer this many requests with `fail_status` first
    fail_status: int = 500
    retry_after: str | None = None
    cut_at: int | None = None  # stop sending after this many body bytes and close (Content-Length full)
    reset_at: int | None = None  # after this many body bytes, reset the TCP connection
    stall_at: int | None = None  # after this many body bytes, go silent for `stall_secs`
    stall_secs: float = 30.0
    faults: int = 1  # how many answers get cut/reset/stalled (then the route behaves)
    rate: float | None = None  # throttle to this many bytes per second
    length: bool = True  # send Content-Length


@attrs.define
class Request:
    method: str
    path: str
    query: dict
    headers: dict
    time: float
    sent_all_at: float | None = None  # when the last body byte left (for timing checks)


class ModuleServer:
    def __init__(self, tls=None):
        """`tls`: (certfile, keyfile) to serve HTTPS instead of HTTP."""
        self.routes = {}
        self.scheme = "https" if tls else "http"
        self.log = []
        self._lock = threading.Lock()
        self._served = {}
        handler = type("Handler", (_Handler,), {"app": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        if tls:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def url(self, path):
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def add(self, path, **kw):
        self.routes[path] = Route(**kw)
        return self.url(path)

    def gets(self, path):
        return [r for r in self.log if r.method == "GET" and r.path == path]

    def clear(self):
        self.log.clear()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    app: ModuleServer

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        parts = urllib.parse.urlsplit(self.path)
        rec = Request("GET", parts.path, dict(urllib.parse.parse_qsl(parts.query)), dict(self.headers),
                      time.time())
        app = self.app
        with app._lock:
            app.log.append(rec)
            n = app._served.get(parts.path, 0)
            app._served[parts.path] = n + 1
        route = app.routes.get(parts.path)
        if route is None:
            return self._plain(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        if route.redirect:
            self.send_response(302)
            self.send_header("Location", route.redirect + ("?" + parts.query if parts.query else ""))
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if n < route.fail_first:
            self.send_response(route.fail_status)
            if route.retry_after:
                self.send_header("Retry-After", route.retry_after)
            body = b"busy, try later"
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            return self.wfile.write(body)
        if route.smart and rec.query.get("tf-hub-format") != "compressed":
            return self._plain(404, b"<!DOCTYPE html><html><body>Not a module page</body></html>", "text/html")
        if route.status != 200:
            return self._plain(route.status, route.body, route.content_type)
        self._serve(route, rec, fault=n - route.fail_first < route.faults)

    def _plain(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self, route, rec, fault):
        body = route.body
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        modified = email.utils.formatdate(1_700_000_000, usegmt=True)
        start = 0
        rng = self.headers.get("Range")
        if rng and route.ranges:
            guard = self.headers.get("If-Range")
            if guard is None or guard in (etag, modified) or not route.if_range:
                start = int(rng.split("=", 1)[1].split("-", 1)[0])
        part = body[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", route.content_type)
        if route.length:
            self.send_header("Content-Length", str(len(part)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        if route.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if route.etag:
            self.send_header("ETag", etag)
        if route.last_modified:
            self.send_header("Last-Modified", modified)
        self.end_headers()
        stop = len(part)
        for limit in (route.cut_at, route.reset_at, route.stall_at):
            if fault and limit is not None:
                stop = max(0, min(stop, limit - start))
        try:
            self._write(part[:stop], route.rate)
            if stop < len(part):
                if route.reset_at is not None:
                    time.sleep(0.3)  # let the client read what was sent: an RST discards unread data
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                elif route.stall_at is not None:
                    time.sleep(route.stall_secs)
                self.close_connection = True
                self.connection.close()
                return
            rec.sent_all_at = time.time()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _write(self, data, rate):
        view = memoryview(data)
        if rate is None:
            self.wfile.write(view)
            return
        piece = max(1024, int(rate / 50))
        began = time.monotonic()
        for off in range(0, len(view), piece):
            self.wfile.write(view[off:off + piece])
            ahead = (off + piece) / rate - (time.monotonic() - began)
            if ahead > 0:
                time.sleep(ahead)


# --- archives ------------------------------------------------------------------------------------
def targz(src_dir, extra=None, compress=True):
    """A module archive of `src_dir` (root = the module directory), plus `extra` {name: bytes}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(src_dir)):
            tar.add(os.path.join(src_dir, name), arcname=name)
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw, compresslevel=1, mtime=0) if compress else raw


def crafted(members, compress=True):
    """A tar(.gz) of TarInfo-ish specs: dicts with name, type, data, linkname, mode, devmajor."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for spec in members:
            info = tarfile.TarInfo(spec["name"])
            info.type = spec.get("type", tarfile.REGTYPE)
            info.linkname = spec.get("linkname", "")
            info.mode = spec.get("mode", 0o644)
            data = spec.get("data", b"")
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    raw = buf.getvalue()
    return gzip.compress(raw, compresslevel=1, mtime=0) if compress else raw


def bomb(total_bytes, member_bytes=8 << 20):
    """A small gzip (several members) expanding to a tar of `total_bytes` of zeros, in 8 MiB files.

    The tar byte stream may be split across gzip members anywhere, so the compressed zeros of one file
    are made once and repeated: 10 GiB of content costs about 10 MB.
    """
    zeros = gzip.compress(bytes(member_bytes), compresslevel=9, mtime=0)
    pieces = [gzip.compress(_header("saved_model.pb", 4) + b"fake" + bytes(508), mtime=0)]
    for i in range(total_bytes // member_bytes):
        pieces.append(gzip.compress(_header(f"variables/zeros-{i:05d}", member_bytes), mtime=0))
        pieces.append(zeros)
    pieces.append(gzip.compress(bytes(1024), mtime=0))
    return b"".join(pieces)


def _header(name, size):
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.GNU_FORMAT)


# --- network conditions -----------------------------------------------------------------------------
def wait_for_port(proc, port, seconds):
    """True once 127.0.0.1:port accepts a connection; False if `proc` (a Popen) exits or time runs out."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


@contextlib.contextmanager
def refused_port():
    """A port on 127.0.0.1 that refuses connections: bound, never listening."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


def self_signed_certificate(directory):
    """(cert.pem, key.pem) for 127.0.0.1, made by openssl in `directory`; None without openssl."""
    if not shutil.which("openssl"):
        return None
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key
