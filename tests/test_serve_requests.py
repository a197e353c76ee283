"""Issue 12, item 5: requests the module server cannot use are answered 4xx (or, for a Range it need not
honour, with the whole file), never 500, and no answer carries a traceback or a path of the server.

The requests are written byte for byte on real sockets to `serve_modules` on 127.0.0.1.
"""

import logging
import socket

import pytest
from publish_helpers import build_root, raw_get

from hubfn.publish.serve import make_app, serve_modules

ARCHIVE = "/acme/fruit/2.tar.gz"
DIGITS = "9" * 5000  # far past Python's 4300-digit int() limit


@pytest.fixture(scope="module")
def served(tmp_path_factory, fruit_dir, tf1_dir):
    base = tmp_path_factory.mktemp("requests")
    root = build_root(base, fruit_dir, tf1_dir)
    with serve_modules(root, pack_dir=base / "packs") as server:
        size = len(raw_get(server.url, ARCHIVE)[2])
        yield server, size, str(base)


def _exchange(url, data: bytes):
    """(status code, whole response) for raw bytes sent on a new connection, read until the server closes."""
    port = int(url.rsplit(":", 1)[1].strip("/"))
    out = b""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        try:
            s.sendall(data)
            while chunk := s.recv(65536):
                out += chunk
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server answered and closed while we were still sending (an oversized request)
    status_line = out.split(b"\r\n", 1)[0].decode("latin-1")
    assert status_line.startswith("HTTP/1."), out[:200]
    return int(status_line.split()[1]), out


def _clean(body: bytes, base: str):
    text = body.decode("latin-1")
    assert "Traceback" not in text and 'File "' not in text and base not in text, text[:500]


@pytest.mark.parametrize("header, expected", [
    (f"bytes={DIGITS}-", 416),            # a start past any file
    (f"bytes=0-{DIGITS}", 206),           # an end past the file: up to its end
    (f"bytes=-{DIGITS}", 206),            # a suffix longer than the file: all of it
    (f"bytes={DIGITS}-{DIGITS}", 416),
    ("bytes=5-2", 416),                   # last before first
    ("bytes=abc-def", 200),               # not a range: ignored, the whole file
    ("bytes=0-1,5-9", 200),               # several ranges: the whole file
    ("pages=0-10", 200),
    ("bytes=٠-٩", 200),                   # Arabic-Indic digits are not HTTP digits
    ("BYTES=0-9", 206),                   # range units are case-insensitive
])
def test_malformed_or_absurd_range(served, header, expected):
    server, size, base = served
    status, headers, body = raw_get(server.url, ARCHIVE, headers={"Range": header.encode("utf-8").decode("latin-1")})
    assert status == expected, body[:300]
    _clean(body, base)
    if expected == 416:
        assert headers["Content-Range"] == f"bytes */{size}"
    elif expected == 200:
        assert len(body) == size
    elif header.startswith("BYTES"):
        assert headers["Content-Range"] == f"bytes 0-9/{size}" and len(body) == 10
    else:
        assert headers["Content-Range"] == f"bytes 0-{size - 1}/{size}" and len(body) == size


@pytest.mark.parametrize("name, value", [
    ("If-Modified-Since", "Mon, 01 Jan 99999999999 00:00:00 GMT"),   # OverflowError in the date parser
    ("If-Modified-Since", "Mon, 01 Jan 2020 00:00:00 +99999999999999"),
    ("If-Modified-Since", "not a date"),
    ("If-Range", "Mon, 01 Jan 99999999999 00:00:00 GMT"),
    ("If-None-Match", '"' + "x" * 10000 + '"'),
    ("Accept", "application/json;q=nan, text/html;q=inf"),
])
def test_garbled_conditional_headers_get_the_file(served, name, value):
    server, size, base = served
    headers = {name: value, **({"Range": "bytes=0-9"} if name == "If-Range" else {})}
    status, _, body = raw_get(server.url, ARCHIVE, headers=headers)
    assert status == 200 and len(body) == size  # the condition cannot hold: the whole, current file
    _clean(body, base)


HOST = b"Host: 127.0.0.1\r\nConnection: close\r\n"


@pytest.mark.parametrize("request_bytes, expected", [
    (b"GARBAGE\r\n\r\n", 400),
    (b"GET /acme/fruit/1 HTTP/1.1\r\n" + HOST + b"No colon here\r\n\r\n", 400),
    (b"GET /acme/fruit/1 HTTP/1.1\r\n" + HOST + b"Content-Length: abc\r\n\r\n", 400),
    (b"GET /acme/fruit/1 HTTP/1.1\r\n" + HOST + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"GET /acme/fruit/1 HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n", 431),
    (b"POST /acme/fruit/1 HTTP/1.1\r\n" + HOST + b"Content-Length: 100000\r\n\r\n" + b"a" * 100000, 413),
    (b"PUT /acme/fruit/1 HTTP/1.1\r\n" + HOST + b"Content-Length: 2\r\n\r\nhi", 405),
    (b"GET /" + b"a" * 8000 + b" HTTP/1.1\r\n" + HOST + b"\r\n", 404),
    (b"GET /acme/%ff%fe/%00 HTTP/1.1\r\n" + HOST + b"\r\n", 404),
    (b"GET /acme/fruit/1?tf-hub-format=%ff%00 HTTP/1.1\r\n" + HOST + b"\r\n", 400),
    (b"GET /acme/fruit/1 HTTP/1.1\r\nHost: \xff\xfe\r\nConnection: close\r\n\r\n", 200),
])
def test_requests_that_cannot_be_parsed_are_4xx(served, request_bytes, expected):
    server, _, base = served
    status, out = _exchange(server.url, request_bytes)
    assert status == expected, out[:300]
    _clean(out, base)


def test_an_unexpected_failure_is_logged_and_answered_without_details(tmp_path, caplog):
    # A fault injected below the app (the module store fails in a way nobody planned for): the client
    # gets a plain 500, the log gets the traceback.
    app = make_app(tmp_path)

    def broken(path_info):
        raise RuntimeError(f"secret detail at {tmp_path}")

    app.store.locate = broken
    seen = {}
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/acme/fruit/1", "wsgi.url_scheme": "http",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80"}
    with caplog.at_level(logging.ERROR, logger="hubfn"):
        body = b"".join(app(environ, lambda status, headers: seen.update(status=status)))
    assert seen["status"].startswith("500")
    _clean(body, str(tmp_path))
    assert b"secret" not in body and b"log" in body
    assert "secret detail" in caplog.text and "RuntimeError" in caplog.text


def test_a_wake_up_racing_the_stop_does_not_break_it(tmp_path, fruit_dir, tf1_dir):
    """stop() hands the closing to the server's I/O loop and then writes the loop's wake-up byte. A wake-up
    from elsewhere (a worker's, once a response is ready) can let the loop run that closing first; the
    stop's own write must still land, so the wake-up pipe is closed only after the loop and the workers
    are done. Here the stop's write waits until the loop has closed every connection."""
    import os
    import time

    root = build_root(tmp_path, fruit_dir, tf1_dir)
    server = serve_modules(root, pack_dir=tmp_path / "packs")
    assert raw_get(server.url, ARCHIVE)[0] == 200
    trigger = server._server.trigger
    own_write = trigger._physical_pull

    def written_late():
        os.write(trigger.trigger, b"x")  # what a worker's wake-up writes
        deadline = time.monotonic() + 10
        while server._server._map and time.monotonic() < deadline:
            time.sleep(0.01)  # the loop is running the closing
        assert not server._server._map, "the loop ran the closing"
        own_write()

    trigger._physical_pull = written_late
    server.stop()
    assert not server._thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
