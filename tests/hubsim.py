"""A hub, a redirecting model site and a storage host, each a process of its own, for the redirect tests.

    python tests/hubsim.py ROLE HOST [--next URL] [--tls CERT KEY]

prints its base URL on the first line of stdout, then serves until killed. The roles answer as the
public services hubfn meets do (as their clients and docs describe them; no code of theirs is used):
  hub      plays tfhub.dev: /<owner>/<model>/<version> answers 301 to the site's model page URL, keeping
           the query and adding tfhub-redirect=true. A model not "migrated" goes to the site's model
           list (an HTML page). /private/... wants `Authorization: Bearer <token>` first; /loop/a and
           /loop/b redirect to each other; /hops/N redirects N times before the model.
  site     plays Kaggle Models: /models/<owner>/<model>/<framework>/<variation>/<version> with
           tf-hub-format=compressed answers 302 to a signed storage URL (valid for `ttl` seconds);
           without it, an HTML page. /models is an HTML list of models.
  storage  plays a storage bucket: /bucket/<name> answers only with a valid signature (HMAC over the
           path and the raw query as issued: any re-encoding on the way breaks it), 400 ExpiredToken
           after Expires (as Google Cloud Storage does), with ETag, x-goog-hash (crc32c, md5), Range and
           If-Range. It can throttle its bodies and cut one connection.

Tests steer each process through POST /__control (JSON) and read every request it saw, headers
included, from GET /__log. Loopback addresses only.
"""

import base64
import hashlib
import hmac
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpkit  # (beside this file: on the path when it runs as a script, and in the tests)

SECRET = b"hubsim-signing-key"
HTML = b"<!DOCTYPE html><html><head><title>Models</title></head><body>Find a model.</body></html>"


def sign(path, query):
    return httpkit.sign(SECRET, path, query)


class State:
    def __init__(self, role, nxt):
        self.role, self.next = role, nxt
        self.lock = threading.Lock()
        self.log = []
        # Changed by tests through /__control:
        self.objects = {}  # storage: name -> file path
        self.wrong_md5 = False
        self.rate = None  # bytes per second, or None
        self.cut_at = None  # cut the next body after this many bytes (once)
        self.ttl = 3600.0  # site: seconds a signed URL stays valid
        self.expired_status = 400
        self.tokens = set()  # hub: tokens accepted under /private/
        self.migrated = {"fruit", "big", "other"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State

    def log_message(self, *args):
        pass

    def _record(self):
        parts = urllib.parse.urlsplit(self.path)
        with self.state.lock:
            self.state.log.append({"method": self.command, "path": parts.path, "query": parts.query,
                                   "headers": dict(self.headers), "time": time.time()})
        return parts

    _answer = httpkit.reply

    def _redirect(self, status, location):
        self._answer(status, b"", headers=[("Location", location)])

    def do_POST(self):
        if self.path != "/__control":
            return self._answer(404)
        data = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        with self.state.lock:
            for key, value in data.items():
                if key == "tokens":
                    value = set(value)
                elif key == "migrated":
                    value = set(value)
                setattr(self.state, key, value)
        self._answer(200, b"ok")

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        if self.path == "/__log":
            with self.state.lock:
                body = json.dumps(self.state.log).encode()
            return self._answer(200, body, "application/json")
        parts = self._record()
        getattr(self, f"_{self.state.role}")(parts)

    # --- the roles ----------------------------------------------------------------------------------
    def _hub(self, parts):
        segs = [s for s in parts.path.split("/") if s]
        query = parts.query
        if segs[:1] == ["loop"]:
            return self._redirect(302, "/loop/" + ("b" if segs[-1] == "a" else "a"))
        if segs[:1] == ["hops"]:
            n = int(segs[1])
            return self._redirect(302, f"/hops/{n - 1}?{query}" if n > 1 else f"/google/fruit/1?{query}")
        if segs[:1] == ["private"]:
            given = self.headers.get("Authorization", "")
            if not (given.startswith("Bearer ") and given[7:] in self.state.tokens):
                return self._answer(401, b"token needed", headers=[("WWW-Authenticate", 'Bearer realm="hub"')])
            segs = segs[1:]
        if len(segs) != 3:
            return self._answer(404, b"<html><body>No such model</body></html>", "text/html")
        owner, model, version = segs
        extra = "tfhub-redirect=true"
        if model not in self.state.migrated:  # tfhub.dev sends these to Kaggle's model list
            return self._redirect(301, f"{self.state.next}/models?{extra}")
        target = f"{self.state.next}/models/{owner}/{model}/tensorFlow2/{model}/{version}"
        self._redirect(301, f"{target}?{query}&{extra}" if query else f"{target}?{extra}")

    def _site(self, parts):
        segs = [s for s in parts.path.split("/") if s]
        fields = dict(urllib.parse.parse_qsl(parts.query))
        if len(segs) != 6 or segs[0] != "models" or fields.get("tf-hub-format") != "compressed":
            return self._answer(200, HTML, "text/html; charset=utf-8")
        name = "-".join(segs[1:]) + ".tar.gz"
        expires = httpkit.expires(self.state.ttl)
        disposition = urllib.parse.quote(f'attachment; filename="{segs[2]}.tar.gz"', safe="")
        query = (f"GoogleAccessId=hubsim%40example.iam&Expires={expires}"
                 f"&response-content-disposition={disposition}")
        path = f"/bucket/{name}"
        self._redirect(302, f"{self.state.next}{path}?{query}&Signature={sign(path, query)}")

    def _storage(self, parts):
        query, _, signature = parts.query.rpartition("&Signature=")
        if not query or not hmac.compare_digest(signature, sign(parts.path, query)):
            return self._answer(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", "application/xml")
        fields = dict(urllib.parse.parse_qsl(query))
        if time.time() > int(fields["Expires"]):
            return self._answer(self.state.expired_status, b"<Error><Code>ExpiredToken</Code></Error>",
                                "application/xml")
        name = parts.path.rsplit("/", 1)[-1]
        path = self.state.objects.get(name)
        if path is None:
            return self._answer(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        with open(path, "rb") as f:
            body = f.read()
        md5 = hashlib.md5(body).digest()
        etag = f'"{md5.hex()}"'
        if self.state.wrong_md5:
            md5 = hashlib.md5(body + b"x").digest()
        crc = zlib.crc32(body).to_bytes(4, "big")  # a stand-in: only the md5 part is read by clients
        start = 0
        rng = self.headers.get("Range")
        guard = self.headers.get("If-Range")
        if rng and (guard is None or guard == etag):
            start = int(rng.split("=", 1)[1].split("-", 1)[0])
        part = body[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Content-Length", str(len(part)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", etag)
        self.send_header("x-goog-hash", f"crc32c={base64.b64encode(crc).decode()}")
        self.send_header("x-goog-hash", f"md5={base64.b64encode(md5).decode()}")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        if self.command == "HEAD":
            return
        with self.state.lock:
            cut, self.state.cut_at = self.state.cut_at, None
        self._send(part if cut is None else part[:cut], self.state.rate)
        if cut is not None:
            self.close_connection = True

    def _send(self, data, rate):
        view = memoryview(data)
        piece = 64 * 1024 if rate is None else max(1024, int(rate / 50))
        began = time.monotonic()
        try:
            for off in range(0, len(view), piece):
                self.wfile.write(view[off:off + piece])
                if rate:
                    ahead = (off + piece) / rate - (time.monotonic() - began)
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def main(argv):
    role, host = argv[0], argv[1]
    nxt = argv[argv.index("--next") + 1] if "--next" in argv else None
    handler = type("H", (Handler,), {"state": State(role, nxt)})
    httpd = ThreadingHTTPServer((host, 0), handler)
    httpd.daemon_threads = True
    scheme = "http"
    if "--tls" in argv:
        i = argv.index("--tls")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(argv[i + 1], argv[i + 2])
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    print(f"{scheme}://{host}:{httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    os.environ.pop("HTTP_PROXY", None)
    main(sys.argv[1:])
