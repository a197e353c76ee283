"""Module archives (tar or tar.gz) as a stream: gzip decoding, tar parsing, limits and path checks.

One pass: raw chunks from the network -> isal gzip decoder (on several cores for a stream with a block
index: hubfn.fetch.store.blocks) -> tar headers (parsed strictly by
hubfn.fetch.store.tarheader) -> member bytes written file by file by hubfn.fetch.store.extract. The archive is never
held in memory. We parse tar ourselves (not `tarfile`)
because we must know that the end-of-archive marker was seen, must refuse unsafe members before they
touch the disk, and want to copy member data in large pieces.

An archive is accepted only if it is whole: the gzip stream ends properly (trailer and CRC checked by
the decoder) and the tar end marker is present. The caller checks the byte count against
Content-Length. Limits: hubfn.settings.ArchiveLimits (HUBFN_MAX_MODULE_BYTES, HUBFN_MAX_MODULE_FILES,
HUBFN_MAX_RATIO; generous defaults).
"""

import os

import attrs
from isal import isal_zlib

from ... import errors
from ...util import gzindex
from ...util.sniff import looks_like, quote_start
from ...util.tarblock import BLOCK, ZERO_BLOCK, checksum_ok
from . import blocks
# The member type flags live with the header parser; hubfn.fetch.store.extract reads them as archive.X.
from .tarheader import BLOCKDEV, CHARDEV, DIRECTORY, FIFO, HARDLINK, REGULAR, SYMLINK  # noqa: F401

OUT_CHUNK = 1 << 20  # most bytes one decoder call may produce: a bomb cannot balloon memory
MAX_TRAILER = 16 << 20  # bytes tolerated after the tar end marker (padding)


# Trained weights compress about 1.1:1 and vocabularies about 4:1; a stream expanding more than 100:1
# past its first 256 MiB is a decompression bomb, however generous the size cap.
RATIO_FLOOR = 256 << 20


@attrs.frozen
class Extracted:
    """What was written (the entry's manifest): regular files with sizes and content hashes
    (hubfn.fetch.store.digest), and symlinks with targets."""

    files: dict
    links: dict
    total_bytes: int
    hashes: dict = attrs.field(factory=dict)


def inflate(chunks, name, max_ratio, threads=0):
    """Decompressed bytes of a gzip stream (several members allowed), or a plain tar passed through.
    max_ratio: hubfn.settings.ArchiveLimits.max_ratio; threads: Settings.inflate_threads (hubfn.fetch.store.blocks)."""
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
            f"It starts with: {quote_start(head)}. Check the URL; a module URL must serve a .tar.gz.")
    if kind == "tar":
        yield head
        yield from chunks
        return
    while gzindex.wants_more(head):  # a hubfn pack header, its block index not yet whole
        chunk = next(chunks, None)
        if chunk is None:
            break
        head += chunk
    index = gzindex.parse(head)
    n_workers = blocks.workers(threads) if index else 1  # on one core the index is no use: the stream is plain gzip
    out = (_indexed(head, chunks, index, name, max_ratio, n_workers) if n_workers > 1
           else _gunzip(head, chunks, name, max_ratio))
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
            f"archive ({inner}). It starts with: {quote_start(first)}. Check the URL; a module URL must serve a "
            ".tar.gz of the module directory.")
    yield first
    yield from out


def check_ratio(name, consumed, produced, max_ratio):
    """The expansion-ratio cap: past RATIO_FLOOR bytes out, at most max_ratio bytes out per byte in."""
    if produced > RATIO_FLOOR and produced > max_ratio * consumed:
        raise errors.ArchiveError(
            f"Module URL {name}: {consumed} compressed bytes expanded to {produced} (more than "
            f"{max_ratio}:1); refusing it as a decompression bomb. Raise HUBFN_MAX_RATIO if this "
            "module is genuine.")


def _starts_a_tar(data):
    """True if `data` begins with a tar header (or the end marker of an empty tar)."""
    block = data[:BLOCK]
    return len(block) == BLOCK and (block == ZERO_BLOCK or block[257:262] == b"ustar" or checksum_ok(block))


def _indexed(head, chunks, index, name, max_ratio, n_workers):
    """A gzip stream with a block index, inflated on several cores (hubfn.fetch.store.blocks), then what
    follows its trailer as _gunzip takes it: zero padding, or another gzip member."""
    tail = yield from blocks.gunzip(head, chunks, index, name, lambda c, p: check_ratio(name, c, p, max_ratio),
                                   n_workers)
    while tail is not None:
        if tail.strip(b"\0"):
            if tail[:2] != b"\x1f\x8b"[:len(tail)]:
                raise errors.ArchiveError(f"Module URL {name}: unexpected bytes after the gzip data.")
            yield from _gunzip(tail, chunks, name, max_ratio)
            return
        tail = next(chunks, None)


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
            check_ratio(name, consumed, produced, max_ratio)
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

    def _pieces(self, n, what):
        """The next n bytes, as views of the chunks they arrived in (no copies); a truncated archive is
        an error naming `what`."""
        if n < 0:  # sizes are checked by tarheader; this guard keeps a slip there from ever looping
            raise errors.ArchiveError(f"Module URL {self.name}: a negative length in {what}.")
        while n:
            if not self.buf and not self._fill():
                raise self.truncated(what)
            take = self.buf[:n]
            self.buf = self.buf[len(take):]
            n -= len(take)
            yield take

    def read(self, n, what):
        return b"".join(self._pieces(n, what))

    def skip(self, n, what):
        """Discard n bytes without holding them (member data of directories and links)."""
        for _ in self._pieces(n, what):
            pass

    def copy(self, fd, n, what, sink=None):
        """Write n bytes to the file descriptor fd, passing each piece to sink() too (the content hash)."""
        for view in self._pieces(n, what):
            if sink is not None:
                sink(view)
            while view:
                view = view[os.write(fd, view):]

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
