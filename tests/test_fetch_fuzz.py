"""Fuzzing the archive reader with mutated copies of a real module archive.

Every case is extracted by hubfn's own extractor (the code every download runs through) into a fresh
directory inside a sandbox. The outcome must be a hubfn ArchiveError, or an entry that is exactly what
the extractor reports (every file with its size and content hash, nothing else), never another
exception, never a hang (each case runs under a 5 s alarm), never a file outside the sandbox.
The cases are drawn from a seeded generator, so a failure names a case that can be replayed.
"""

import os
import random
import shutil
import signal
import stat
import time

import pytest

import tarcraft
import hubfn
from hubfn import errors
from hubfn.fetch.store import digest, extract
from hubfn.settings import Settings

CASES = 4000
URL = "http://127.0.0.1/fuzz.tar.gz"
NUMERIC_VALUES = [b"-1", b"-0000001", b"+0000017", b"0o17", b"1_0", b"8", b"77777777777", b"99999999999",
                  b" ", b"", b"\xff" * 12, b"\x80" + bytes(10) + b"\x01", b"\x80" + b"\xff" * 11,
                  b"7" * 12, b"0000000010\x00x", b"  12  ", b"1 2", b"\x00\x00\x0012", b"0x10",
                  b"\xff\xff\xff\xff\xff\xff\xff\xfe", b"00000001000", b"00000000001"]
NAME_VALUES = [b"a\0b", b"\xff\xfe.pb", b"x" * 100, b"../x", b"/etc/passwd", b"a/../../x", b"", b".",
               b"./", b"variables", b"variables/", b"saved_model.pb", b"\xc3\x28", b"dir/" + b"y" * 96]
PAX_RECORDS = [(b"size", b"-1"), (b"size", b"abc"), (b"size", b"1e3"), (b"size", b"99999999999999999999"),
               (b"size", b""), (b"size", b"0"), (b"path", b"a\0b"), (b"path", b"\xff\xfe"),
               (b"path", b"../../x"), (b"path", b"/abs"), (b"path", b"p" * 300), (b"path", b"q/" * 2100),
               (b"path", b""), (b"linkpath", b"/etc"), (b"mtime", b"abc"), (b"mtime", b"-1.5"),
               (b"mtime", b"1.2.3"), (b"GNU.sparse.size", b"1"), (b"uid", b"-3"), (b"hdrcharset", b"BINARY")]
RAW_PAX = [b"0 path=x\n", b"5 path=abc\n", b"999 path=x\n", b"11 path=abc", b"-4 size=1\n", b"x path=a\n",
           b"12 noequals\n", b"path=a\n", b"10\n", b" " * 40, b"13 =nokey12\n", b"7 \xff=\xfe\n"]


@pytest.fixture(scope="module")
def base_tar(fruit_dir):
    return tarcraft.module_tar(fruit_dir)


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def mutate(rng, tar):
    """One mutated archive (bytes) and a short description of the mutation."""
    heads = tarcraft.headers(tar)
    offset, _type = rng.choice(heads)
    pax = [o for o, t in heads if t == b"x"]
    kind = rng.randrange(9)
    if kind == 0:
        field = rng.choice(["mode", "uid", "gid", "size", "mtime", "devmajor", "devminor", "chksum"])
        value = rng.choice(NUMERIC_VALUES)
        return tarcraft.set_field(tar, offset, field, value, fix=field != "chksum"), f"{field}={value!r}@{offset}"
    if kind == 1:
        field = rng.choice(["name", "linkname", "prefix"])
        value = rng.choice(NAME_VALUES)
        return tarcraft.set_field(tar, offset, field, value), f"{field}={value!r}@{offset}"
    if kind == 2:
        value = bytes([rng.randrange(256)])
        return tarcraft.set_field(tar, offset, "type", value), f"type={value!r}@{offset}"
    if kind == 3 and pax:
        records = [tarcraft.pax_record(k, v) for k, v in rng.sample(PAX_RECORDS, rng.randint(1, 3))]
        if rng.random() < 0.3:
            records.insert(rng.randrange(len(records) + 1), rng.choice(RAW_PAX))
        return tarcraft.replace_data(tar, rng.choice(pax), b"".join(records)), f"pax {records!r}"
    if kind == 4:  # flip bytes inside one header, checksum fixed: the fields are parsed
        block = bytearray(tar[offset:offset + 512])
        for _ in range(rng.randint(1, 6)):
            block[rng.randrange(512)] = rng.randrange(256)
        out = tar[:offset] + tarcraft.with_checksum(bytes(block)) + tar[offset + 512:]
        return out, f"header bytes @{offset}"
    if kind == 5:  # flip bytes anywhere, no checksum fix
        out = bytearray(tar)
        for _ in range(rng.randint(1, 8)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out), "random bytes"
    if kind == 6:
        cut = rng.randrange(len(tar))
        return tar[:cut], f"cut at {cut}"
    if kind == 7:  # move blocks around: drop, repeat or swap 512-byte blocks
        n = len(tar) // 512
        i, j = rng.randrange(n), rng.randrange(n)
        blocks = [tar[k * 512:(k + 1) * 512] for k in range(n)]
        op = rng.choice(["drop", "repeat", "swap"])
        if op == "drop":
            del blocks[i]
        elif op == "repeat":
            blocks.insert(i, blocks[j])
        else:
            blocks[i], blocks[j] = blocks[j], blocks[i]
        return b"".join(blocks), f"{op} blocks {i},{j}"
    data = bytearray(tarcraft.gz(tar))  # the compressed form: flips and cuts
    if rng.random() < 0.5:
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data), "gzip bytes"
    return bytes(data[:rng.randrange(len(data))]), "gzip cut"


def check_entry(dest, result):
    """The extracted tree is exactly what the extractor reports, and all of it lies inside `dest`."""
    root = os.path.realpath(dest)
    seen_files, seen_links = {}, {}
    for dirpath, dirnames, filenames in os.walk(dest):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, dest)
            st = os.lstat(p)
            real = os.path.realpath(p)
            assert real == root or real.startswith(root + os.sep), f"{rel} leads outside"
            if stat.S_ISLNK(st.st_mode):
                seen_links[rel] = os.readlink(p)
            elif stat.S_ISREG(st.st_mode):
                seen_files[rel] = st.st_size
            else:
                assert stat.S_ISDIR(st.st_mode), f"{rel} is neither file, directory nor link"
    assert seen_files == result.files and seen_links == result.links
    for rel in seen_files:
        assert digest.of_file(os.path.join(dest, rel)) == result.hashes[rel], rel


def snapshot(root):
    return {os.path.join(d, n) for d, ds, fs in os.walk(root) for n in ds + fs}


@pytest.fixture
def scratch(tmp_path):
    """A directory on tmpfs when there is one: thousands of small extractions are mostly mkdir/rmdir,
    which cost milliseconds each on an ext4 mounted with `discard`."""
    import pathlib
    import tempfile

    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK):
        path = pathlib.Path(tempfile.mkdtemp(prefix="hubfn-fuzz-", dir=shm))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path


def test_fuzzed_archives_are_refused_or_extracted_exactly(base_tar, scratch):
    tmp_path = scratch
    sandbox = tmp_path / "box"
    work = sandbox / "cache"
    work.mkdir(parents=True)
    outside = snapshot(tmp_path)
    rng = random.Random(20261125)
    old = signal.signal(signal.SIGALRM, _alarm)
    outcomes = {"refused": 0, "extracted": 0}
    started = time.monotonic()
    try:
        for case in range(CASES):
            data, what = mutate(rng, base_tar)
            dest = work / f"e{case}"
            dest.mkdir()
            pieces = [data[i:i + 4096] for i in range(0, len(data), 4096)]
            signal.setitimer(signal.ITIMER_REAL, 5.0)
            try:
                result = extract.extract(iter(pieces), str(dest), URL, Settings.from_env())
            except errors.ArchiveError as e:
                assert URL in str(e), (case, what, str(e))
                outcomes["refused"] += 1
            except Hang:
                pytest.fail(f"case {case} ({what}) did not finish within 5 s")
            except Exception as e:  # anything but a hubfn error is a bug; say which case made it
                pytest.fail(f"case {case} ({what}): {type(e).__name__}: {e}")
            else:
                check_entry(str(dest), result)
                outcomes["extracted"] += 1
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            shutil.rmtree(dest)
            if case % 500 == 0:
                assert snapshot(tmp_path) - outside <= {str(work)}, f"written outside after case {case}"
    finally:
        signal.signal(signal.SIGALRM, old)
    secs = time.monotonic() - started
    print(f"fuzz: {CASES} cases in {secs:.1f} s: {outcomes}")
    assert snapshot(tmp_path) - outside <= {str(work)}
    assert outcomes["refused"] > CASES // 4 and outcomes["extracted"] > CASES // 20, outcomes


SERVED_CASES = 200


def test_fuzzed_archives_through_a_real_server(base_tar, server, cache_dir, monkeypatch):
    """A sample of the same mutations, fetched by hub_resolve from a real server: a hubfn error that
    leaves nothing in the cache (no entry, partial or lock), or an entry that passes the deep check."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("HUBFN_RETRIES", "0")
    rng = random.Random(7)
    old = signal.signal(signal.SIGALRM, _alarm)
    outcomes = {"refused": 0, "cached": 0}
    try:
        for case in range(SERVED_CASES):
            data, what = mutate(rng, base_tar)
            url = server.add(f"/fuzz/{case}.tar.gz", body=data)
            signal.setitimer(signal.ITIMER_REAL, 10.0)
            try:
                hubfn.hub_resolve(url)
            except errors.HubError as e:
                assert url in str(e), (case, what, str(e))
                outcomes["refused"] += 1
            except Hang:
                pytest.fail(f"case {case} ({what}) did not finish within 10 s")
            else:
                (entry,) = hubfn.cache_verify(url, deep=True)
                assert entry.verified, (case, what, entry.problem)
                outcomes["cached"] += 1
                hubfn.cache_remove(url)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            assert not cache_dir.exists() or os.listdir(cache_dir) == [], (case, what, os.listdir(cache_dir))
    finally:
        signal.signal(signal.SIGALRM, old)
    print(f"fuzz through the server: {outcomes}")
    assert outcomes["refused"] and outcomes["cached"], outcomes
