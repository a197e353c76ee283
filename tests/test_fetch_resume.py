"""Resuming cannot splice two versions of an archive, and a download kept whole is used without a request.

Real servers on 127.0.0.1 (tests/servers.py), one of them ignoring If-Range while its archive changes,
and real loader processes killed with SIGKILL.
"""

import http.server
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import hubfn
import servers
from publish_helpers import start_process, stop_process
from hubfn import errors
from hubfn.fetch.store.layout import Paths

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOISE = "assets/noise.bin"


@pytest.fixture(scope="module")
def versions(fruit_dir):
    """Two archives of one module, same size, different noise: only the validator tells them apart."""
    a, b = os.urandom(2 << 20), os.urandom(2 << 20)
    return {compress: [(servers.targz(fruit_dir, extra={NOISE: n}, compress=compress), n) for n in (a, b)]
            for compress in (True, False)}


@pytest.fixture(autouse=True)
def env(monkeypatch, cache_dir):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HUBFN_BACKOFF", "0.01")


def keep_a_partial(server, path, body, monkeypatch):
    """A first attempt that stalls at byte 100000 and gives up, keeping its bytes."""
    monkeypatch.setenv("HUBFN_READ_TIMEOUT", "0.3")
    monkeypatch.setenv("HUBFN_RETRIES", "0")
    url = server.add(path, body=body, stall_at=100_000, stall_secs=2, faults=99)
    with pytest.raises(errors.FetchError, match="stopped at byte 100000"):
        hubfn.hub_resolve(url)
    monkeypatch.delenv("HUBFN_READ_TIMEOUT")
    monkeypatch.delenv("HUBFN_RETRIES")
    return url


def noise_of(entry):
    with open(os.path.join(entry, NOISE), "rb") as f:
        return f.read()


@pytest.mark.parametrize("compress", [True, False], ids=["tar.gz", "tar"])
def test_changed_archive_behind_a_server_ignoring_if_range_is_not_spliced(server, versions, monkeypatch,
                                                                          compress, caplog):
    (old, _), (new, new_noise) = versions[compress]
    path = f"/splice/m.{'tar.gz' if compress else 'tar'}"
    url = keep_a_partial(server, path, old, monkeypatch)
    server.add(path, body=new, if_range=False, faults=0)  # republished; If-Range ignored
    server.clear()
    with caplog.at_level(logging.WARNING, logger="hubfn"):
        entry = hubfn.hub_resolve(url)
    assert noise_of(entry) == new_noise, "the entry is the new version, not old bytes + new bytes"
    resumed, fresh = server.gets(path)
    assert resumed.headers["Range"] == "bytes=100000-" and resumed.headers["If-Range"].startswith('"')
    assert "Range" not in fresh.headers
    assert "changed since the partial download" in caplog.text
    assert hubfn.cache_verify(url, deep=True)[0].verified


def test_200_to_a_range_request_starts_over(server, versions, monkeypatch):
    (old, _), (new, new_noise) = versions[True]
    url = keep_a_partial(server, "/splice/norange.tar.gz", old, monkeypatch)
    server.add("/splice/norange.tar.gz", body=new, ranges=False, faults=0)
    server.clear()
    assert noise_of(hubfn.hub_resolve(url)) == new_noise
    (only,) = server.gets("/splice/norange.tar.gz")
    assert only.headers["Range"] == "bytes=100000-"  # answered 200: the whole new archive, used as such


LOADER = r"""
import sys, hubfn
print("ready", flush=True)
print(hubfn.hub_resolve(sys.argv[1]), flush=True)
"""


@pytest.fixture(scope="module")
def slow_to_extract(fruit_dir):
    """Small on the wire, 160 MiB unpacked: the download ends long before the extraction does."""
    return servers.targz(fruit_dir, extra={"variables/zeros.bin": bytes(160 << 20)})


def kill_while_extracting(server, path, body, cache_dir):
    """Run a loader and SIGKILL it once the whole archive is on disk and the extraction has begun."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    for attempt in range(3):
        url = server.add(f"{path}{attempt}.tar.gz", body=body)
        paths = Paths.for_handle(url, root=str(cache_dir))
        proc = subprocess.Popen([sys.executable, "-c", LOADER, url], env=env, cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if os.path.exists(paths.partial) and os.path.getsize(paths.partial) == len(body) \
                    and paths.tmp_dirs():
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.002)
        proc.wait()
        if proc.returncode == -signal.SIGKILL and not os.path.exists(paths.entry):
            return url, paths
    pytest.fail("the extraction always finished before the kill")


def test_whole_partial_is_installed_without_a_request(server, slow_to_extract, cache_dir, caplog):
    url, paths = kill_while_extracting(server, "/whole/a", slow_to_extract, cache_dir)
    path = url.split("127.0.0.1:")[1].split("/", 1)[1]
    server.clear()
    with caplog.at_level(logging.INFO, logger="hubfn"):
        entry = hubfn.hub_resolve(url)
    assert server.gets("/" + path) == [], "no request: the kept archive was whole"
    assert "kept from an earlier attempt" in caplog.text
    assert os.path.getsize(os.path.join(entry, "variables", "zeros.bin")) == 160 << 20
    assert not os.path.exists(paths.partial) and paths.tmp_dirs() == []


def test_damaged_whole_partial_is_fetched_again(server, slow_to_extract, cache_dir):
    url, paths = kill_while_extracting(server, "/whole/b", slow_to_extract, cache_dir)
    with open(paths.partial, "r+b") as f:  # the kept bytes rot on disk
        f.seek(len(slow_to_extract) // 2)
        f.write(b"\xffrot\xff")
    path = "/" + url.split("127.0.0.1:")[1].split("/", 1)[1]
    server.clear()
    entry = hubfn.hub_resolve(url)
    (fresh,) = server.gets(path)
    assert "Range" not in fresh.headers
    assert hubfn.cache_verify(url, deep=True)[0].verified and os.path.isdir(entry)


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers request i with ANSWERS[i] = (start, stop, status): body[start:stop] then a close when short."""

    protocol_version = "HTTP/1.1"
    body = b""
    answers = []
    seen = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.seen.append(dict(self.headers))
        start, stop, status = self.answers[min(len(self.seen), len(self.answers)) - 1]
        n = len(self.body)
        self.send_response(status)
        self.send_header("Content-Length", str(n - start))
        self.send_header("ETag", '"v1"')
        self.send_header("Accept-Ranges", "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{n - 1}/{n}")
        self.end_headers()
        self.wfile.write(self.body[start:stop])
        if stop < n:
            self.close_connection = True


def test_clean_download_after_a_restart_is_not_blamed_on_kept_bytes(fruit_dir, monkeypatch, caplog):
    """A resume that must start over (Restart) leaves no kept bytes in the archive that follows: when that
    archive is bad, it is reported at once, not retried as one "made with bytes kept earlier"."""
    body = servers.crafted([{"name": "notes.bin", "data": os.urandom(300_000)}])  # no saved_model.pb
    n = len(body)
    handler = type("Handler", (_Scripted,), {"body": body, "seen": [], "answers": [
        (0, 100_000, 200),  # the first attempt is cut: its 100000 bytes are kept
        (100_000, 150_000, 206),  # the resume is cut again
        (0, n, 200),  # the re-opened range is answered from byte 0: start over
        (0, n, 200)]})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/m.tar.gz"
    try:
        monkeypatch.setenv("HUBFN_RETRIES", "0")
        with pytest.raises(errors.FetchError, match="stopped at byte 100000"):
            hubfn.hub_resolve(url)
        monkeypatch.setenv("HUBFN_RETRIES", "2")
        with caplog.at_level(logging.WARNING, logger="hubfn"), pytest.raises(errors.NotAModuleError):
            hubfn.hub_resolve(url)
    finally:
        httpd.shutdown()
        httpd.server_close()
    seen = handler.seen
    assert [h.get("Range") for h in seen] == [None, "bytes=100000-", "bytes=150000-", None]
    assert "bytes kept from an earlier attempt" not in caplog.text


@pytest.mark.parametrize("ranges", [True, False], ids=["takes-ranges", "no-ranges"])
def test_bytes_are_kept_only_for_a_server_that_can_continue_them(server, versions, monkeypatch, cache_dir, ranges):
    """A stalled download keeps its bytes for a server that takes Range requests. From one that does not
    (an ETag, but no Accept-Ranges and Range ignored) no later attempt could use them: none are written,
    and the error says the next attempt starts over."""
    (body, noise), _ = versions[True]
    monkeypatch.setenv("HUBFN_READ_TIMEOUT", "0.3")
    monkeypatch.setenv("HUBFN_RETRIES", "0")
    path = f"/keep/{'ranges' if ranges else 'none'}.tar.gz"
    url = server.add(path, body=body, ranges=ranges, stall_at=100_000, stall_secs=2, faults=99)
    with pytest.raises(errors.FetchError, match="stopped at byte 100000") as e:
        hubfn.hub_resolve(url)
    paths = Paths.for_handle(url, root=str(cache_dir))
    if ranges:
        assert "the bytes so far are kept and the next attempt continues from them" in str(e.value)
        assert os.path.getsize(paths.partial) == 100_000 and os.path.exists(paths.partial_info)
    else:
        assert "does not take Range requests, so the next attempt starts over" in str(e.value)
        assert not os.path.exists(paths.partial) and not os.path.exists(paths.partial_info)
    monkeypatch.delenv("HUBFN_READ_TIMEOUT")
    monkeypatch.delenv("HUBFN_RETRIES")
    server.add(path, body=body, ranges=ranges, faults=0)
    server.clear()
    assert noise_of(hubfn.hub_resolve(url)) == noise
    (only,) = server.gets(path)
    assert ("Range" in only.headers) == ranges


def test_a_plain_static_server_gets_no_partial_file(slow_to_extract, tmp_path, cache_dir):
    """Python's http.server (Last-Modified, no ranges) in its own process: the cache never holds a partial
    file while the archive streams in and unpacks (160 MiB: long enough to watch), since nothing could resume
    from it; the module arrives whole."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "m.tar.gz").write_bytes(slow_to_extract)
    proc, m = start_process([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
                             str(site)], r"port (\d+)")
    seen, done = set(), threading.Event()

    def watch():  # every name the cache directory shows while the download runs
        while not done.is_set():
            if os.path.isdir(cache_dir):  # (made by the fetch)
                seen.update(os.listdir(cache_dir))
            time.sleep(0.0005)

    try:
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            entry = hubfn.hub_resolve(f"http://127.0.0.1:{m.group(1)}/m.tar.gz")
        finally:
            done.set()
            watcher.join()
    finally:
        stop_process(proc)
    assert os.path.getsize(os.path.join(entry, "variables", "zeros.bin")) == 160 << 20
    assert any(".hubfn-tmp-" in name for name in seen), "the watcher saw the download under way"
    assert not [name for name in seen if ".hubfn-partial" in name], seen
