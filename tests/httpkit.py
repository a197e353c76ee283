"""What the tests' HTTP servers (hubsim.py, storagehost.py, kaggle_server.py) share: a whole answer with a
body, and the expiry and signature of a signed storage URL. Standard library only: two of them run as scripts."""

import hashlib
import hmac
import math
import time


def reply(handler, status, body=b"", ctype="text/plain", headers=()):
    """A whole answer from the BaseHTTPRequestHandler `handler`: status, Content-Type, Content-Length, the
    extra `headers` (name, value) and, unless the request is a HEAD, the body."""
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    for name, value in headers:
        handler.send_header(name, value)
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


def sign(secret, path, query):
    """The signature a signed URL of `path?query` carries (HMAC-SHA256 with the server's `secret`)."""
    return hmac.new(secret, f"{path}?{query}".encode(), hashlib.sha256).hexdigest()


def expires(ttl):
    """The `Expires` of a signed URL valid for `ttl` seconds from now. It is in whole seconds, so it is
    rounded up: the URL lives ttl to ttl + 1 s, never less (rounded down, a URL signed late in a second
    with ttl=1 lived a few milliseconds)."""
    return math.ceil(time.time() + ttl)
