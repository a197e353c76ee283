"""Module archives (tar or tar.gz) as a stream: gzip decoding, tar parsing, limits and path checks.

One pass: raw chunks from the network -> isal gzip decoder -> tar headers parsed here -> member bytes
written file by file by hubfn.fetch.extract. The archive is never held in memory. We parse tar ourselves (not `tarfile`)
because we must know that the end-of-archive marker was seen, must refuse unsafe members before they
touch the disk, and want to copy member data in large pieces.

An archive is accepted only if it is whole: the gzip stream ends properly (trailer and CRC checked by
the decoder) and the tar end marker is present. The caller checks the byte count against
Content-Length. Limits (environment, generous defaults):
  HUBFN_MAX_MODULE_BYTES  total bytes of all members (default 64 GiB)
  HUBFN_MAX_MODULE_FILES  number of members (default 200000)
  HUBFN_MAX_RATIO         largest expansion of the gzip stream past its first 256 MiB (default 100)
"""

import os

import attrs
from isal import isal_zlib

from .. import errors
from ..util.env import env_number

BLOCK = 512
OUT_CHUNK = 1 << 20  # most bytes one decoder call may produce: a bomb cannot balloon memory
MAX_META = 1 << 20  # pax / GNU long-name headers larger than this are not real module archives
MAX_TRAILER = 16 << 20  # bytes tolerated after the tar end marker (padding)
ZERO_BLOCK = bytes(BLOCK)
REGULAR, HARDLINK, SYMLINK, CHARDEV, BLOCKDEV, DIRECTORY, FIFO = b"0", b"1", b"2", b"3", b"4", b"5", b"6"


DEFAULT_MAX_BYTES = 64 << 30
DEFAULT_MAX_FILES = 200_000
# Trained weights compress about 1.1:1 and vocabularies about 4:1; a stream expanding more than 100:1
# past its first 256 MiB is a decompression bomb, however generous the size cap.
DEFAULT_MAX_RATIO = 100
RATIO_FLOOR = 256 << 20


@attrs.frozen
class Limits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = DEFAULT_MAX_FILES
    max_ratio: int = DEFAULT_MAX_RATIO

    @classmethod
    def from_env(cls):
        return cls(env_number("HUBFN_MAX_MODULE_BYTES", DEFAULT_MAX_BYTES, int),
                   env_number("HUBFN_MAX_MODULE_FILES", DEFAULT_MAX_FILES, int),
                   env_number("HUBFN_MAX_RATIO", DEFAULT_MAX_RATIO, int))


@attrs.frozen
class Extracted:
    """What was written: regular files with sizes (the entry's manifest) and symlinks with targets."""

    files: dict
    links: dict
    total_bytes: int


def looks_like(data: bytes):
    """'gzip', 'tar', or a description of what the bytes are instead ('an HTML page', ...)."""
    if data[:2] == b"\x1f\x8b" or data == b"\x1f":
        return "gzip"  # (a lone first byte: a truncated gzip, reported as such by the decoder)
    if not data:
        return "an empty body"
    if len(data) >= BLOCK and (data[257:262] == b"ustar" or _checksum_ok(data[:BLOCK])):
        return "tar"
    head = data[:1024].lstrip()
    low = head[:256].lower()
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or b"<html" in low:
        return "an HTML page"
    if head[:1] in (b"{", b"["):
        return "JSON"
    if head[:1] == b"<":
        return "XML"
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in head[:512])
    if head and printable >= 0.95 * len(head[:512]):
        return "text"
    return "not a gzip or tar archive"


def inflate(chunks, name, max_ratio=DEFAULT_MAX_RATIO):
    """Decompressed bytes of a gzip stream (several members allowed), or a plain tar passed through."""
    chunks = iter(chunks)
    head = b""
    for chunk in chunks:
        head += chunk
        if len(head) >= BLOCK:
            break
    kind = looks_like(head)
    if kind == "not a gzip or tar archive" and 0 < len(head) < BLOCK:
        raise errors.ArchiveError(f"Module URL {name}: the archive is truncated (only {len(head)} bytes, "
                                  "less than one tar header). The download was cut short; try again.")
    if kind not in ("gzip", "tar"):
        raise errors.NotAnArchiveError(
            f"Module URL {name}: the server sent {kind} instead of a module archive (tar.gz). "
            f"It starts with: {_quote(head)}. Check the URL; a module URL must serve a .tar.gz.")
    if kind == "tar":
        yield head
        yield from chunks
        return
    out = _gunzip(head, chunks, name, max_ratio)
    # A whole gzip stream whose content is no tar (gzip-compressed text, say) is not "truncated":
    # look at the first decompressed block before anything reads it as a tar header.
    first = b""
    for piece in out:  # a gzip stream that stops before its end raises its own "truncated" error here
        first += piece
        if len(first) >= BLOCK:
            break
    if not _starts_a_tar(first):
        inner = looks_like(first) if first else "empty"
        inner = "binary data" if inner in ("gzip", "not a gzip or tar archive") else inner
        raise errors.NotAnArchiveError(
            f"Module URL {name}: the body is a complete gzip stream, but what it holds is not a tar "
            f"archive ({inner}). It starts with: {_quote(first)}. Check the URL; a module URL must serve a "
            ".tar.gz of the module directory.")
    yield first
    yield from out


def _starts_a_tar(data):
    """True if `data` begins with a tar header (or the end marker of an empty tar)."""
    block = data[:BLOCK]
    return len(block) == BLOCK and (block == ZERO_BLOCK or block[257:262] == b"ustar" or _checksum_ok(block))


def _gunzip(head, chunks, name, max_ratio):
    d = isal_zlib.decompressobj(wbits=31)
    pending = head
    consumed, produced = len(head), 0
    while True:
        while pending:
            try:
                out = d.decompress(pending, OUT_CHUNK)
            except isal_zlib.error as e:
                raise errors.ArchiveError(f"Module URL {name}: the gzip data is corrupt ({e}).") from None
            pending = d.unconsumed_tail
            produced += len(out)
            if produced > RATIO_FLOOR and produced > max_ratio * consumed:
                raise errors.ArchiveError(
                    f"Module URL {name}: {consumed} compressed bytes expanded to {produced} (more than "
                    f"{max_ratio}:1); refusing it as a decompression bomb. Raise HUBFN_MAX_RATIO if this "
                    "module is genuine.")
            if out:
                yield out
            if d.eof:
                rest = d.unused_data
                if rest.strip(b"\0"):
                    if rest[:2] != b"\x1f\x8b" and len(rest) >= 2:
                        raise errors.ArchiveError(f"Module URL {name}: unexpected bytes after the gzip data.")
                    d = isal_zlib.decompressobj(wbits=31)  # another gzip member follows
                    pending = rest
                else:
                    pending = b""
        chunk = next(chunks, None)
        if chunk is None:
            break
        consumed += len(chunk)
        pending = chunk
    if not d.eof:
        raise errors.ArchiveError(
            f"Module URL {name}: the archive is truncated (the gzip stream stops before its end). "
            "The download was cut short; try again.")


class Stream:
    """Exact-size reads over an iterator of byte chunks, without concatenating large data."""

    def __init__(self, chunks, name):
        self.chunks = iter(chunks)
        self.buf = memoryview(b"")
        self.name = name

    def _fill(self):
        for chunk in self.chunks:
            if chunk:
                self.buf = memoryview(chunk)
                return True
        return False

    def read(self, n, what):
        parts, need = [], n
        while need:
            if not self.buf and not self._fill():
                raise self.truncated(what)
            take = self.buf[:need]
            parts.append(bytes(take))
            self.buf = self.buf[len(take):]
            need -= len(take)
        return b"".join(parts)

    def copy(self, fd, n, what):
        while n:
            if not self.buf and not self._fill():
                raise self.truncated(what)
            take = self.buf[:n]
            view = take
            while view:
                view = view[os.write(fd, view):]
            self.buf = self.buf[len(take):]
            n -= len(take)

    def drain(self):
        seen = len(self.buf)
        self.buf = memoryview(b"")
        for chunk in self.chunks:
            seen += len(chunk)
            if seen > MAX_TRAILER:
                raise errors.ArchiveError(f"Module URL {self.name}: more than {MAX_TRAILER} bytes follow "
                                          "the end of the tar archive; refusing it.")

    def truncated(self, what):
        return errors.ArchiveError(f"Module URL {self.name}: the archive is truncated (it ends inside {what}). "
                                   "The download was cut short; try again.")


def _quote(data):
    text = " ".join(data[:300].decode("utf-8", "replace").split())
    return repr(text[:160] + ("…" if len(text) > 160 else ""))


def _checksum_ok(block):
    try:
        want = int(block[148:156].split(b"\0", 1)[0].strip() or b"-1", 8)
    except ValueError:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:])
    if want == unsigned:
        return True
    # Some old tar writers summed signed chars; accept that variant too.
    signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 8 * 32
    return want == signed


def _number(field):
    if field[:1] and field[0] & 0x80:  # GNU base-256 for sizes >= 8 GiB
        value = int.from_bytes(field[1:], "big")
        return value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _text(field):
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data):
    out, pos = {}, 0
    while pos < len(data):
        sp = data.index(b" ", pos)
        length = int(data[pos:sp])
        key, _, value = data[sp + 1:pos + length - 1].partition(b"=")
        out[key.decode()] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


@attrs.frozen
class Member:
    name: str
    type: bytes
    size: int
    mode: int
    linkname: str


def members(stream: Stream):
    """Tar members in order; stops after the end-of-archive marker, raising if it never comes."""
    overrides = {}
    while True:
        block = stream.read(BLOCK, "a tar header")
        if block == ZERO_BLOCK:
            # The end marker is two zero blocks; one alone is what a cut archive can look like.
            if stream.read(BLOCK, "the tar end marker (two zero blocks)") != ZERO_BLOCK:
                raise errors.ArchiveError(f"Module URL {stream.name}: a lone zero block inside the tar "
                                          "archive (its end marker is two); the archive is damaged.")
            return
        if not _checksum_ok(block):
            raise errors.ArchiveError(f"Module URL {stream.name}: a tar header is damaged (bad checksum).")
        type_ = block[156:157] or REGULAR
        size = _number(block[124:136])
        if type_ in (b"x", b"g", b"L", b"K"):
            if size > MAX_META:
                raise errors.ArchiveError(f"Module URL {stream.name}: a tar metadata header of {size} bytes.")
            data = stream.read(size, "a tar header")
            stream.read(-size % BLOCK, "a tar header")
            if type_ == b"x":
                try:
                    overrides.update(_pax(data))
                except ValueError:
                    raise errors.ArchiveError(f"Module URL {stream.name}: a damaged pax header.") from None
            elif type_ == b"L":
                overrides["path"] = _text(data)
            elif type_ == b"K":
                overrides["linkpath"] = _text(data)
            continue
        name = _text(block[0:100])
        if block[257:262] == b"ustar" and block[345:500].strip(b"\0"):
            name = _text(block[345:500]) + "/" + name
        if type_ == b"\0":
            type_ = REGULAR
        yield Member(name=overrides.get("path", name), type=type_,
                     size=int(overrides.get("size", size)), mode=_number(block[100:108]),
                     linkname=overrides.get("linkpath", _text(block[157:257])))
        overrides = {}


def safe_relpath(name, base, what):
    """`name` as a clean relative path, or an ArchiveError for absolute paths and '..' components."""
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise errors.ArchiveError(f"Module URL {base}: the archive holds {what} with an absolute path "
                                  f"{name!r}; refusing it (nothing outside the module may be written).")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise errors.ArchiveError(f"Module URL {base}: the archive holds {what} {name!r} with a '..' "
                                  "component; refusing it (nothing outside the module may be written).")
    return "/".join(parts)
