"""A storage host across a long link, in a process of its own, for the ranged-download tests and the bench.

    python tests/storagehost.py ROOT [--host 127.0.0.1] [--rate BYTES_PER_S] [--delay SECONDS]

prints its base URL on the first line of stdout, then serves the files in ROOT until killed. Each
connection gets the link a client far from a storage host gets: every answer waits `delay` seconds before
its first byte (the round trip), a new connection waits one more (its handshake), and each body goes out
at `rate` bytes per second on that connection (one TCP stream's window over the round trip), however many
connections run at once. Answers speak what Google Cloud Storage speaks: ETag (the MD5 of the object),
`x-goog-hash: crc32c=…,md5=…`, `Accept-Ranges: bytes`, Range (`bytes=A-B`, `bytes=A-`) guarded by
If-Range, 206 with Content-Range, 416 past the end.

Paths:
  /files/NAME            the object, unsigned (any query ignored, as `?tf-hub-format=compressed`)
  /get/NAME              302 to a signed URL of the object, as Kaggle's API and tfhub.dev lead to one
  /o/NAME?gen=…&Expires=…&Signature=…   the object behind a signed URL: 403 for a bad signature, 400
                         ExpiredToken once expired or revoked (POST /__control {"revoke": true})
  Kaggle's API, enough for kagglehub to fetch a model's archive (KAGGLE_API_ENDPOINT for its v1 paths, or
  kagglesdk's POST /api/v1/models.ModelApiService/... with KAGGLE_API_ENVIRONMENT): a model slug M is
  the object M.tar.gz, version 1, and its download is a 302 to a signed URL.
  POST /__control  JSON: rate, delay, ttl, revoke, wrong_md5, ranges, etag, cut_at, storage_origin, clear_log
  GET  /__log      every request so far: method, path, query, Range, If-Range, time, connection number

Loopback only; nothing here is hubfn's own code.
"""

import base64
import hashlib
import hmac
import itertools
import json
import os
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpkit  # (beside this file: on the path when it runs as a script, and in the tests)

SECRET = b"storagehost-signing-key"  # the same in every process: one signs, another serves


class State:
    def __init__(self, root, rate, delay):
        self.root = root
        self.rate = rate  # bytes per second per connection; 0: as fast as it goes
        self.delay = delay  # seconds before each answer's first byte
        self.ttl = 3600.0  # seconds a signed URL is valid
        self.generation = 0  # signed URLs of older generations are refused as expired
        self.wrong_md5 = False
        self.ranges = True  # False: no Accept-Ranges, Range ignored
        self.etag = True  # False: no ETag (nor Last-Modified)
        self.cut_at = None  # the next ranged answer stops after this many body bytes and closes (once)
        self.storage_origin = ""  # where /get/ redirects (another storage host process); "": this one
        self.lock = threading.Lock()
        self.log = []
        self.hashes = {}  # (path, size, mtime_ns) -> (md5 bytes, crc32)
        self.connections = itertools.count(1)

    def object(self, name):
        """(path, size, etag, md5 b64, crc b64) of ROOT/name, or None."""
        path = os.path.join(self.root, os.path.basename(name))
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (path, st.st_size, st.st_mtime_ns)
        with self.lock:
            known = self.hashes.get(key)
        if known is None:
            md5, crc = hashlib.md5(), 0
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 22), b""):
                    md5.update(block)
                    crc = zlib.crc32(block, crc)
            known = (md5.digest(), crc)
            with self.lock:
                self.hashes[key] = known
        md5, crc = known
        stated = hashlib.md5(md5).digest() if self.wrong_md5 else md5
        return (path, st.st_size, f'"{md5.hex()}"', base64.b64encode(stated).decode(),
                base64.b64encode(crc.to_bytes(4, "big")).decode())

    def signed(self, name):
        expires = httpkit.expires(self.ttl)
        query = f"gen={self.generation}&Expires={expires}"
        path = f"/o/{name}"
        return f"{self.storage_origin}{path}?{query}&Signature={_sign(path, query)}"


def _sign(path, query):
    return httpkit.sign(SECRET, path, query)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: State
    conn = None  # this connection's number (one handler per connection)

    def log_message(self, *args):
        pass

    def _record(self, parts):
        if self.conn is None:
            self.conn = next(self.state.connections)
            self.fresh = True
        else:
            self.fresh = False
        with self.state.lock:
            self.state.log.append({"method": self.command, "path": parts.path, "query": parts.query,
                                   "range": self.headers.get("Range"), "if_range": self.headers.get("If-Range"),
                                   "authorization": "Authorization" in self.headers,
                                   "time": time.time(), "connection": self.conn})

    def _wait_first_byte(self):
        time.sleep(self.state.delay * (2 if self.fresh else 1))

    _plain = httpkit.reply

    def do_POST(self):
        parts = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
        if parts.path == "/__control":
            data = json.loads(body or b"{}")
            with self.state.lock:
                for key, value in data.items():
                    if key == "revoke":
                        self.state.generation += 1
                    elif key == "clear_log":
                        self.state.log.clear()
                    else:
                        setattr(self.state, key, value)
            return self._plain(200, b"ok")
        self._record(parts)
        self._wait_first_byte()
        self._kaggle_rpc(parts.path, json.loads(body or b"{}"))

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        parts = urllib.parse.urlsplit(self.path)
        if parts.path == "/__log":
            with self.state.lock:
                body = json.dumps(self.state.log).encode()
            return self._plain(200, body, "application/json")
        self._record(parts)
        self._wait_first_byte()
        segs = parts.path.split("/")
        if parts.path.startswith("/files/"):
            return self._object(parts.path[len("/files/"):])
        if parts.path.startswith("/get/"):
            return self._plain(302, headers=[("Location", self.state.signed(parts.path[len("/get/"):]))])
        if parts.path.startswith("/o/"):
            query, _, signature = parts.query.rpartition("&Signature=")
            if not query or not hmac.compare_digest(signature, _sign(parts.path, query)):
                return self._plain(403, b"<Error><Code>SignatureDoesNotMatch</Code></Error>", "application/xml")
            fields = dict(urllib.parse.parse_qsl(query))
            if int(fields["gen"]) != self.state.generation or time.time() > int(fields["Expires"]):
                return self._plain(400, b"<Error><Code>ExpiredToken</Code></Error>", "application/xml")
            return self._object(parts.path[len("/o/"):])
        if segs[:4] == ["", "api", "v1", "models"] and len(segs) in (9, 10):  # Kaggle API v1 (kagglehub 0.3)
            model = segs[5]
            if segs[-1] == "get":
                return self._json({"versionNumber": 1, "ownerSlug": segs[4], "modelSlug": model,
                                   "framework": segs[6], "slug": segs[7]})
            return self._plain(302, headers=[("Location", self.state.signed(f"{model}.tar.gz"))])
        self._plain(404, b"<html><body>Not found</body></html>", "text/html")

    def _json(self, data):
        self._plain(200, json.dumps(data).encode(), "application/json")

    def _kaggle_rpc(self, path, request):
        """kagglesdk's calls (kagglehub 1.x): the model's instance, its files, its archive."""
        call = path.rsplit("/", 1)[-1]
        model = request.get("modelSlug", "model")
        if call == "GetModelInstance":
            return self._json({"versionNumber": 1, "slug": request.get("instanceSlug", ""), "ownerSlug":
                               request.get("ownerSlug", ""), "modelSlug": model})
        if call == "ListModelInstanceVersionFiles":  # "more files": kagglehub then fetches the archive
            return self._json({"files": [{"name": "saved_model.pb"}], "nextPageToken": "more"})
        if call == "DownloadModelInstanceVersion":
            return self._plain(302, headers=[("Location", self.state.signed(f"{model}.tar.gz"))])
        self._plain(404, json.dumps({"code": 404, "message": "Not found"}).encode(), "application/json")

    def _object(self, name):
        found = self.state.object(name)
        if found is None:
            return self._plain(404, b"<Error><Code>NoSuchKey</Code></Error>", "application/xml")
        path, size, etag, md5, crc = found
        start, end = 0, size  # [start, end)
        rng, guard = self.headers.get("Range"), self.headers.get("If-Range")
        ranged = False
        if rng and rng.startswith("bytes=") and (guard is None or guard == etag) and self.state.ranges:
            first, _, last = rng[6:].partition("-")
            if "," in rng or not first.isdigit():
                pass  # several ranges or a suffix range: answered whole, as a server may
            elif int(first) >= size:
                return self._plain(416, headers=[("Content-Range", f"bytes */{size}")])
            else:
                start, ranged = int(first), True
                end = min(size, int(last) + 1) if last.strip().isdigit() else size
        self.send_response(206 if ranged else 200)
        self.send_header("Content-Type", "application/x-tar")
        self.send_header("Content-Length", str(end - start))
        if self.state.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if self.state.etag:
            self.send_header("ETag", etag)
        self.send_header("x-goog-hash", f"crc32c={crc},md5={md5}")
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        cut = None
        if ranged:
            with self.state.lock:
                cut, self.state.cut_at = self.state.cut_at, None
        self._send(path, start, end if cut is None else min(end, start + cut))
        if cut is not None:
            self.close_connection = True

    def _send(self, path, start, end):
        rate = self.state.rate
        piece = max(16 << 10, int(rate / 100)) if rate else 1 << 20
        began = time.monotonic()
        sent = 0
        try:
            with open(path, "rb") as f:
                while start + sent < end:
                    data = os.pread(f.fileno(), min(piece, end - start - sent), start + sent)
                    if not data:
                        break
                    self.wfile.write(data)
                    sent += len(data)
                    if rate:
                        ahead = sent / rate - (time.monotonic() - began)
                        if ahead > 0:
                            time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # many connections open at once


def main(argv):
    root = argv[0]
    opt = {"--host": "127.0.0.1", "--rate": "0", "--delay": "0"}
    for i in range(1, len(argv) - 1, 2):
        opt[argv[i]] = argv[i + 1]
    state = State(root, float(opt["--rate"]), float(opt["--delay"]))
    handler = type("H", (Handler,), {"state": state})
    httpd = Server((opt["--host"], 0), handler)
    print(f"http://{opt['--host']}:{httpd.server_address[1]}", flush=True)
    try:
        httpd.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
