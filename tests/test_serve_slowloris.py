"""Issue 12, item 5 and acceptance 2: clients that hold connections cannot lock others out of `hubfn serve`.

Every test runs a real `hubfn serve` subprocess on 127.0.0.1 and opens real sockets against it:
- 200 connections, idle or with half a request sent, are held open while a real client (hubfn's fetch,
  then requests) downloads a module: it gets it at once, and the 200 are still open afterwards, so the
  server really carried them all (waitress' own defaults accept 100 and hold them for 120 s);
- with a small connection cap and a 1 s idle timeout, the server closes all 200 itself (idle, half-sent
  and byte-dripping alike) and the real client still gets through;
- a client dripping a request head one byte at a time is cut off after the timeout although never idle;
- under a low open-file limit the cap shrinks to fit, so the server never runs out of descriptors.
"""

import os
import resource
import select
import subprocess
import socket
import time

import pytest
import requests
from publish_helpers import HUBFN_EXE, build_root, read_log, start_hubfn_serve, stop_process

import hubfn
from hubfn import errors
from hubfn.publish.serve import serve_modules

HELD = 200
HALF_REQUEST = b"GET /acme/fruit/1?tf-hub-format=compressed HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"


@pytest.fixture(scope="module")
def root(tmp_path_factory, fruit_dir, tf1_dir):
    return build_root(tmp_path_factory.mktemp("slowloris"), fruit_dir, tf1_dir)


def _hold(url, count):
    """`count` connections to the server: every other one silent, the rest with half a request sent."""
    port = int(url.rsplit(":", 1)[1].strip("/"))
    socks = []
    try:
        for i in range(count):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if i % 2:
                s.sendall(HALF_REQUEST)
            socks.append(s)
    except BaseException:
        _close(socks)
        raise
    return socks


def _close(socks):
    for s in socks:
        s.close()


def _closed_by_server(s) -> bool:
    """True when the server has closed this connection (end of stream or reset), without blocking."""
    readable, _, _ = select.select([s], [], [], 0)
    if not readable:
        return False  # open, nothing to read
    try:
        return s.recv(1, socket.MSG_PEEK) == b""
    except ConnectionResetError:
        return True


def _wait_all_closed(socks, deadline_s):
    """How many of `socks` the server closed within `deadline_s` seconds (bounded wait)."""
    left = set(socks)
    end = time.monotonic() + deadline_s
    while left and time.monotonic() < end:
        readable, _, _ = select.select(list(left), [], [], 0.5)
        for s in readable:
            if _closed_by_server(s):
                left.discard(s)
    return len(socks) - len(left)


def _download_timed(url):
    """(seconds for hubfn to fetch the module into the (fresh) cache, archive bytes from requests)."""
    t0 = time.monotonic()
    path = hubfn.hub_resolve(url)
    fetched = time.monotonic() - t0
    assert os.path.isfile(os.path.join(path, "saved_model.pb"))
    body = requests.get(url + "?tf-hub-format=compressed", timeout=10).content
    return fetched, body


def test_200_held_connections_do_not_lock_out_a_download(root, tmp_path, cache_dir):
    # The default cap (1000 connections) alone must carry them: a long timeout, so that none is shed.
    proc, url = start_hubfn_serve(root, tmp_path / "packs", "--idle-timeout", "120")
    socks = []
    try:
        socks = _hold(url, HELD)
        time.sleep(0.5)  # let the server accept them all
        fetched, body = _download_timed(url + "acme/fruit/1")
        print(f"\n{HELD} connections held; hubfn fetched the module in {fetched:.2f} s")
        assert fetched < 8, f"the download took {fetched:.1f} s with {HELD} connections held"
        assert body[:2] == b"\x1f\x8b"  # the gzip archive
        still_open = sum(not _closed_by_server(s) for s in socks)
        assert still_open == HELD  # the server carried all 200 while it served the client
        m = hubfn.hub_load(url + "acme/fruit/1")  # from the cache just filled
        assert "fruit_to_pet" in m.signature_names
    finally:
        _close(socks)
        assert stop_process(proc) == 0


def test_idle_and_half_sent_connections_are_closed_after_the_timeout(root, tmp_path, cache_dir):
    proc, url = start_hubfn_serve(root, tmp_path / "packs", "--idle-timeout", "1", "--connection-limit", "50")
    socks = []
    try:
        socks = _hold(url, HELD)  # 4 times the cap: the server must shed them to get to anyone else
        t0 = time.monotonic()
        fetched, body = _download_timed(url + "acme/fruit/1")
        print(f"\n{HELD} connections against a cap of 50: hubfn got the module after {time.monotonic() - t0:.2f} s")
        assert body[:2] == b"\x1f\x8b"
        assert _wait_all_closed(socks, deadline_s=20) == HELD
    finally:
        _close(socks)
        assert stop_process(proc) == 0


def test_a_request_head_dripped_byte_by_byte_is_cut_off(root, tmp_path):
    proc, url = start_hubfn_serve(root, tmp_path / "packs", "--idle-timeout", "1")
    port = int(url.rsplit(":", 1)[1].strip("/"))
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        t0, sent, cut = time.monotonic(), 0, False
        while time.monotonic() - t0 < 10:  # each byte well inside the idle timeout
            try:
                s.sendall(HALF_REQUEST[sent % len(HALF_REQUEST):][:1])
            except (BrokenPipeError, ConnectionResetError):
                cut = True
                break
            sent += 1
            if _closed_by_server(s):
                cut = True
                break
            time.sleep(0.2)
        elapsed = time.monotonic() - t0
        assert cut, "a client dripping its request head kept the connection for 10 s"
        assert elapsed > 0.9 and sent > 4  # it was cut for being slow, not refused at once
    finally:
        s.close()
        assert stop_process(proc) == 0


def _low_open_file_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))


def test_the_cap_fits_a_low_open_file_limit(root, tmp_path, cache_dir):
    proc, url = start_hubfn_serve(root, tmp_path / "packs", "--idle-timeout", "1", preexec_fn=_low_open_file_limit)
    socks = []
    try:
        assert "open-file limit (256) allows 184 connections, not 1000" in read_log(proc)
        socks = _hold(url, 300)  # more than the process may open: it must keep descriptors for the archive
        fetched, body = _download_timed(url + "acme/fruit/1")
        assert body[:2] == b"\x1f\x8b"
        assert _wait_all_closed(socks, deadline_s=20) == 300
        assert "Too many open files" not in read_log(proc)
    finally:
        _close(socks)
        assert stop_process(proc) == 0


def test_unusable_settings_are_clear_errors(tmp_path):
    for kwargs, words in (({"idle_timeout": 0}, "idle timeout 0"), ({"connection_limit": 0}, "connection limit 0"),
                          ({"threads": 1.5}, "whole numbers"), ({"idle_timeout": "10"}, "idle timeout '10'")):
        with pytest.raises(errors.ServeError, match=words):
            serve_modules(tmp_path, **kwargs)
    out = subprocess.run([HUBFN_EXE, "serve", str(tmp_path), "--port", "0", "--connection-limit", "0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("hubfn: error: Cannot serve with connection limit 0: give at least 1") and \
        "--connection-limit" in out.stderr
