"""Inflate a gzip stream whose header carries a block index (hubfn.util.gzindex) on several cores.

`hubfn pack` archives carry one; any other gzip goes through hubfn.fetch.store.archive's serial decoder. The
compressed bytes of each block are gathered as the download brings them and handed to a small thread
pool (isal releases the GIL while it inflates); the outputs are yielded in order, at most OUT_CHUNK
bytes at a time, with at most `workers + 1` blocks in flight, so memory stays bounded (blocks expand to
at most gzindex.MAX_BLOCK bytes). Every check of the serial path holds: each block must inflate to
exactly the bytes the index says and end where it says (the last with the final-block bit), the gzip
trailer's CRC-32 and size must match the whole output, the stream must not stop early, and the
expansion-ratio cap applies.
"""

import collections
import os
import struct
from concurrent.futures import ThreadPoolExecutor

from isal import isal_zlib

from ... import errors

OUT_CHUNK = 1 << 20  # most bytes of one decoder call, as on the serial path
MAX_WORKERS = 4  # past a few cores the download, the tar parsing and the writes are the limit


def workers(wanted=0) -> int:
    """Decoder threads: `wanted` (Settings.inflate_threads, HUBFN_INFLATE_THREADS) if above 0, else the
    process's CPUs (as its affinity allows),
    at most MAX_WORKERS. With one, hubfn.fetch.store.archive decodes the stream serially (it is plain gzip):
    a block decoded whole before its output moves on would stall the writes behind it."""
    if wanted > 0:
        return wanted
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cpus))


class Damaged(Exception):
    """A block that does not inflate as the index says."""


def gunzip(head, chunks, index, name, check_ratio, n_workers=None):
    """Yields the tar bytes of the indexed gzip stream starting with `head` and going on with `chunks`;
    returns the bytes read past its trailer (once that is checked), for the caller to judge.
    check_ratio(consumed, produced): the caller's expansion-ratio cap, raising when it is passed."""
    n_workers = n_workers or workers()
    layout = index.layout
    rest = memoryview(head)[index.header_size:]  # bytes read and not yet given to a block
    consumed = len(head)
    pool = ThreadPoolExecutor(n_workers, thread_name_prefix="hubfn-inflate") if n_workers > 1 else None
    in_flight = collections.deque()
    crc = produced = 0
    try:
        for i, length in enumerate(index.lengths):
            pieces = []  # views of the chunks as they came: a block is never copied into one buffer
            while length:
                if not rest:
                    chunk = next(chunks, None)
                    if chunk is None:
                        raise errors.ArchiveError(
                            f"Module URL {name}: the archive is truncated (the gzip stream stops in block "
                            f"{i + 1} of {layout.count}). The download was cut short; try again.")
                    consumed += len(chunk)
                    rest = memoryview(chunk)
                pieces.append(rest[:length])
                length -= len(pieces[-1])
                rest = rest[len(pieces[-1]):]
            args = (pieces, layout.size_of(i), i == layout.count - 1)
            in_flight.append(pool.submit(_inflate, *args) if pool else _Done(_inflate(*args)))
            while in_flight and (len(in_flight) > n_workers or i == layout.count - 1):
                outs, block_crc, size = _result(in_flight.popleft(), name)
                crc = isal_zlib.crc32_combine(crc, block_crc, size)
                produced += size
                check_ratio(consumed, produced)
                yield from outs
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)
    trailer = bytes(rest)
    while len(trailer) < 8:
        chunk = next(chunks, None)
        if chunk is None:
            raise errors.ArchiveError(f"Module URL {name}: the archive is truncated (the gzip trailer is "
                                      "missing). The download was cut short; try again.")
        trailer += chunk
    want_crc, want_size = struct.unpack_from("<II", trailer)
    if want_crc != crc or want_size != produced & 0xFFFFFFFF:
        raise errors.ArchiveError(f"Module URL {name}: the gzip data is corrupt (its CRC-32 or size does not "
                                  "match what it inflates to).")
    return trailer[8:]


def _inflate(pieces, size, last):
    """(outputs of at most OUT_CHUNK bytes, their CRC-32, their size) of one block, fed piece by piece
    (small outputs stay in the CPU's cache on their way to the writes)."""
    d = isal_zlib.decompressobj(wbits=-15)
    outs, crc, got = [], 0, 0
    try:
        for pending in pieces:
            while pending:
                out = d.decompress(pending, OUT_CHUNK)
                pending = d.unconsumed_tail
                got += len(out)
                if got > size:
                    raise Damaged(f"it inflates to more than the {size} bytes its index says")
                if out:
                    crc = isal_zlib.crc32(out, crc)
                    outs.append(out)
    except isal_zlib.error as e:
        raise Damaged(str(e)) from None
    if got != size or d.eof != last or last and d.unused_data:
        raise Damaged(f"it inflates to {got} bytes{', and ends' if d.eof and not last else ''}, not the {size} "
                      "its index says")
    return outs, crc, got


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def _result(future, name):
    try:
        return future.result()
    except Damaged as e:
        raise errors.ArchiveError(f"Module URL {name}: the gzip data is corrupt (a block of its index: {e}). "
                                  "The archive is damaged; fetch or pack it again.") from None
