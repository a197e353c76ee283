"""The parallel ranged download (hubfn.fetch.ranged) against a storage host in a process of its own
(tests/storagehost.py: per-connection rate, a delay before each first byte, Range/If-Range/ETag, signed
URLs that expire, x-goog-hash), with real loader processes killed by SIGKILL.

Archives are small (a few MiB of noise) and parts 1 MiB, so the whole file runs in well under a minute.
"""

import collections
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import attrs
import pytest

import servers
from hubfn import errors
from hubfn.fetch import cache
from hubfn.fetch.store import archive
from hubfn.fetch.transport import download, parallel_http
from hubfn.fetch.transport import parallel as ranged
from hubfn.fetch.transport import partmap
from hubfn.settings import Settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = os.path.join(ROOT, "tests", "storagehost.py")
NOISE = "variables/noise.bin"
MiB = 1 << 20


class Host:
    """A tests/storagehost.py process serving `root`."""

    def __init__(self, root, address="127.0.0.1"):
        self.root = root
        self.proc = subprocess.Popen([sys.executable, HOST, root, "--host", address], stdout=subprocess.PIPE,
                                     text=True)
        self.base = self.proc.stdout.readline().strip()

    def control(self, **kw):
        req = urllib.request.Request(self.base + "/__control", data=json.dumps(kw).encode(), method="POST")
        with urllib.request.urlopen(req) as r:
            r.read()

    def log(self):
        with urllib.request.urlopen(self.base + "/__log") as r:
            return json.load(r)

    def reset(self):
        self.control(rate=0, delay=0, wrong_md5=False, ranges=True, etag=True, cut_at=None, storage_origin="",
                     clear_log=True)

    def publish(self, name, data):
        tmp = os.path.join(self.root, f".{name}.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(self.root, name))

    def close(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    h = Host(str(tmp_path_factory.mktemp("storage")))
    yield h
    h.close()


@pytest.fixture(autouse=True)
def env(monkeypatch, host):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,127.0.0.2")
    host.reset()


@pytest.fixture(scope="module")
def archives(fruit_dir):
    """Two versions of one module, 6 MiB of noise each: same size, different bytes."""
    out = []
    for _ in range(2):
        noise = os.urandom(6 * MiB)
        out.append((servers.targz(fruit_dir, extra={NOISE: noise}), noise))
    return out


def settings(tmp_path, connections=4, part_mb=1, **kw):
    s = Settings.make(cache_dir=str(tmp_path / "cache"))
    return attrs.evolve(s, download_connections=connections, download_part_mb=part_mb,
                        retry=attrs.evolve(s.retry, backoff=0.01), **kw)


def fetch(url, tmp_path, s, name="out"):
    stats = {}
    dest = str(tmp_path / name)
    result = cache.unpack_url(url, str(tmp_path / "partial"), dest, s, stats=stats)
    return dest, result, stats


def files_of(root):
    out = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = f.read()
    return out


def object_ranges(log, path):
    """[(first, last)] of the Range requests for `path` (signed or not) in the log, in order."""
    out = []
    for r in log:
        if r["path"] == path and r["range"]:
            first, _, last = r["range"][6:].partition("-")
            out.append((int(first), int(last) if last else None))
    return out


def test_unpacked_result_equals_a_single_connection_fetch(host, archives, tmp_path):
    (body, noise), _ = archives
    host.publish("eq.tar.gz", body)
    host.control(rate=8 * MiB)  # slow enough for every connection to take part
    url = host.base + "/get/eq.tar.gz"
    dest, result, stats = fetch(url, tmp_path, settings(tmp_path), "ranged")
    assert stats["ranged"] and stats["requests"] >= 5 and stats["received"] == len(body)
    log = host.log()
    assert len({r["connection"] for r in log if r["path"] == "/o/eq.tar.gz"}) >= 3, "several connections"
    parts = object_ranges(log, "/o/eq.tar.gz")
    assert all(last is not None for _, last in parts), "every part is a bounded range"
    assert all(r["if_range"] for r in log if r["range"]), "every part is guarded by If-Range"
    single, single_result, single_stats = fetch(url, tmp_path, settings(tmp_path, connections=1), "single")
    assert not single_stats["ranged"]
    assert files_of(dest) == files_of(single) and files_of(dest)[NOISE] == noise
    assert result.hashes == single_result.hashes
    partial = str(tmp_path / "partial")
    assert not os.path.exists(partial) and not os.path.exists(partmap.map_path(partial))


def test_the_first_bytes_do_not_wait_for_every_worker_to_start(host, archives, tmp_path, monkeypatch):
    """Starting a thread waits until it runs: behind busy workers and the GIL that took ~5 ms each, and the
    reader once waited for all 16 before handing on a byte (~0.1 s over loopback). Here every start but the
    first is made 0.15 s slow: with 8 connections the first bytes must not wait the 1 s of the others."""
    (body, noise), _ = archives
    host.publish("start.tar.gz", body)
    host.control(rate=8 * MiB)
    chunks, first_at = ranged.Download.chunks, []

    class SlowToStart(threading.Thread):
        def start(self):
            if self.name == "hubfn-range" and self._args == (None,):  # a worker without the first answer
                time.sleep(0.15)
            super().start()

    def timed_chunks(self):
        for chunk in chunks(self):
            if not first_at:
                first_at.append(time.monotonic())
            yield chunk

    monkeypatch.setattr(threading, "Thread", SlowToStart)
    monkeypatch.setattr(ranged.Download, "chunks", timed_chunks)
    started = time.monotonic()
    dest, _, stats = fetch(host.base + "/get/start.tar.gz", tmp_path, settings(tmp_path, connections=8))
    assert stats["ranged"] and files_of(dest)[NOISE] == noise
    assert first_at[0] - started < 0.5, f"the first bytes came {first_at[0] - started:.2f} s after the start"
    workers = {r["connection"] for r in host.log() if r["path"] == "/o/start.tar.gz"}
    assert len(workers) >= 2, "the workers started late still took parts"


@pytest.mark.parametrize("link", ["slow link", "fast server, slow decoder"])
def test_connections_are_added_only_while_the_bytes_come_slower_than_they_are_used(
        host, archives, tmp_path, monkeypatch, link):
    """From a far host one stream is slow and the download grows to every connection it may use; from a
    server that outruns the decoder, more connections only take the decoder's core (16 at once made a
    loopback fetch from nginx 1.3x slower than one), so it stays at one."""
    (body, noise), _ = archives
    host.publish("grow.tar.gz", body)
    if link == "slow link":
        host.control(rate=2 * MiB)  # 6 MiB: 3 s over one connection
    else:
        chunks = ranged.Download.chunks

        def slow_decoder(self):  # 1 MiB pieces taken at 25 MiB/s: a loopback stream gives far more
            for chunk in chunks(self):
                time.sleep(len(chunk) / (25 * MiB))
                yield chunk

        monkeypatch.setattr(ranged.Download, "chunks", slow_decoder)
    dest, _, stats = fetch(host.base + "/get/grow.tar.gz", tmp_path, settings(tmp_path, connections=4))
    assert stats["ranged"] and files_of(dest)[NOISE] == noise
    # (the first GET's connection is left after the first part: the range requests show the workers)
    served = {r["connection"] for r in host.log() if r["path"] == "/o/grow.tar.gz" and r["range"]}
    if link == "slow link":
        assert stats["connections"] == 4 and len(served) >= 4, (stats, served)
    else:
        assert stats["connections"] == 1 and len(served) == 1, (stats, served)


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is a Linux scheduling policy")
@pytest.mark.parametrize("connections", [4, 1])
def test_the_reader_runs_as_a_batch_thread_and_the_decoder_and_range_workers_as_normal_ones(
        host, archives, tmp_path, monkeypatch, connections):
    # hubfn.util.sched: the thread that hands the archive on (read from the network, or the parallel
    # download's prefix read back from the partial file) must not preempt the decoder; the decoder, the
    # range workers (paced by a far network) and the caller's thread keep the normal policy. Observed from
    # inside each thread.
    (body, _), _ = archives
    host.publish("sched.tar.gz", body)
    host.control(rate=8 * MiB)
    seen = collections.defaultdict(set)

    def observed(name, fn):
        def wrapper(*a, **k):
            seen[name].add(os.sched_getscheduler(0))
            return fn(*a, **k)
        return wrapper

    def observed_gen(name, fn):
        def wrapper(*a, **k):
            seen[name].add(os.sched_getscheduler(0))
            yield from fn(*a, **k)
        return wrapper

    monkeypatch.setattr(ranged.Download, "_fetch", observed("range worker", ranged.Download._fetch))
    monkeypatch.setattr(download.Source, "chunks", observed_gen("reader", download.Source.chunks))
    monkeypatch.setattr(parallel_http.ParallelSource, "chunks",
                        observed_gen("reader", parallel_http.ParallelSource.chunks))
    monkeypatch.setattr(archive, "inflate", observed_gen("decoder", archive.inflate))
    before = os.sched_getscheduler(0)
    _, _, stats = fetch(host.base + "/get/sched.tar.gz", tmp_path, settings(tmp_path, connections=connections))
    assert stats["ranged"] == (connections > 1)
    assert seen["reader"] == {os.SCHED_BATCH}, dict(seen)
    assert seen["decoder"] == {os.SCHED_OTHER}, dict(seen)
    assert seen["range worker"] == ({os.SCHED_OTHER} if connections > 1 else set()), dict(seen)
    assert os.sched_getscheduler(0) == before == os.SCHED_OTHER  # the caller's thread is left as it was


@pytest.mark.parametrize("what", ["no ranges", "no validator", "small archive"])
def test_one_connection_when_ranges_cannot_be_trusted(host, archives, tmp_path, what):
    (body, noise), _ = archives
    host.publish("one.tar.gz", body)
    host.control(ranges=what != "no ranges", etag=what != "no validator")
    s = settings(tmp_path, part_mb=8 if what == "small archive" else 1)
    dest, _, stats = fetch(host.base + "/files/one.tar.gz", tmp_path, s)
    assert not stats["ranged"] and files_of(dest)[NOISE] == noise
    (only,) = [r for r in host.log() if r["path"] == "/files/one.tar.gz"]
    assert only["range"] is None


def test_plan_needs_ranges_a_length_and_a_strong_validator(tmp_path):
    s = settings(tmp_path)
    good = {"Accept-Ranges": "bytes", "Content-Length": str(5 * MiB), "ETag": '"abc"',
            "x-goog-hash": "crc32c=AAAAAA==,md5=" + "A" * 22 + "=="}
    p = partmap.plan(good, s, url="u")
    assert p.total == 5 * MiB and p.validator == '"abc"' and p.md5 == "A" * 22 + "==" and p.connections == 4
    assert [b - a for a, b in p.missing()] == [MiB] * 5
    assert partmap.plan({**good, "ETag": 'W/"abc"'}, s, url="u") is None  # weak: guards no byte range
    lm = {k: v for k, v in good.items() if k != "ETag"}
    dated = partmap.plan({**lm, "Last-Modified": "Tue, 14 Nov 2023 22:13:20 GMT"}, s, url="u")
    assert dated.validator.startswith("Tue")
    assert partmap.plan(lm, s, url="u") is None
    assert partmap.plan({**good, "Accept-Ranges": "none"}, s, url="u") is None
    assert partmap.plan({**good, "Content-Encoding": "gzip"}, s, url="u") is None
    assert partmap.plan({**good, "Content-Length": str(MiB)}, s, url="u") is None  # one part: one connection
    assert partmap.plan(good, settings(tmp_path, connections=1), url="u") is None
    with pytest.raises(errors.HandleError, match="HUBFN_DOWNLOAD_CONNECTIONS"):
        attrs.evolve(s, download_connections=0)
    with pytest.raises(errors.HandleError, match="HUBFN_DOWNLOAD_PART_MB"):
        attrs.evolve(s, download_part_mb=0)


def test_a_part_map_that_does_not_fit_is_discarded(tmp_path):
    partial = str(tmp_path / "partial")
    good = {"version": 1, "url": "u", "final_url": "f", "total": 10, "validator": '"v"', "md5": None,
            "part_size": 4, "connections": 2, "done": [[0, 4], [8, 10]]}
    for data, size, url in ((good, 10, "u"), (good, None, "u"), (good, 9, "u"), (good, 10, "other"),
                            ({**good, "done": [[4, 8], [0, 4]]}, 10, "u"), ({**good, "done": [[0, 11]]}, 10, "u"),
                            ("{not json", 10, "u")):
        partmap.discard(partial)
        with open(partmap.map_path(partial), "w") as f:
            f.write(data if isinstance(data, str) else json.dumps(data))
        if size is not None:
            with open(partial, "wb") as f:
                f.truncate(size)
        plan = partmap.load(partial, url)
        if (data, size, url) == (good, 10, "u"):
            assert plan.done == ((0, 4), (8, 10)) and plan.missing() == [(4, 8)]
        else:
            assert plan is None and not os.path.exists(partmap.map_path(partial)) and not os.path.exists(partial)


def wait_for_map(partial, at_least, seconds=20):
    """The part map's done ranges once they hold at least `at_least` bytes."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            with open(partmap.map_path(partial)) as f:
                done = json.load(f)["done"]
            if sum(e - s for s, e in done) >= at_least:
                return done
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    pytest.fail("the part map never showed the bytes expected")


def test_republished_mid_download_starts_over_never_splices(host, archives, tmp_path, caplog):
    (old, old_noise), (new, new_noise) = archives
    host.publish("rep.tar.gz", old)
    # 6 MiB a version at 4 x 1 MiB/s: the part map shows 2 MiB after about 0.5 s (it is written every
    # 0.5 s), so the new version is published with about a second of the old one left (at 3 MiB/s that
    # was under 0.2 s, and a busy machine let the old version finish first).
    host.control(rate=MiB)
    url = host.base + "/get/rep.tar.gz"
    out = {}
    t = threading.Thread(target=lambda: out.update(zip(("dest", "result", "stats"),
                                                       fetch(url, tmp_path, settings(tmp_path)))))
    with caplog.at_level(logging.WARNING, logger="hubfn"):
        t.start()
        wait_for_map(str(tmp_path / "partial"), 2 * MiB)
        host.publish("rep.tar.gz", new)
        t.join(60)
    got = files_of(out["dest"])[NOISE]
    assert got != old_noise, "the test published the new version too late: the old one was already whole"
    assert got == new_noise, "the new version, not old bytes + new bytes"
    assert "changed during the download" in caplog.text
    whole = [r for r in host.log() if r["path"] == "/o/rep.tar.gz" and r["range"] is None]
    assert len(whole) == 2, "begun again from byte 0 once"


def test_md5_mismatch_keeps_nothing(host, archives, tmp_path):
    (body, _), _ = archives
    host.publish("md5.tar.gz", body)
    host.control(wrong_md5=True)
    partial = str(tmp_path / "partial")
    with pytest.raises(errors.ArchiveError, match="MD5"):
        fetch(host.base + "/get/md5.tar.gz", tmp_path, settings(tmp_path))
    assert not os.path.exists(partial) and not os.path.exists(partmap.map_path(partial))
    assert not os.path.exists(tmp_path / "out")


def test_expired_signed_url_is_followed_again_once_for_all_parts(host, archives, tmp_path):
    (body, noise), _ = archives
    host.publish("exp.tar.gz", body)
    host.control(rate=3 * MiB)
    url = host.base + "/get/exp.tar.gz"
    out = {}
    s = settings(tmp_path, connections=2)  # parts asked for in rounds: some after the revocation
    t = threading.Thread(target=lambda: out.update(zip(("dest", "result", "stats"), fetch(url, tmp_path, s))))
    t.start()
    wait_for_map(str(tmp_path / "partial"), MiB)
    host.control(revoke=True)  # every signed URL issued so far now answers 400 ExpiredToken
    t.join(60)
    assert files_of(out["dest"])[NOISE] == noise
    assert out["stats"]["refollows"] == 1
    assert len([r for r in host.log() if r["path"] == "/get/exp.tar.gz"]) == 2  # the first, and one re-follow


def test_a_dropped_part_is_resumed_alone(host, archives, tmp_path):
    (body, noise), _ = archives
    host.publish("cut.tar.gz", body)
    host.control(cut_at=300_000)  # the first ranged answer breaks after 300000 bytes
    dest, _, stats = fetch(host.base + "/files/cut.tar.gz", tmp_path, settings(tmp_path))
    assert files_of(dest)[NOISE] == noise
    parts = object_ranges(host.log(), "/files/cut.tar.gz")
    (resumed,) = [(a, b) for a, b in parts if a % MiB == 300_000]  # resumed where it broke
    assert (resumed[0] - 300_000, resumed[0] - 300_000 + MiB - 1) in parts
    assert stats["received"] == len(body), "nothing fetched twice"
    assert len(parts) <= 1 + 8 + 4, "the other parts were not asked again"  # parts, the resume, idle halves


def test_tokens_stay_on_their_own_host(tmp_path, archives):
    (body, noise), _ = archives
    os.makedirs(tmp_path / "hub")
    hub, storage = Host(str(tmp_path / "hub")), None
    try:
        storage_root = tmp_path / "storage"
        storage_root.mkdir()
        storage = Host(str(storage_root), "127.0.0.2")
        storage.publish("tok.tar.gz", body)
        hub.control(storage_origin=storage.base)
        s = attrs.evolve(Settings.make(settings(tmp_path), token={hub.base.split("//")[1]: "s3cret"}),
                         token_over_http=True)
        dest, _, stats = fetch(hub.base + "/get/tok.tar.gz", tmp_path, s)
        assert stats["ranged"] and files_of(dest)[NOISE] == noise
        assert [r["authorization"] for r in hub.log()] == [True]
        assert not any(r["authorization"] for r in storage.log()) and len(storage.log()) >= 5
    finally:
        hub.close()
        if storage:
            storage.close()


CHILD = r"""
import sys, attrs
from hubfn.fetch import cache
from hubfn.settings import Settings
s = attrs.evolve(Settings.make(), download_connections=2, download_part_mb=1)
cache.unpack_url(sys.argv[1], sys.argv[2], sys.argv[3], s)
print("finished", flush=True)
"""


def test_killed_download_resumes_only_the_missing_parts(host, archives, tmp_path):
    (body, noise), _ = archives
    host.publish("kill.tar.gz", body)
    host.control(rate=MiB)  # 2 connections: about 3.5 s for the whole archive
    url = host.base + "/get/kill.tar.gz"
    partial = str(tmp_path / "partial")
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, partial, str(tmp_path / "child")], cwd=ROOT,
                             env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_map(partial, 2 * MiB)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
    with open(partmap.map_path(partial)) as f:
        done = [tuple(s) for s in json.load(f)["done"]]
    missing, at = [], 0
    for s, e in done + [(len(body), len(body))]:
        if s > at:
            missing.append((at, s))
        at = e
    assert missing and sum(e - s for s, e in done) >= 2 * MiB
    host.control(rate=0, clear_log=True)
    dest, _, stats = fetch(url, tmp_path, settings(tmp_path, connections=2))
    assert files_of(dest)[NOISE] == noise
    assert stats["kept"] == sum(e - s for s, e in done) and stats["received"] == len(body) - stats["kept"]
    log = host.log()
    assert all(r["range"] for r in log), "no first request: the part map said where to resume"
    asked = [(a, b + 1) for a, b in object_ranges(log, "/o/kill.tar.gz")]
    assert all(any(s <= a and b <= e for s, e in missing) for a, b in asked), (asked, missing)
    assert partmap.merged(asked) == missing, "every missing byte asked for, and only those"


HUB_CHILD = r"""
import sys
import hubfn
hubfn.hub_resolve(sys.argv[1], cache_dir=sys.argv[2])
print("finished", flush=True)
"""


def test_hub_resolve_downloads_in_parallel_and_a_killed_load_resumes_the_parts(host, archives, tmp_path,
                                                                              monkeypatch):
    # The production path: hub_resolve, its lock and cache entry, and the part map beside the entry's
    # partial file (<sha1>.hubfn-partial.parts.json), killed mid-way in one process and resumed by the next.
    import hubfn
    from hubfn.fetch.store.layout import Paths

    (body, noise), _ = archives
    host.publish("hub.tar.gz", body)
    host.control(rate=MiB)
    monkeypatch.setenv("HUBFN_DOWNLOAD_CONNECTIONS", "2")
    monkeypatch.setenv("HUBFN_DOWNLOAD_PART_MB", "1")
    url = host.base + "/get/hub.tar.gz"
    cache = tmp_path / "cache"
    paths = Paths.for_handle(url, str(cache))
    child = subprocess.Popen([sys.executable, "-c", HUB_CHILD, url, str(cache)], cwd=ROOT,
                             env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_map(paths.partial, 2 * MiB)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL and os.path.exists(paths.partial_parts)
    with open(paths.partial_parts) as f:
        done = json.load(f)["done"]
    kept = sum(e - s for s, e in done)
    assert kept >= 2 * MiB, "the map records the whole parts written before the kill"
    host.control(rate=0, clear_log=True)
    path = hubfn.hub_resolve(url, cache_dir=cache)
    with open(os.path.join(path, NOISE), "rb") as f:
        assert f.read() == noise
    log = host.log()
    assert all(r["range"] for r in log), "resumed from the part map: no request for the whole archive"
    # Ranges asked for (a part whose back half another connection took over stops where that half begins,
    # so asked ranges may overlap; the bytes do not): together exactly the bytes the map said were missing.
    asked = [(a, b + 1) for a, b in object_ranges(log, "/o/hub.tar.gz")]
    missing, at = [], 0
    for first, end in [tuple(d) for d in done] + [(len(body), len(body))]:
        if first > at:
            missing.append((at, first))
        at = end
    assert partmap.merged(asked) == missing, "every missing byte asked for, and only those"
    assert not [p for p in os.listdir(cache) if ".hubfn-partial" in p], "no partial file or part map left"
    hubfn.hub_resolve(url, cache_dir=cache, offline=True)  # the entry is whole and checked
    assert hubfn.cache_remove(url, cache_dir=cache)
