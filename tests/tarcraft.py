"""Byte-level surgery on tar archives, for the archive-hardening tests and the fuzz test.

Offsets and field widths are POSIX ustar's (name 0/100, mode 100/8, uid 108/8, gid 116/8, size 124/12,
mtime 136/12, chksum 148/8, typeflag 156/1, linkname 157/100, magic 257/6, prefix 345/155); pax records
are "<length> <key>=<value>\\n" with the length counting the whole record.
"""

import gzip
import io
import os
import random
import tarfile

BLOCK = 512
FIELDS = {"name": (0, 100), "mode": (100, 8), "uid": (108, 8), "gid": (116, 8), "size": (124, 12),
          "mtime": (136, 12), "chksum": (148, 8), "type": (156, 1), "linkname": (157, 100),
          "devmajor": (329, 8), "devminor": (337, 8), "prefix": (345, 155)}


def module_tar(src_dir, extra_long_name=True):
    """A pax tar of a module directory (root = the module), with one long-named file (so a pax 'x'
    header is in it), a symlink and a hard link."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(src_dir)):
            tar.add(os.path.join(src_dir, name), arcname=name)
        if extra_long_name:
            data = random.Random(3000).randbytes(3000)  # fixed bytes: fuzz cases replay exactly
            info = tarfile.TarInfo("assets/" + "long-" * 30 + ".txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("alias.pb")
        link.type, link.linkname = tarfile.SYMTYPE, "saved_model.pb"
        tar.addfile(link)
        hard = tarfile.TarInfo("copy.pb")
        hard.type, hard.linkname = tarfile.LNKTYPE, "saved_model.pb"
        tar.addfile(hard)
    return buf.getvalue()


def headers(tar):
    """[(offset, typeflag)] of every header block (pax headers included), up to the end marker."""
    out, pos = [], 0
    while pos + BLOCK <= len(tar) and tar[pos:pos + BLOCK] != bytes(BLOCK):
        block = tar[pos:pos + BLOCK]
        out.append((pos, block[156:157]))
        size = int(block[124:136].split(b"\0")[0].strip() or b"0", 8)
        pos += BLOCK + -(-size // BLOCK) * BLOCK
    return out


def with_checksum(block):
    block = bytearray(block)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def set_field(tar, offset, field, value, fix=True):
    """`tar` with header field `field` of the header at `offset` set to `value` (padded with NULs or
    cut to the field's width); the checksum recomputed when `fix`."""
    start, width = FIELDS[field]
    block = bytearray(tar[offset:offset + BLOCK])
    block[start:start + width] = value[:width].ljust(width, b"\0")
    block = with_checksum(block) if fix else bytes(block)
    return tar[:offset] + block + tar[offset + BLOCK:]


def pax_record(key, value):
    body = b" " + key + b"=" + value + b"\n"
    n = len(body) + 1
    while len(str(n).encode()) + len(body) != n:
        n += 1
    return str(n).encode() + body


def replace_data(tar, offset, data):
    """`tar` with the data of the member whose header is at `offset` replaced (size and checksum fixed)."""
    block = tar[offset:offset + BLOCK]
    old = int(block[124:136].split(b"\0")[0].strip() or b"0", 8)
    end = offset + BLOCK + -(-old // BLOCK) * BLOCK
    head = set_field(block, 0, "size", b"%011o" % len(data))
    return tar[:offset] + head + data + bytes(-len(data) % BLOCK) + tar[end:]


def gz(tar):
    return gzip.compress(tar, compresslevel=1, mtime=0)
