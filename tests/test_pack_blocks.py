"""hubfn pack's block index (hubfn.util.gzindex) and the parallel inflate that reads it (hubfn.fetch.store.blocks).

A packed archive must stay an ordinary gzip for every other reader (gzip, tar, Python's tarfile in
stream mode as tensorflow_hub reads it), and hubfn must read it on one core or several with every
integrity check of the serial path: a damaged block, a lying index, a cut stream or a bad trailer is
an ArchiveError and leaves nothing in the cache.
"""

import gzip
import io
import os
import shutil
import subprocess
import tarfile

import pytest

import hubfn
from hubfn import errors
from hubfn.fetch.store import archive, extract
from hubfn.publish.pack import pack_module
from hubfn.settings import Settings
from hubfn.util import gzindex

MiB = 1 << 20


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """(archive bytes, module dir) of a 13 MiB module: four blocks, the last a short one."""
    root = tmp_path_factory.mktemp("blocks")
    mod = root / "mod"
    (mod / "variables").mkdir(parents=True)
    (mod / "saved_model.pb").write_bytes(os.urandom(1000))
    (mod / "variables" / "variables.data-00000-of-00001").write_bytes(os.urandom(9 * MiB) + bytes(3 * MiB))
    (mod / "variables" / "variables.index").write_bytes(b"index" * 1000)
    (mod / "assets").mkdir()
    (mod / "assets" / "vocab.txt").write_text("word\n" * 20000)
    path = pack_module(mod, root / "mod.tar.gz")
    with open(path, "rb") as f:
        return f.read(), str(mod)


def chunks(data, size=64 << 10):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def extracted(data, tmp_path, name="d"):
    dest = tmp_path / name
    dest.mkdir()
    ex = extract.extract(chunks(data), str(dest), "test-archive", Settings.from_env())
    contents = {}
    for rel in ex.files:
        with open(dest / rel, "rb") as f:
            contents[rel] = f.read()
    return ex, contents


def test_a_packed_archive_has_an_index_of_its_blocks(packed):
    data, _ = packed
    index = gzindex.parse(data)
    assert index is not None and index.layout.count == 4 and index.layout.block_size == 4 * MiB
    assert index.header_size + sum(index.lengths) + 8 == len(data)  # header, blocks, trailer: nothing else
    assert len(gzip.decompress(data)) == index.layout.total


def test_other_readers_see_one_ordinary_gzip(packed, tmp_path):
    data, mod = packed
    with tarfile.open(fileobj=io.BytesIO(data), mode="r|*") as t:  # tensorflow_hub's resolver reads so
        names = {m.name: m.size for m in t}
    assert names["./variables/variables.data-00000-of-00001"] == 12 * MiB
    (tmp_path / "a.tar.gz").write_bytes(data)
    assert subprocess.run(["gzip", "-t", str(tmp_path / "a.tar.gz")]).returncode == 0
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["tar", "-xzf", str(tmp_path / "a.tar.gz"), "-C", str(out)], check=True)
    with open(os.path.join(mod, "assets", "vocab.txt"), "rb") as f:
        assert (out / "assets" / "vocab.txt").read_bytes() == f.read()


def test_packing_twice_gives_the_same_bytes(packed, tmp_path):
    data, mod = packed
    assert open(pack_module(mod, tmp_path / "again.tar.gz"), "rb").read() == data


@pytest.mark.parametrize("n_workers", [1, 2, 3])
def test_hubfn_reads_the_blocks_on_any_number_of_cores_as_the_serial_decoder_does(packed, tmp_path, monkeypatch,
                                                                                   n_workers):
    data, _ = packed
    serial = gzip.compress(gzip.decompress(data), 1)  # the same tar, no index
    assert gzindex.parse(serial) is None
    want_ex, want = extracted(serial, tmp_path, "serial")
    monkeypatch.setenv("HUBFN_INFLATE_THREADS", str(n_workers))
    got_ex, got = extracted(data, tmp_path, "blocks")
    assert got == want and got_ex.hashes == want_ex.hashes


def test_an_index_that_does_not_parse_is_read_serially(packed, tmp_path):
    data, _ = packed
    index = gzindex.parse(data)
    garbled = bytearray(data)
    garbled[10 + len(gzindex.TAG)] = ord("z")  # not a hex digit
    assert gzindex.parse(bytes(garbled)) is None and bytes(garbled[:index.header_size]).endswith(b"\0")
    assert extracted(bytes(garbled), tmp_path)[1] == extracted(data, tmp_path, "whole")[1]


def _lying_index(data):
    index = gzindex.parse(data)
    lengths = list(index.lengths)
    lengths[0] += 1
    lengths[1] -= 1
    return gzindex.header(index.layout, lengths) + data[index.header_size:]


def _flip(data, pos):
    b = bytearray(data)
    b[pos] ^= 0xFF
    return bytes(b)


@pytest.mark.parametrize("case, damage, says", [
    ("a byte in a block", lambda d: _flip(d, len(d) // 3), "corrupt"),
    ("a byte in the last block", lambda d: _flip(d, len(d) - 20), "corrupt"),
    ("the trailer's CRC", lambda d: _flip(d, len(d) - 8), "CRC-32"),
    ("the trailer's size", lambda d: _flip(d, len(d) - 2), "CRC-32"),
    ("a lying index", _lying_index, "block of its index"),
    ("cut in a block", lambda d: d[:len(d) // 2], "stops in block 2 of 4"),
    ("cut in the trailer", lambda d: d[:-3], "trailer is missing"),
    ("junk after the trailer", lambda d: d + b"junk", "unexpected bytes"),
])
def test_damage_is_an_archive_error(packed, tmp_path, monkeypatch, case, damage, says):
    data, _ = packed
    monkeypatch.setenv("HUBFN_INFLATE_THREADS", str(2))  # the parallel path's checks (the serial one has its own)
    with pytest.raises(errors.ArchiveError, match=says):
        extracted(damage(data), tmp_path)


def test_zero_padding_after_the_trailer_is_accepted(packed, tmp_path, monkeypatch):
    data, _ = packed
    monkeypatch.setenv("HUBFN_INFLATE_THREADS", str(2))
    assert extracted(data + bytes(4096), tmp_path)[1] == extracted(data, tmp_path, "plain")[1]


def test_a_damaged_packed_archive_leaves_nothing_in_the_cache_and_a_whole_one_loads(packed, server, cache_dir,
                                                                                     monkeypatch):
    data, _ = packed
    monkeypatch.setenv("HUBFN_INFLATE_THREADS", str(2))  # the parallel path, whatever this machine's cores
    bad = server.add("/blocks/bad.tar.gz", body=_flip(data, len(data) // 2))
    with pytest.raises(errors.ArchiveError, match="corrupt"):
        hubfn.hub_resolve(bad)
    left = sorted(os.listdir(cache_dir)) if cache_dir.exists() else []
    assert not [n for n in left if not n.endswith(".hubfn-lock")], left  # no entry, no partial download
    good = server.add("/blocks/good.tar.gz", body=data)
    entry = hubfn.hub_resolve(good)
    assert os.path.getsize(os.path.join(entry, "variables", "variables.data-00000-of-00001")) == 12 * MiB
    shutil.rmtree(cache_dir)


@pytest.mark.parametrize("fields", [
    b"0000000000400000 0000000000c03000 00000004 -0000001 00000002 00000003 00000004",  # a negative length
    b"0000000000400000 0000000000c03000 00000004 00000000 00000002 00000003 00000004",  # an empty block
    b"0000000000400000 0000000000c03000 00000003 00000001 00000002 00000003",  # count is not ceil(total / size)
    b"0000000000400000 0000000000c03000 00000004 00000001 00000002 00000003",  # a length missing
    b"0000000000000400 0000000000c03000 00003001",  # blocks smaller than gzindex.MIN_BLOCK
    b"0000000000400000 0000000000c03000 00000004 10000000 00000002 00000003 00000004",  # a block of 256 MiB
])
def test_an_index_out_of_bounds_does_not_parse(fields):
    head = b"\x1f\x8b\x08\x10\0\0\0\0\0\xff" + gzindex.TAG + fields + b"\0"
    assert gzindex.parse(head) is None
    good = b"0000000000400000 0000000000c03000 00000004 00000001 00000002 00000003 00000004"
    assert gzindex.parse(b"\x1f\x8b\x08\x10\0\0\0\0\0\xff" + gzindex.TAG + good + b"\0").lengths == (1, 2, 3, 4)


@pytest.mark.parametrize("n_workers", [1, 2])
def test_the_expansion_ratio_cap_holds_on_both_paths(packed, tmp_path, monkeypatch, n_workers):
    data, _ = packed  # 13 MiB of tar in 9 MiB of gzip: more than 1:1
    monkeypatch.setattr(archive, "RATIO_FLOOR", 0)
    monkeypatch.setenv("HUBFN_MAX_RATIO", "1")
    monkeypatch.setenv("HUBFN_INFLATE_THREADS", str(n_workers))
    with pytest.raises(errors.ArchiveError, match="decompression bomb"):
        extracted(data, tmp_path)
