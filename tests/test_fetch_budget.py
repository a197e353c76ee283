"""The worst case of a download on a dead server (issue 19, acceptance 3): stated by hubfn.fetch.transport.retry as

    worst_case_seconds = (R + 1) * (C + T) + w(1) + ... + w(R)

and obeyed. Real server sockets on 127.0.0.1 that accept and never answer, answer the headers and never
the body, answer 503 forever, ask for a Retry-After longer than the budget, or redirect slowly; with small
settings, each hub_resolve must fail within the bound (plus a margin for a busy machine), not much before
what its retries take, and say how long it tried. A slow download that keeps receiving bytes is not cut.
"""

import contextlib
import http.server
import os
import re
import socket
import threading
import time

import attrs
import pytest

import hubfn
import servers
from hubfn import errors
from hubfn.fetch.transport import retry

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARGIN = 0.6  # seconds: a busy machine's scheduling, TLS-free connect, and the test's own bookkeeping
HEADERS = (b"HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nContent-Length: 10240\r\n"
           b'ETag: "v1"\r\nAccept-Ranges: bytes\r\n\r\n')


@pytest.fixture(autouse=True)
def env(monkeypatch, cache_dir):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    for name in ("HUBFN_RETRIES", "HUBFN_BACKOFF", "HUBFN_CONNECT_TIMEOUT", "HUBFN_READ_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)


def small(**fields):
    """The environment's settings with the retry policy's fields replaced (retries, backoff, timeouts)."""
    settings = hubfn.Settings.from_env()
    return attrs.evolve(settings, retry=attrs.evolve(settings.retry, **fields))


def waits(settings):
    """w(1) + ... + w(R): what the backoff alone sleeps."""
    return sum(settings.retry.wait(k) for k in range(1, settings.retry.retries + 1))


@contextlib.contextmanager
def silent_server(answer=b"", delay=0.0):
    """A socket on 127.0.0.1 that accepts every connection, reads the request, sends `answer` (nothing by
    default) after `delay` seconds and then nothing more, holding the connection open. Yields (base URL,
    accepted sockets)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.05)
    held, stop = [], threading.Event()

    def run():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            held.append(conn)
            if answer:
                conn.settimeout(5)
                conn.recv(65536)
                time.sleep(delay)
                conn.sendall(answer)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", held
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def timed_failure(url, settings, cls=errors.FetchError):
    """(seconds taken, the error) of a hub_resolve that must fail."""
    began = time.monotonic()
    with pytest.raises(cls) as e:
        hubfn.hub_resolve(url, settings=settings)
    return time.monotonic() - began, e.value


def said_seconds(error):
    """The seconds the error says it tried ("... over 1.8 s")."""
    match = re.search(r"over (\d+\.\d) s", str(error))
    assert match, str(error)
    return float(match.group(1))


def test_the_bound_is_the_stated_formula():
    defaults = small(retries=4, backoff=1.0, connect_timeout=15.0, read_timeout=60.0)
    assert retry.worst_case_seconds(defaults) == 5 * (15 + 60) + (1 + 2 + 4 + 8) == 390
    assert retry.worst_case_seconds(small(retries=2, backoff=0.1, connect_timeout=0.2, read_timeout=0.3)) == \
        pytest.approx(3 * 0.5 + 0.1 + 0.2)
    assert retry.worst_case_seconds(small(retries=0, connect_timeout=1.0, read_timeout=2.0)) == 3.0
    assert retry.worst_case_seconds(small(retries=8, backoff=10.0, connect_timeout=1, read_timeout=1)) == \
        9 * 2 + 10 + 20 + 30 * 6, "each wait is capped at 30 s"
    with open(os.path.join(ROOT, "docs", "guide", "fetch.md"), encoding="utf-8") as f:
        guide = f.read()
    assert "(R + 1) × (C + T) + w(1) + … + w(R)" in guide and "390 s" in guide, "the fetch guide states it too"


def test_a_server_that_accepts_and_never_answers(monkeypatch):
    """Each attempt waits out the read timeout: (R + 1) * T + the waits, within (R + 1) * (C + T) + the waits."""
    monkeypatch.setenv("HUBFN_RETRIES", "2")
    monkeypatch.setenv("HUBFN_BACKOFF", "0.2")
    settings = hubfn.Settings.make(timeout=0.4)  # what hub_resolve(timeout=0.4) makes of the environment
    bound, least = retry.worst_case_seconds(settings), 3 * 0.4 + waits(settings)
    with silent_server() as (base, held):
        took, e = timed_failure(f"{base}/m.tar.gz", settings)
        assert len(held) == 3, "one connection per attempt: R + 1"
    print(f"never answers: failed after {took:.2f} s (retries take {least:.2f} s, bound {bound:.2f} s)")
    assert least - 0.05 <= took <= bound + MARGIN
    assert "sent no answer" in str(e) and "after 3 attempts" in str(e) and base in str(e)
    assert abs(said_seconds(e) - took) < 0.3, "the message says how long it tried"


@pytest.mark.parametrize("validator", [True, False], ids=["resumable", "starts-over"])
def test_a_server_that_sends_the_headers_then_stalls_the_body(validator):
    """Each attempt of the download stalls for the read timeout, whether it resumes (ETag, ranges) or starts
    over (neither): R + 1 attempts of the download in all, not R + 1 per start."""
    answer = HEADERS if validator else HEADERS.replace(b'ETag: "v1"\r\nAccept-Ranges: bytes\r\n', b"")
    settings = small(retries=2, backoff=0.2, connect_timeout=0.4, read_timeout=0.4)
    bound, least = retry.worst_case_seconds(settings), 3 * 0.4 + waits(settings)
    with silent_server(answer) as (base, held):
        took, e = timed_failure(f"{base}/m.tar", settings)
        assert len(held) == 3
    print(f"headers, then a stalled body: failed after {took:.2f} s (retries take {least:.2f} s, "
          f"bound {bound:.2f} s)")
    assert least - 0.05 <= took <= bound + MARGIN
    assert "cut short: it stopped at byte 0 of 10240" in str(e) and "after 3 attempts" in str(e)
    assert abs(said_seconds(e) - took) < 0.3


def test_slow_headers_leave_the_body_only_what_is_left():
    """Headers at 0.95 s (within the read timeout), then a stalled body: the body's reads get what is left of
    the 1.6 s budget, not a fresh 1.5 s read timeout (which would end at 2.45 s)."""
    settings = small(retries=0, connect_timeout=0.1, read_timeout=1.5)
    bound = retry.worst_case_seconds(settings)
    with silent_server(HEADERS, delay=0.95) as (base, held):
        took, e = timed_failure(f"{base}/m.tar", settings)
    print(f"slow headers, then a stalled body: failed after {took:.2f} s (bound {bound:.2f} s)")
    # A fresh read timeout cannot end before 0.95 + 1.5 s, however the machine stalls; what is left ends
    # near the bound (~1.7 s here, once 2.26 s in a CI run whose process stalled ~0.55 s).
    assert bound + MARGIN < 0.95 + 1.5
    assert 0.95 < took < 0.95 + 1.5, "the body got a fresh read timeout, not what was left of the budget"
    assert "cut short: it stopped at byte 0 of 10240" in str(e) and "after 1 attempt over" in str(e)


def test_a_server_that_answers_503_forever(server):
    settings = small(retries=3, backoff=0.2, connect_timeout=0.4, read_timeout=0.4)
    bound, least = retry.worst_case_seconds(settings), waits(settings)
    url = server.add("/budget/busy.tar.gz", body=b"x", fail_first=10**6, fail_status=503)
    took, e = timed_failure(url, settings)
    print(f"503 forever: failed after {took:.2f} s (waits {least:.2f} s, bound {bound:.2f} s)")
    assert least - 0.05 <= took <= bound + MARGIN
    assert len(server.gets("/budget/busy.tar.gz")) == 4
    assert "HTTP 503" in str(e) and "after 4 attempts" in str(e) and abs(said_seconds(e) - took) < 0.3


def test_a_retry_after_longer_than_the_budget_is_not_waited_for(server):
    """Without the budget, Retry-After: 60 would be slept R times (capped at HUBFN_MAX_RETRY_AFTER, 120 s)."""
    settings = small(retries=3, backoff=0.2, connect_timeout=0.4, read_timeout=0.4)
    url = server.add("/budget/later.tar.gz", body=b"x", fail_first=10**6, fail_status=503, retry_after="60")
    took, e = timed_failure(url, settings)
    assert took < 1.0 and len(server.gets("/budget/later.tar.gz")) == 1
    assert "after 1 attempt over" in str(e) and "Retry-After: 60" in str(e)
    assert f"time budget of {retry.worst_case_seconds(settings):.1f} s" in str(e)


class _SlowRedirects(http.server.BaseHTTPRequestHandler):
    """/hop/N.tar answers, after DELAY seconds (within the read timeout), a redirect to /hop/N+1.tar."""

    protocol_version = "HTTP/1.1"
    DELAY = 0.3
    seen = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.seen.append(self.path)
        time.sleep(self.DELAY)
        self.send_response(302)
        self.send_header("Location", f"/hop/{int(self.path.removeprefix('/hop/').removesuffix('.tar')) + 1}.tar")
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_a_slow_redirect_chain_spends_from_the_same_budget():
    """Eleven hops of 0.3 s each would take 3.3 s; every hop is a new request, but they share one budget."""
    handler = type("Handler", (_SlowRedirects,), {"seen": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    settings = small(retries=1, backoff=0.2, connect_timeout=0.4, read_timeout=0.4)
    bound = retry.worst_case_seconds(settings)
    try:
        took, e = timed_failure(f"http://127.0.0.1:{httpd.server_address[1]}/hop/0.tar", settings)
    finally:
        httpd.shutdown()
        httpd.server_close()
    print(f"slow redirects: failed after {took:.2f} s and {len(handler.seen)} hops (bound {bound:.2f} s)")
    assert took <= bound + MARGIN and len(handler.seen) < 11
    assert f"time budget of {bound:.1f} s" in str(e) and "more than 10 redirects" not in str(e)


def test_a_slow_download_that_keeps_receiving_is_not_cut_off(server, cache_dir):
    """The clock stops while bytes arrive: a download taking twice the bound completes."""
    body = servers.crafted([{"name": "saved_model.pb", "data": os.urandom(60_000)}], compress=False)
    settings = small(retries=1, backoff=0.2, connect_timeout=0.4, read_timeout=0.4)
    bound = retry.worst_case_seconds(settings)
    url = server.add("/budget/slow.tar", body=body, rate=len(body) / (2 * bound))
    began = time.monotonic()
    entry = hubfn.hub_resolve(url, settings=settings)
    took = time.monotonic() - began
    print(f"slow download: {took:.2f} s, bound {bound:.2f} s")
    assert took > 1.5 * bound and os.path.getsize(os.path.join(entry, "saved_model.pb")) == 60_000
    assert len(server.gets("/budget/slow.tar")) == 1, "never interrupted"
