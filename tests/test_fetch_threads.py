"""The stages of a fetch in threads (hubfn.fetch.store.prefetch): download -> gunzip -> tar/writes.

Errors of any stage reach the caller as they are, and a stage that ends early stops the stages before
it at once, leaving no thread behind (nothing here is timed: the joins only bound a hang).
"""

import io
import os
import tarfile
import threading
import time

import pytest
from isal import igzip

from hubfn import errors
from hubfn.fetch.store import extract, prefetch
from hubfn.settings import Settings

URL = "http://127.0.0.1/threads.tar.gz"


def tar_gz(members):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return igzip.compress(raw.getvalue(), 1)


def stalled_after(data, release):
    """The bytes in 1 KiB pieces, then a network that sends nothing until `release` is set."""
    for i in range(0, len(data), 1024):
        yield data[i:i + 1024]
    release.wait(30)


def no_stage_threads_left():
    for t in threading.enumerate():
        if t.name in ("hubfn-download", "hubfn-gunzip"):
            t.join(10)
    return not [t for t in threading.enumerate() if t.name in ("hubfn-download", "hubfn-gunzip")]


def test_a_producer_error_is_raised_in_the_consumer():
    def items():
        yield b"a"
        raise errors.FetchError("the network went away")

    got = prefetch.Prefetched(items())
    assert next(got) == b"a"
    with pytest.raises(errors.FetchError, match="went away"):
        next(got)
    got.close()


def test_closing_a_feed_whose_end_was_taken_leaves_its_source_usable():
    """Issue 28: a download whose server cannot resume ends its attempt with download.Restart, and
    hubfn.fetch.cache begins the next attempt with the same Source. Closing the finished feed while its
    thread is still closing the source must not stop that source: its next attempt would then end at its
    first byte with a bare download.Stopped instead of a download or a clear error."""
    from hubfn.fetch.transport import download

    stopped = []

    class Attempt:  # one byte, then "the server cannot continue"; slow to close, as a socket can be
        def __init__(self):
            self.sent = False

        def __iter__(self):
            return self

        def __next__(self):
            if self.sent:
                raise download.Restart()
            self.sent = True
            return b"x"

        def close(self):
            time.sleep(0.5)

    feed = prefetch.Prefetched(Attempt(), on_stop=lambda: stopped.append(True))
    assert next(feed) == b"x"
    with pytest.raises(download.Restart):
        next(feed)
    feed.close()
    assert stopped == []
    # A consumer that gives up before the end still stops the producer.
    feed = prefetch.Prefetched(Attempt(), on_stop=lambda: stopped.append(True))
    assert next(feed) == b"x"
    feed.close()
    assert stopped == [True]


def test_stop_from_another_thread_wakes_a_waiting_consumer():
    release = threading.Event()
    stopped = []
    feed = prefetch.Prefetched(stalled_after(b"", release), on_stop=lambda: stopped.append(True))
    threading.Timer(0.2, feed.stop).start()
    with pytest.raises(prefetch.Cancelled):
        next(feed)
    release.set()
    feed.close()
    assert stopped == [True]


def test_an_unsafe_member_stops_the_decoder_and_a_stalled_download(tmp_path):
    """The tar reader refuses a member while the network has gone quiet: the error comes at once, and
    both stage threads end (the download's on_stop was called), without waiting for the network."""
    body = tar_gz([("saved_model.pb", os.urandom(4096)), ("../escape", os.urandom(4096)),
                   ("variables/more", os.urandom(65536))])
    release, stopped = threading.Event(), []
    feed = prefetch.Prefetched(stalled_after(body[:-8], release), on_stop=lambda: stopped.append(True),
                               name="hubfn-download")
    try:
        with pytest.raises(errors.ArchiveError, match="'..' component"):
            extract.extract(feed, str(tmp_path), URL, Settings.from_env(), on_stop=feed.stop)
        assert stopped == [True]
        assert not os.path.exists(tmp_path.parent / "escape")
    finally:
        release.set()
        feed.close()
    assert no_stage_threads_left()


@pytest.mark.parametrize("damage", ["crc", "cut"])
def test_gzip_damage_found_in_the_decoder_thread_reaches_the_caller(tmp_path, damage):
    body = bytearray(tar_gz([("saved_model.pb", os.urandom(300_000))]))
    if damage == "crc":
        body[-8] ^= 1
    else:
        body = body[:-8]
    with pytest.raises(errors.ArchiveError, match="corrupt" if damage == "crc" else "truncated"):
        extract.extract([bytes(body[i:i + 65536]) for i in range(0, len(body), 65536)], str(tmp_path), URL,
                        Settings.from_env())
    assert no_stage_threads_left()


def test_a_whole_archive_comes_out_exactly(tmp_path):
    data = os.urandom(3 << 20)
    body = tar_gz([("saved_model.pb", b"pb"), ("variables/variables.data-00000-of-00001", data)])
    feed = prefetch.Prefetched(iter([body[i:i + 100_000] for i in range(0, len(body), 100_000)]))
    result = extract.extract(feed, str(tmp_path), URL, Settings.from_env(), on_stop=feed.stop)
    feed.close()
    with open(tmp_path / "variables" / "variables.data-00000-of-00001", "rb") as f:
        assert f.read() == data
    assert result.files["variables/variables.data-00000-of-00001"] == len(data)
    assert no_stage_threads_left()


def test_a_finished_partial_file_is_gone_at_once_and_freed_in_a_thread(tmp_path, monkeypatch):
    # hubfn.util.fs.remove_in_background: the name goes before the call returns; the descriptor that
    # keeps the data alive is closed by a non-daemon thread (the interpreter waits for it at exit), so
    # the caller never waits for the kernel to free the pages. Here that close is held up until released.
    from hubfn.util import fs

    real_close, release, closing, policies = os.close, threading.Event(), [], []

    def held_close(fd):
        if threading.current_thread().name == "hubfn-free-partial":
            closing.append(threading.current_thread())
            policies.append(os.sched_getscheduler(0) if hasattr(os, "SCHED_BATCH") else None)
            release.wait(10)
        real_close(fd)

    monkeypatch.setattr(os, "close", held_close)
    partial = tmp_path / "abc.hubfn-partial"
    partial.write_bytes(os.urandom(1 << 20))
    try:
        fs.remove_in_background(str(partial))
        assert not partial.exists() and os.listdir(tmp_path) == []  # returned while the close is held
        deadline = time.monotonic() + 10
        while not closing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert closing and not closing[0].daemon
        assert policies == [getattr(os, "SCHED_BATCH", None)]  # freeing pages must not preempt a decoder
    finally:
        release.set()
    closing[0].join(10)
    held = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
            if os.path.exists(f"/proc/self/fd/{fd}")]
    assert not [p for p in held if "abc.hubfn-partial" in p], held
    fs.remove_in_background(str(partial))  # already gone: nothing to do, no error


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="SCHED_BATCH is a Linux scheduling policy")
def test_a_batch_stage_runs_as_a_batch_thread_and_leaves_the_others_alone():
    seen = {}

    def items(key):
        seen[key] = os.sched_getscheduler(0)
        yield b"x"

    assert list(prefetch.Prefetched(items("batch"), batch=True)) == [b"x"]
    assert list(prefetch.Prefetched(items("normal"))) == [b"x"]
    assert seen == {"batch": os.SCHED_BATCH, "normal": os.SCHED_OTHER}
    assert os.sched_getscheduler(0) == os.SCHED_OTHER
    assert no_stage_threads_left()
