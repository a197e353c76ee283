"""Unsafe archives are refused before anything leaves the temporary directory (acceptance 6)."""

import os
import stat
import tarfile

import pytest

import hubfn
from hubfn import errors
import servers

MODEL = {"name": "saved_model.pb", "data": b"not parsed here"}


@pytest.fixture
def sandbox(tmp_path, cache_dir, monkeypatch):
    """The cache inside tmp_path/box; everything else under tmp_path must stay untouched."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    box = tmp_path / "box"
    box.mkdir()
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(box / "cache"))
    return box


def snapshot(root):
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            out.add(os.path.relpath(os.path.join(dirpath, n), root))
    return out


def refused(server, sandbox, name, members, match):
    """Serve a crafted archive (or bytes); assert a clear ArchiveError, no entry, nothing outside the cache."""
    outside = sandbox.parent
    before = snapshot(outside)
    body = members if isinstance(members, bytes) else servers.crafted(members)
    url = server.add(f"/evil/{name}.tar.gz", body=body)
    with pytest.raises(errors.ArchiveError, match=match) as e:
        hubfn.hub_resolve(url)
    assert url in str(e.value)
    cache = sandbox / "cache"
    assert os.listdir(cache) == [], "no entry, no leftovers (not even the lock file)"
    after = {p for p in snapshot(outside) if not p.startswith("box")}
    assert after == {p for p in before if not p.startswith("box")}, "nothing written outside"
    return str(e.value)


def test_dotdot_is_refused(server, sandbox):
    refused(server, sandbox, "dotdot", [MODEL, {"name": "../../escaped.txt", "data": b"x"}], "'\\.\\.'")
    refused(server, sandbox, "dotdot2", [MODEL, {"name": "variables/../../escaped.txt", "data": b"x"}],
            "'\\.\\.'")


def test_absolute_path_is_refused(server, sandbox, tmp_path):
    target = tmp_path / "abs_escaped.txt"
    refused(server, sandbox, "abs", [MODEL, {"name": str(target), "data": b"x"}], "absolute path")
    assert not target.exists()


def test_symlink_out_is_refused(server, sandbox):
    refused(server, sandbox, "symlink", [MODEL, {"name": "variables", "type": tarfile.SYMTYPE,
                                                 "linkname": "../../.."}], "points outside")
    refused(server, sandbox, "symlink_abs", [MODEL, {"name": "etc", "type": tarfile.SYMTYPE,
                                                     "linkname": "/etc"}], "absolute")


def test_write_through_a_symlink_chain_is_refused(server, sandbox):
    # "a" -> "." is harmless; "a/b" -> "a/../.." resolves outside; writing "b/x" would then escape.
    refused(server, sandbox, "chain", [MODEL, {"name": "a", "type": tarfile.SYMTYPE, "linkname": "."},
                                       {"name": "b", "type": tarfile.SYMTYPE, "linkname": "a/../.."},
                                       {"name": "b/x.txt", "data": b"x"}], "outside")


def test_hard_link_out_is_refused(server, sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("secret")
    refused(server, sandbox, "hardlink", [MODEL, {"name": "leak", "type": tarfile.LNKTYPE,
                                                  "linkname": "../../secret.txt"}], "'\\.\\.'")
    refused(server, sandbox, "hardlink_abs", [MODEL, {"name": "leak", "type": tarfile.LNKTYPE,
                                                      "linkname": str(secret)}], "absolute")
    refused(server, sandbox, "hardlink_missing", [MODEL, {"name": "leak", "type": tarfile.LNKTYPE,
                                                          "linkname": "nothing_here"}], "hard link")
    assert secret.read_text() == "secret" and os.stat(secret).st_nlink == 1


@pytest.mark.parametrize("kind,type_", [("a character device", tarfile.CHRTYPE),
                                        ("a block device", tarfile.BLKTYPE), ("a FIFO", tarfile.FIFOTYPE)])
def test_devices_and_fifos_are_refused(server, sandbox, kind, type_):
    refused(server, sandbox, f"dev{type_.decode()}", [MODEL, {"name": "null", "type": type_}], kind)


def test_setuid_and_setgid_bits_are_dropped_and_links_inside_work(server, sandbox):
    members = [MODEL, {"name": "tool", "data": b"#!/bin/sh\n", "mode": 0o6755},
               {"name": "variables", "type": tarfile.DIRTYPE, "mode": 0o3777},
               {"name": "variables/variables.index", "data": b"i"},
               {"name": "alias", "type": tarfile.SYMTYPE, "linkname": "variables/variables.index"},
               {"name": "copy", "type": tarfile.LNKTYPE, "linkname": "tool"}]
    url = server.add("/fine/modes.tar.gz", body=servers.crafted(members))
    path = hubfn.hub_resolve(url)
    mode = os.stat(os.path.join(path, "tool")).st_mode
    assert stat.S_IMODE(mode) == 0o755
    assert not os.stat(os.path.join(path, "variables")).st_mode & (stat.S_ISGID | stat.S_ISVTX)
    assert os.readlink(os.path.join(path, "alias")) == "variables/variables.index"
    assert os.path.samefile(os.path.join(path, "copy"), os.path.join(path, "tool"))


def test_ten_gib_bomb_is_stopped_by_the_size_cap(server, sandbox, monkeypatch):
    monkeypatch.setenv("HUBFN_MAX_MODULE_BYTES", str(256 << 20))
    body = servers.bomb(10 << 30)
    assert len(body) < 32 << 20  # small on the wire, 10 GiB when expanded
    msg = refused(server, sandbox, "bomb", body, "more than 268435456 bytes.*decompression bomb")
    assert "HUBFN_MAX_MODULE_BYTES" in msg


def test_ten_gib_bomb_is_stopped_by_default_by_its_expansion_ratio(server, sandbox, monkeypatch):
    for name in ("HUBFN_MAX_MODULE_BYTES", "HUBFN_MAX_RATIO"):
        monkeypatch.delenv(name, raising=False)
    msg = refused(server, sandbox, "bomb_default", servers.bomb(10 << 30), "more than 100:1.*bomb")
    assert "HUBFN_MAX_RATIO" in msg


def test_declared_huge_member_is_refused_before_writing(server, sandbox, monkeypatch):
    monkeypatch.setenv("HUBFN_MAX_MODULE_BYTES", str(1 << 30))
    header = servers._header("variables/huge", 10 << 30)
    import gzip
    url = server.add("/evil/huge.tar.gz", body=gzip.compress(header + bytes(1 << 20)))
    with pytest.raises(errors.ArchiveError, match="huge.*alone is 10737418240"):
        hubfn.hub_resolve(url)


def test_file_count_cap(server, sandbox, monkeypatch):
    monkeypatch.setenv("HUBFN_MAX_MODULE_FILES", "10")
    members = [MODEL] + [{"name": f"f{i}", "data": b"x"} for i in range(20)]
    url = server.add("/evil/many.tar.gz", body=servers.crafted(members))
    with pytest.raises(errors.ArchiveError, match="more than 10 members.*HUBFN_MAX_MODULE_FILES"):
        hubfn.hub_resolve(url)


def test_damaged_header_and_garbage_after_gzip(server, sandbox):
    good = servers.crafted([MODEL], compress=False)
    bad = bytearray(good)
    bad[10] ^= 0xFF  # inside the first header's name: the checksum no longer matches
    import gzip
    url = server.add("/evil/checksum.tar.gz", body=gzip.compress(bytes(bad)))
    with pytest.raises(errors.ArchiveError):
        hubfn.hub_resolve(url)
    url = server.add("/evil/garbage.tar.gz", body=gzip.compress(good) + b"GARBAGE!")
    with pytest.raises(errors.ArchiveError, match="after the gzip data"):
        hubfn.hub_resolve(url)


def test_gnu_tar_archive_with_long_names_round_trips(server, sandbox, tmp_path):
    import filecmp
    import shutil
    import subprocess

    if not shutil.which("tar"):
        pytest.skip("needs the tar command")
    src = tmp_path / "src"
    deep = src / "assets" / ("d" * 90) / ("e" * 90)
    deep.mkdir(parents=True)
    (src / "saved_model.pb").write_bytes(b"pb")
    (deep / ("f" * 120 + ".txt")).write_bytes(os.urandom(5000))
    (src / "empty_dir").mkdir()
    archive = tmp_path / "m.tgz"
    subprocess.run(["tar", "--format=gnu", "-czf", str(archive), "-C", str(src), "."], check=True)
    url = server.add("/gnu/m.tgz", body=archive.read_bytes())
    path = hubfn.hub_resolve(url)
    cmp = filecmp.dircmp(src, path)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files
    target = os.path.join(path, os.path.relpath(deep, src), "f" * 120 + ".txt")
    assert open(target, "rb").read() == (deep / ("f" * 120 + ".txt")).read_bytes()
    assert os.path.isdir(os.path.join(path, "empty_dir"))


@pytest.mark.parametrize("compress", [True, False])
def test_tar_without_its_end_marker_is_refused(server, sandbox, compress):
    import gzip

    whole = servers.crafted([MODEL, {"name": "variables/variables.index", "data": b"i" * 600}], compress=False)
    cut = 512 * 2  # the first member (header + one data block): every byte whole, the end marker gone
    body = gzip.compress(whole[:cut]) if compress else whole[:cut]
    url = server.add(f"/evil/noend{compress}.tar.gz", body=body)
    with pytest.raises(errors.ArchiveError, match="truncated"):
        hubfn.hub_resolve(url)
    assert os.listdir(sandbox / "cache") == []


@pytest.mark.parametrize("compress", [True, False])
def test_tar_cut_after_one_zero_block_is_refused(server, sandbox, compress):
    """The end marker is two zero blocks: a tar cut just after the first one is not whole."""
    import gzip

    whole = servers.crafted([MODEL, {"name": "variables/variables.index", "data": b"i" * 600}], compress=False)
    end = 512 + 512 + 512 + 1024  # MODEL header + data, index header + 2 data blocks
    assert whole[end:end + 1024] == bytes(1024)
    cut = whole[:end + 512]
    body = gzip.compress(cut) if compress else cut
    msg = refused(server, sandbox, f"onezero{compress}", body, "truncated")
    assert "end marker" in msg


@pytest.mark.parametrize("text", [b"Hello, this is not a tar archive.\n" * 40, b"short text\n", b""])
def test_whole_gzip_of_non_tar_is_not_called_truncated(server, sandbox, text):
    import gzip

    msg = refused(server, sandbox, f"gztext{len(text)}", gzip.compress(text), "not a tar archive")
    assert "truncated" not in msg and "try again" not in msg
    assert f"It starts with: {text.decode()[:10]!r}"[:-1] in msg  # its start is quoted
