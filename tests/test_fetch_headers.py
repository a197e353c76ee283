"""Damaged tar headers served by a real server: a clear ArchiveError naming the member, in bounded time,
with the partial download discarded and the entry's lock released (the next good download works)."""

import contextlib
import os
import signal

import pytest

import hubfn
import tarcraft
from hubfn import errors


@pytest.fixture(scope="module")
def fruit_tar(fruit_dir):
    return tarcraft.module_tar(fruit_dir)


@pytest.fixture(autouse=True)
def env(monkeypatch, cache_dir):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HUBFN_BACKOFF", "0.01")


@contextlib.contextmanager
def within(seconds):
    def fail(*_):
        raise AssertionError(f"did not finish within {seconds} s")

    old = signal.signal(signal.SIGALRM, fail)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def member_offset(tar, name):
    for offset, type_ in tarcraft.headers(tar):
        if type_ != b"x" and tar[offset:offset + 100].rstrip(b"\0") == name:
            return offset
    raise AssertionError(name)


def pax_offset(tar):
    return next(o for o, t in tarcraft.headers(tar) if t == b"x")


def damaged_then_fixed(server, cache_dir, path, bad, good, match):
    url = server.add(path, body=bad)
    with within(10), pytest.raises(errors.ArchiveError, match=match) as e:
        hubfn.hub_resolve(url)
    assert url in str(e.value)
    assert os.listdir(cache_dir) == [], "no entry, no partial download, no lock file left"
    server.add(path, body=good)  # the same URL, now good: nothing of the bad download is replayed
    server.clear()
    entry = hubfn.hub_resolve(url)
    assert os.path.isfile(os.path.join(entry, "saved_model.pb"))
    assert "Range" not in server.gets(path)[0].headers
    return str(e.value)


@pytest.mark.parametrize("value", [b"-1", b"-0000001", b"\xff" * 12, b"0o17", b"1_0", b"12x"])
@pytest.mark.parametrize("compress", [True, False])
def test_bad_size_field(server, cache_dir, fruit_tar, value, compress):
    """The size field -1 once made the reader spin forever, holding the entry's lock."""
    bad = tarcraft.set_field(fruit_tar, member_offset(fruit_tar, b"saved_model.pb"), "size", value)
    pack = tarcraft.gz if compress else (lambda t: t)
    msg = damaged_then_fixed(server, cache_dir, f"/size/{value.hex()}{compress}.tar.gz", pack(bad),
                             pack(fruit_tar), "tar member 'saved_model.pb' is damaged: its size field")
    assert "negative" in msg or "not an octal number" in msg


@pytest.mark.parametrize("record,problem", [
    (b"path", "its pax path holds a NUL byte"),
    (b"size", "its pax size b'12ab' is not a decimal number"),
    (b"size-1", "its pax size b'-1' is not a decimal number"),
    (b"mtime", "its pax mtime b'yesterday' is not a time"),
    (b"utf8", "its pax path is not UTF-8"),
    (b"long", "its pax path is overlong"),
    (b"zero", "has a wrong length 0"),
])
def test_bad_pax_header(server, cache_dir, fruit_tar, record, problem):
    records = {b"path": tarcraft.pax_record(b"path", b"assets/a\0b"),
               b"size": tarcraft.pax_record(b"size", b"12ab"),
               b"size-1": tarcraft.pax_record(b"size", b"-1"),
               b"mtime": tarcraft.pax_record(b"mtime", b"yesterday"),
               b"utf8": tarcraft.pax_record(b"path", b"assets/\xff\xfe"),
               b"long": tarcraft.pax_record(b"path", b"assets/" + b"n" * 300),
               b"zero": b"0 path=x\n"}[record]
    bad = tarcraft.gz(tarcraft.replace_data(fruit_tar, pax_offset(fruit_tar), records))
    msg = damaged_then_fixed(server, cache_dir, f"/pax/{record.decode()}.tar.gz", bad, tarcraft.gz(fruit_tar),
                             "tar member .* is damaged")
    assert problem in msg


def test_non_utf8_and_nul_in_ustar_names(server, cache_dir, fruit_tar):
    offset = member_offset(fruit_tar, b"saved_model.pb")
    bad = tarcraft.gz(tarcraft.set_field(fruit_tar, offset, "name", b"saved_\xff.pb"))
    msg = damaged_then_fixed(server, cache_dir, "/names/latin.tar.gz", bad, tarcraft.gz(fruit_tar), "not UTF-8")
    assert "saved_\\ufffd.pb" in msg or "saved_�.pb" in msg  # named, with the bad byte shown as such


def test_huge_directory_data_is_skipped_without_holding_it(server, cache_dir, fruit_tar, monkeypatch):
    """A directory claiming 8 GiB of data: the reader skips (never buffers) it, then finds the cut."""
    offset = next(o for o, t in tarcraft.headers(fruit_tar) if t == b"5")
    bad = tarcraft.set_field(fruit_tar, offset, "size", b"%011o" % (8 << 30))
    url = server.add("/dirdata.tar.gz", body=tarcraft.gz(bad))
    with within(20), pytest.raises(errors.ArchiveError, match="truncated"):
        hubfn.hub_resolve(url)
    assert os.listdir(cache_dir) == []
