"""HTTP details of the module server, kept apart from routing: responses, byte ranges, validators.

Everything here works on a WSGI environ and returns (status, headers, body iterable); it knows nothing
about modules. Files are always streamed (wsgi.file_wrapper where the server offers one, so waitress
sends them from its I/O loop without holding a worker thread; else in fixed-size chunks), so memory
stays bounded however many clients download at once.
"""

import email.utils
import os
import re

import attrs

CHUNK = 256 << 10  # fallback streaming block when the server has no wsgi.file_wrapper

_STATUS = {
    200: "200 OK", 206: "206 Partial Content", 304: "304 Not Modified", 400: "400 Bad Request",
    403: "403 Forbidden", 404: "404 Not Found", 405: "405 Method Not Allowed", 416: "416 Range Not Satisfiable",
    500: "500 Internal Server Error", 503: "503 Service Unavailable",
}


@attrs.frozen
class Response:
    """What a handler answers: a status code, headers and a body (bytes, or an iterable of bytes)."""

    status: int
    headers: tuple = attrs.field(converter=tuple, factory=tuple)
    body: object = b""

    def send(self, environ, start_response):
        start_response(_STATUS[self.status], list(self.headers))
        if isinstance(self.body, bytes):
            return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.body]
        return self.body


def text(status: int, message: str, extra=()) -> Response:
    body = (message.rstrip("\n") + "\n").encode("utf-8")
    return Response(status, [("Content-Type", "text/plain; charset=utf-8"),
                             ("Content-Length", str(len(body))), *extra], body)


def document(content_type: str, body: bytes, extra=()) -> Response:
    return Response(200, [("Content-Type", content_type), ("Content-Length", str(len(body))),
                          ("Cache-Control", "no-cache"), *extra], body)


def http_date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


def _parse_date(value):
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, OSError):  # garbled or absurd: no date
        return None


def wants_json(environ) -> bool:
    """True when the Accept header prefers application/json to text/html (a browser never does)."""
    prefs = {}
    for part in environ.get("HTTP_ACCEPT", "").split(","):
        fields = [f.strip() for f in part.split(";")]
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        prefs[fields[0].lower()] = max(q, prefs.get(fields[0].lower(), 0.0))
    return prefs.get("application/json", 0.0) > max(prefs.get("text/html", 0.0), 0.0)


_RANGE = re.compile(r"^bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.ASCII | re.IGNORECASE)
_HUGE = 10**18  # past any file; a number with more digits than this means the same (and int() of
#                 thousands of digits would raise, since Python 3.11 limits int-from-string conversions)


def _offset(digits: str) -> int:
    return int(digits) if len(digits) < 19 else _HUGE


def parse_range(header: str, size: int):
    """(start, end_inclusive) for one byte range; None to send the whole file; "unsatisfiable" for 416.

    A header that is not one well-formed byte range is ignored (the whole file), as RFC 9110 allows; so
    are several ranges in one request, rather than a multipart body no module client asks for. Numbers
    of any length are fine: past the end of the file is past the end.
    """
    m = _RANGE.match(header or "")
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # "bytes=-N": the last N bytes
        n = _offset(last)
        if n == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - n), size - 1
    start = _offset(first)
    end = size - 1 if not last else min(_offset(last), size - 1)
    if start >= size or (last and _offset(last) < start):
        return "unsatisfiable"
    return start, end


@attrs.frozen
class FileFacts:
    """What the validators are made of: the file to send, its size, ETag and modification time."""

    path: str
    size: int
    etag: str  # with its quotes, e.g. '"3f2a..."'
    mtime: float
    content_type: str = "application/gzip"
    cache_control: str = "no-cache"
    filename: str = ""  # for Content-Disposition, so a browser saves the archive under a sensible name


def _not_modified(environ, facts: FileFacts) -> bool:
    inm = environ.get("HTTP_IF_NONE_MATCH")
    if inm is not None:
        tags = [t.strip() for t in inm.split(",")]
        return "*" in tags or facts.etag in tags or ("W/" + facts.etag) in tags
    ims = _parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
    return ims is not None and int(facts.mtime) <= ims


def _range_applies(environ, facts: FileFacts) -> bool:
    """If-Range: a range is only honoured if the client's copy is still the current one."""
    if_range = environ.get("HTTP_IF_RANGE")
    if if_range is None:
        return True
    if if_range.startswith('"') or if_range.startswith("W/"):
        return if_range == facts.etag
    when = _parse_date(if_range)
    return when is not None and int(facts.mtime) <= when


def send_file(environ, facts: FileFacts) -> Response:
    """A GET or HEAD response for a whole file or one byte range of it, with all validators."""
    headers = [("ETag", facts.etag), ("Last-Modified", http_date(facts.mtime)),
               ("Accept-Ranges", "bytes"), ("Cache-Control", facts.cache_control)]
    if facts.filename:
        headers.append(("Content-Disposition", f'attachment; filename="{facts.filename}"'))
    if _not_modified(environ, facts):
        return Response(304, headers)
    start, end, status = 0, facts.size - 1, 200
    if "HTTP_RANGE" in environ and _range_applies(environ, facts):
        rng = parse_range(environ["HTTP_RANGE"], facts.size)
        if rng == "unsatisfiable":
            # not echoed back: a range header may be thousands of characters long
            return text(416, f"The requested range is outside the {facts.size} bytes of this file.",
                        [("Content-Range", f"bytes */{facts.size}"), *headers])
        if rng is not None:
            start, end, status = rng[0], rng[1], 206
            headers.append(("Content-Range", f"bytes {start}-{end}/{facts.size}"))
    length = max(0, end - start + 1)
    headers = [("Content-Type", facts.content_type), ("Content-Length", str(length)), *headers]
    if environ.get("REQUEST_METHOD") == "HEAD" or length == 0:
        return Response(status, headers, b"")
    f = open(facts.path, "rb")  # noqa: SIM115 - closed by the server through the body's close()
    f.seek(start)
    wrapper = environ.get("wsgi.file_wrapper")
    if wrapper is not None:
        # waitress sends from the current position for Content-Length bytes (its documented Range support).
        return Response(status, headers, wrapper(f, CHUNK))
    return Response(status, headers, _Chunks(f, length))


class _Chunks:
    """A WSGI body reading `length` bytes of an open file in CHUNK blocks, closed by the server."""

    def __init__(self, f, length):
        self._f, self._left = f, length

    def __iter__(self):
        while self._left > 0:
            data = self._f.read(min(CHUNK, self._left))
            if not data:
                return
            self._left -= len(data)
            yield data

    def close(self):
        self._f.close()


def file_facts(path, etag, cache_control="no-cache", filename="") -> FileFacts:
    st = os.stat(path)
    return FileFacts(path=path, size=st.st_size, etag=etag, mtime=st.st_mtime,
                     cache_control=cache_control, filename=filename)
