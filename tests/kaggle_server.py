"""A local stand-in for Kaggle Models: Kaggle's public API v1 on 127.0.0.2, a storage host on 127.0.0.3.

The API answers the paths Kaggle's own client (kagglehub) calls, the way kaggle.com answers them:
    GET /api/v1/models/{owner}/{model}/{framework}/{variation}/get
        200 JSON about the variation, "versionNumber" its latest version
    GET /api/v1/models/{owner}/{model}/{framework}/{variation}/{version}/download
        302 to a signed storage URL of the version's .tar.gz
    an unknown model or version: 404 JSON {"code": 404, "message": ...}; a gated model asked without
    credentials it accepts: 403 JSON; a busy one a 503 first. The framework matches in any case, as on Kaggle.
The storage host serves signed URLs as Google Cloud Storage does (V2 style: GoogleAccessId, Expires,
Signature in the query): an expired URL is a 400, a wrong signature a 403; the object comes with
`x-goog-hash: crc32c=...,md5=...`, an ETag and Accept-Ranges, and `Range: bytes=N-` (guarded by If-Range)
gets a 206.
Both run in threads of this process, so a test can publish a new version while they run; every request
to either host is logged with its headers, so a test can assert what reached which host.
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs

import httpkit  # (beside this file)

API_HOST, STORAGE_HOST = "127.0.0.2", "127.0.0.3"
BUCKET = "kaggle-models-data"


@attrs.define
class Request:
    host: str  # "api" or "storage"
    method: str
    path: str
    query: str  # raw, as sent
    headers: dict


@attrs.define
class Variation:
    """One model variation: its versions' archives, and how they are served."""

    framework: str  # as published (the API matches it in any case)
    versions: dict  # {version: archive bytes}
    gated: bool = False  # 403 unless the request carries a credential in FakeKaggle.accepted
    bad_md5: set = attrs.field(factory=set)  # versions whose x-goog-hash states a wrong MD5
    cut_once: dict = attrs.field(factory=dict)  # {version: byte}: the first full answer stops there
    busy: int = 0  # answer this many API requests with 503 first (Kaggle under load)


class FakeKaggle:
    def __init__(self, url_lifetime=600):
        self.models = {}  # (owner, model, framework in lower case, variation) -> Variation
        self.accepted = set()  # Authorization header values a gated model accepts
        self.log = []
        self.url_lifetime = url_lifetime
        self._secret = os.urandom(16)
        self._objects = {}  # object path -> (key, version)
        self._lock = threading.Lock()
        self._api = _serve(API_HOST, _ApiHandler, self)
        self._storage = _serve(STORAGE_HOST, _StorageHandler, self)

    @property
    def endpoint(self):
        return f"http://{API_HOST}:{self._api.server_address[1]}"

    @property
    def storage_origin(self):
        return f"http://{STORAGE_HOST}:{self._storage.server_address[1]}"

    def publish(self, owner, model, framework, variation, versions, **kw):
        """Add versions ({version: archive}) to a variation (made on first use, with `kw` of Variation)."""
        key = (owner, model, framework.lower(), variation)
        with self._lock:
            if key not in self.models:
                self.models[key] = Variation(framework, {}, **kw)
            self.models[key].versions.update(versions)
            for version in versions:
                if (key, version) not in self._objects.values():  # a version republished keeps its URL
                    self._objects[f"/{BUCKET}/{len(self._objects) + 1}/bundle/archive.tar.gz"] = (key, version)
        return self.models[key]

    def requests(self, host):
        return [r for r in self.log if r.host == host]

    def clear(self):
        self.log.clear()

    def close(self):
        for httpd in (self._api, self._storage):
            httpd.shutdown()
            httpd.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- signed URLs -----------------------------------------------------------------------------
    def _sign(self, path, expires):
        mac = hmac.new(self._secret, f"GET\n{expires}\n{path}".encode(), hashlib.sha256).digest()
        return base64.b64encode(mac).decode()

    def signed_url(self, key, version):
        path = next(p for p, kv in self._objects.items() if kv == (key, version))
        expires = httpkit.expires(self.url_lifetime)
        query = urllib.parse.urlencode({"GoogleAccessId": "kaggle-models@example.iam.gserviceaccount.com",
                                        "Expires": expires, "Signature": self._sign(path, expires)},
                                       quote_via=urllib.parse.quote)
        return f"{self.storage_origin}{path}?{query}"

    def check_signature(self, path, query):
        """None when the signed URL is good, else (status, GCS error code)."""
        fields = urllib.parse.parse_qs(query)
        try:
            expires = int(fields["Expires"][0])
            signature = fields["Signature"][0]
        except (KeyError, ValueError):
            return 400, "MissingSecurityHeader"
        if expires < time.time():
            return 400, "ExpiredToken"
        if not hmac.compare_digest(signature, self._sign(path, expires)):
            return 403, "SignatureDoesNotMatch"
        return None


def _serve(host, handler, app):
    httpd = ThreadingHTTPServer((host, 0), type(handler.__name__, (handler,), {"app": app}))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return httpd


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    app: FakeKaggle
    host_name = ""

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        parts = urllib.parse.urlsplit(self.path)
        with self.app._lock:
            self.app.log.append(Request(self.host_name, "GET", parts.path, parts.query, dict(self.headers)))
        self.answer(parts.path, parts.query)

    send = httpkit.reply  # (this server answers no HEAD: every answer has its body)


class _ApiHandler(_Handler):
    host_name = "api"

    def answer(self, path, query):
        app = self.app
        parts = path.split("/")
        if parts[:4] != ["", "api", "v1", "models"] or len(parts) not in (9, 10):
            return self.json(404, {"code": 404, "message": "Not found"})
        owner, model, framework, variation = parts[4:8]
        found = app.models.get((owner, model, framework.lower(), variation))
        if found is None:
            return self.json(404, {"code": 404, "message": "Not found"})
        if found.busy > 0:
            found.busy -= 1
            return self.json(503, {"code": 503, "message": "The service is currently unavailable."})
        if found.gated and self.headers.get("Authorization") not in app.accepted:
            return self.json(403, {"code": 403, "message": "Permission 'models.get' was denied"})
        if len(parts) == 9 and parts[8] == "get":
            return self.json(200, {"id": 4242, "ownerSlug": owner, "modelSlug": model, "slug": variation,
                                   "framework": found.framework, "versionNumber": max(found.versions),
                                   "url": f"/models/{owner}/{model}/{found.framework}/{variation}"})
        if len(parts) == 10 and parts[9] == "download" and parts[8].isdigit() and int(parts[8]) in found.versions:
            location = app.signed_url((owner, model, framework.lower(), variation), int(parts[8]))
            return self.send(302, b"", "text/plain", [("Location", location)])
        return self.json(404, {"code": 404, "message": "Not found"})

    def json(self, status, data):
        self.send(status, json.dumps(data).encode(), "application/json")


class _StorageHandler(_Handler):
    host_name = "storage"

    def answer(self, path, query):
        app = self.app
        if path not in app._objects:
            return self.error(404, "NoSuchKey")
        problem = app.check_signature(path, query)
        if problem:
            return self.error(*problem)
        key, version = app._objects[path]
        variation = app.models[key]
        body = variation.versions[version]
        md5 = hashlib.md5(body if version not in variation.bad_md5 else body + b"x").digest()
        etag = '"' + hashlib.md5(body).hexdigest() + '"'
        start = 0
        rng, guard = self.headers.get("Range"), self.headers.get("If-Range")
        if rng and rng.startswith("bytes=") and (guard is None or guard == etag):
            start = int(rng[6:].split("-", 1)[0])
        headers = [("x-goog-hash", f"crc32c={base64.b64encode(struct.pack('>I', crc32c(body))).decode()},"
                                   f"md5={base64.b64encode(md5).decode()}"),
                   ("ETag", etag), ("Accept-Ranges", "bytes"), ("Content-Length", str(len(body) - start))]
        if start:
            headers.append(("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}"))
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/x-gzip")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        stop = variation.cut_once.pop(version, None) if not start else None
        self.wfile.write(body[start:stop])
        if stop is not None:  # a connection that breaks mid-body, Content-Length unfulfilled
            self.close_connection = True

    def error(self, status, code):
        body = f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code></Error>".encode()
        self.send(status, body, "application/xml; charset=UTF-8")


def _crc32c_table():
    table = []
    for n in range(256):
        for _ in range(8):
            n = (n >> 1) ^ 0x82F63B78 if n & 1 else n >> 1
        table.append(n)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    """CRC-32C (Castagnoli), the checksum GCS states beside the MD5."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
