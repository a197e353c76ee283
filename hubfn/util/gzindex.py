"""The block index hubfn pack writes into a gzip header, so a reader can inflate the blocks in parallel.

A `hubfn pack` archive is one ordinary gzip member, which every gzip reader reads as before (a
multi-member gzip is ruled out: Python's tarfile in stream mode, which tensorflow_hub's resolver uses,
reads only the first member). Its deflate data is cut into blocks of `block_size` tar bytes, each
compressed by a fresh compressor (no back-references into the block before) and ended by a sync flush
(an empty stored block that leaves the stream byte-aligned and open). So each block is a raw deflate
stream of its own, and the last one carries the final-block bit.

Where the blocks start is in the header's comment (FCOMMENT, which readers skip; not FEXTRA: Python's
tarfile in stream mode reads an FEXTRA field through its decompressor and fails), as ASCII:
    "hubfn-gzindex 1 " block_size " " total " " count " " length_1 ... length_count
each number 16 hex digits (count and the lengths 8), a space between the lengths too. block_size: tar
bytes per block (the last holds the rest), total: tar bytes in all, count: ceil(total / block_size), the
lengths: compressed bytes of each block, in order. The fixed widths give a layout a fixed header size,
so pack writes it with zero lengths first and again with the real ones at the end.

The index is a hint: a header whose index does not parse is read serially, and blocks that do not
inflate to what the index says are a damaged archive (the gzip trailer's CRC and size are checked over
the whole output as well).
"""

import attrs

TAG = b"hubfn-gzindex 1 "
MIN_BLOCK = 64 << 10
MAX_BLOCK = 64 << 20  # what one block may expand to: bounds a reader's memory per block
DEFAULT_BLOCK = 4 << 20
MAX_COUNT = 1 << 14  # 16384 blocks (a 150 KB header); bigger modules get bigger blocks
FCOMMENT = 16
MAX_HEADER = 10 + len(TAG) + 3 * 17 + 9 * MAX_COUNT + 1


@attrs.frozen
class Layout:
    """How a tar stream of `total` bytes is cut into blocks."""

    block_size: int
    total: int

    @property
    def count(self) -> int:
        return -(-self.total // self.block_size)

    def size_of(self, i) -> int:
        """Tar bytes in block `i`."""
        return min(self.block_size, self.total - i * self.block_size)

    @classmethod
    def for_total(cls, total, block_size=DEFAULT_BLOCK):
        """Blocks of `block_size`, doubled until the index fits in a gzip header."""
        while -(-total // block_size) > MAX_COUNT:
            block_size *= 2
        return cls(block_size, total)


@attrs.frozen
class Index:
    layout: Layout
    lengths: tuple  # compressed bytes of each block
    header_size: int  # bytes of the gzip header, where block 0 starts


def header(layout: Layout, lengths) -> bytes:
    """The gzip header (no name, mtime 0, OS unknown) with the index as its comment."""
    comment = TAG + b"%016x %016x %08x" % (layout.block_size, layout.total, layout.count) + b"".join(
        b" %08x" % n for n in lengths)
    return b"\x1f\x8b\x08" + bytes([FCOMMENT]) + b"\0\0\0\0" + b"\0\xff" + comment + b"\0"


def parse(head: bytes):
    """The Index in the gzip header at the start of `head`, or None (no index, or one that does not
    parse: then the stream is read serially like any other gzip). A header this could parse ends within
    MAX_HEADER bytes."""
    if head[:4] != b"\x1f\x8b\x08" + bytes([FCOMMENT]) or head[10:10 + len(TAG)] != TAG:
        return None
    end = head.find(b"\0", 10, MAX_HEADER)
    if end < 0:
        return None
    fields = head[10 + len(TAG):end].split(b" ")
    try:
        block_size, total, count = (int(f, 16) for f in fields[:3])
        lengths = tuple(int(f, 16) for f in fields[3:])
    except ValueError:
        return None
    layout = Layout(block_size, total)
    if (not MIN_BLOCK <= block_size <= MAX_BLOCK or total < 1 or count != layout.count or count > MAX_COUNT
            or len(lengths) != count or not all(0 < n <= 2 * MAX_BLOCK for n in lengths)):
        return None
    return Index(layout, lengths, end + 1)


def wants_more(head: bytes) -> bool:
    """Whether `head`, the stream's first bytes, may be the start of an indexed header not yet whole."""
    return (len(head) < MAX_HEADER and head[:4] == b"\x1f\x8b\x08" + bytes([FCOMMENT])
            and head[10:10 + len(TAG)] == TAG[:max(0, len(head) - 10)] and b"\0" not in head[10:])
