"""Pack: a module directory -> one deterministic .tar.gz, the body of the hosting protocol.

The archive is what `tar -cz --owner=0 --group=0 -C DIR .` would write (entries `./`, `./saved_model.pb`,
`./variables/...`), which is the layout tensorflow_hub and hubfn unpack. It is made deterministic so that
the same module always packs to the same bytes (ETags stay valid, mirrors can compare checksums):
entries sorted by name, one fixed mtime (SOURCE_DATE_EPOCH when set), uid/gid 0 without user names,
modes normalised to 0755/0644, and a gzip header without a name or time.

Weights are mostly incompressible, so speed comes from the compressor: ISA-L at level 1 gives the same
ratio as zlib level 6 at more than ten times the speed. The deflate data is cut into independent blocks
whose sizes go into the gzip header (hubfn.util.gzindex), so hubfn can inflate them on several cores;
to every other reader it is one ordinary gzip member. Tar headers are written by hand (not through
`tarfile.addfile`) so file contents go to the compressor in large blocks without per-16-KiB Python work.
"""

import os
import stat
import struct
import tarfile

import attrs
from isal import isal_zlib

from .. import errors
from ..savedmodel import moduledir
from ..settings import process_setting
from ..util import fs, gzindex

# 2000-01-01T00:00:00Z. Not 0: some tar versions warn about "implausibly old" 1970 timestamps.
DEFAULT_MTIME = 946684800
COMPRESS_LEVEL = 1  # ISA-L levels are 0-3; 1 matches zlib -6's ratio on weights at ~10x its speed
_BLOCK = 4 << 20  # read/compress in 4 MiB blocks: few Python calls, bounded memory


@attrs.frozen
class Entry:
    """One archive member: its name in the archive, where it is on disk, and its stat facts."""

    arcname: str  # "./" for the root, "./variables/" for directories, "./saved_model.pb" for files
    path: str
    is_dir: bool
    size: int
    mode: int  # normalised: 0o755 or 0o644
    mtime_ns: int  # the file's own mtime; used to notice changes, never written into the archive


def check_module_dir(module_dir) -> str:
    """The absolute path of `module_dir` if it holds saved_model.pb, else a typed error naming it."""
    path = os.path.abspath(os.fspath(module_dir))
    return moduledir.check_module_dir(path, path)


def module_entries(module_dir) -> tuple:
    """Every member of the module's archive, in archive order (depth first, names sorted bytewise).

    Symlinks are followed only while they stay inside the module directory; one that leads out would put
    a file from elsewhere into a published archive, so it is an ExportError naming the link.
    """
    root = check_module_dir(module_dir)
    real_root = os.path.realpath(root)
    entries = [_entry("./", root, os.stat(root))]
    visited = {real_root}
    _walk(root, "./", real_root, visited, entries)
    return tuple(entries)


def _walk(dir_path, prefix, real_root, visited, out):
    with os.scandir(dir_path) as it:
        children = sorted(it, key=lambda e: os.fsencode(e.name))
    for child in children:
        arcname = prefix + child.name
        if child.is_symlink():
            target = os.path.realpath(child.path)
            if not fs.is_inside(real_root, target):
                raise errors.ExportError(
                    f"Cannot pack {child.path!r}: it is a symlink to {target!r}, outside the module. "
                    "Replace it with a copy of the file, or remove it."
                )
        try:
            st = os.stat(child.path)  # follows in-module symlinks
        except FileNotFoundError:
            raise errors.ExportError(
                f"Cannot pack {child.path!r}: it is a broken symlink or vanished while packing; remove it."
            ) from None
        if stat.S_ISDIR(st.st_mode):
            real = os.path.realpath(child.path)
            if real in visited:  # a symlink loop, or the same directory reached twice
                raise errors.ExportError(
                    f"Cannot pack {child.path!r}: it leads to a directory already packed ({real!r})."
                )
            visited.add(real)
            out.append(_entry(arcname + "/", child.path, st))
            _walk(child.path, arcname + "/", real_root, visited, out)
        elif stat.S_ISREG(st.st_mode):
            out.append(_entry(arcname, child.path, st))
        else:
            raise errors.ExportError(
                f"Cannot pack {child.path!r}: it is not a regular file or directory (a fifo, socket or "
                "device). Remove it from the module directory."
            )


def _entry(arcname, path, st) -> Entry:
    is_dir = stat.S_ISDIR(st.st_mode)
    mode = 0o755 if is_dir or st.st_mode & 0o111 else 0o644
    return Entry(arcname=arcname, path=path, is_dir=is_dir, size=0 if is_dir else st.st_size,
                 mode=mode, mtime_ns=st.st_mtime_ns)


def archive_mtime() -> int:
    """The one mtime written for every member: SOURCE_DATE_EPOCH if set (reproducible builds), else 2000-01-01."""
    value = process_setting("source_date_epoch")
    if not value:
        return DEFAULT_MTIME
    try:
        return max(0, int(value))
    except ValueError:
        raise errors.ExportError(
            f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds; set it to e.g. 1700000000 or unset it."
        ) from None


def pack_module(module_dir, output, level=COMPRESS_LEVEL) -> str:
    """Write `module_dir` as a deterministic .tar.gz at `output`; returns the absolute output path.

    The archive is written to a temporary file beside `output` and renamed into place, so readers (and a
    server handing it out) never see a partial archive. It is not fsynced: a crash may lose it, never
    leave half of it under the final name.
    """
    entries = module_entries(module_dir)
    root = entries[0].path
    output = os.path.abspath(os.fspath(output))
    real_out = os.path.realpath(output)
    real_root = os.path.realpath(root)
    if fs.is_inside(real_root, real_out) and real_out != real_root:
        raise errors.ExportError(
            f"Cannot pack {root!r} into {output!r}: the archive would be inside the module it packs. "
            "Write it somewhere outside the module directory."
        )
    if os.path.isdir(output):
        raise errors.ExportError(f"Cannot pack to {output!r}: it is a directory; name a file such as module.tar.gz.")
    parent = os.path.dirname(output)
    os.makedirs(parent, exist_ok=True)
    mtime = archive_mtime()
    with fs.atomic_file(output) as f:  # shared mode, not mkstemp's 0600: an archive is meant to be shared
        _write_archive(f, entries, mtime, level)
    return output


def _header(entry: Entry, mtime: int) -> bytes:
    info = tarfile.TarInfo(entry.arcname)
    info.type = tarfile.DIRTYPE if entry.is_dir else tarfile.REGTYPE
    info.size = entry.size
    info.mode = entry.mode
    info.mtime = mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    # GNU format like GNU tar; names over 100 bytes get a ././@LongLink member, as tar writes them.
    return info.tobuf(tarfile.GNU_FORMAT, "utf-8", "surrogateescape")


def _tar_size(entries, headers) -> int:
    """The archive's tar bytes: headers, contents padded to whole blocks, the end marker, record padding."""
    size = sum(len(h) for h in headers) + sum(-(-e.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE for e in entries)
    size += 2 * tarfile.BLOCKSIZE
    return size + -size % tarfile.RECORDSIZE


def _write_archive(f, entries, mtime, level):
    headers = [_header(e, mtime) for e in entries]
    layout = gzindex.Layout.for_total(_tar_size(entries, headers))
    f.write(gzindex.header(layout, [0] * layout.count))  # its lengths are filled in at the end
    out = _BlockWriter(f, layout, level)
    buf = bytearray(_BLOCK)
    view = memoryview(buf)
    for entry, head in zip(entries, headers):
        out.put(head)
        if entry.is_dir:
            continue
        remaining = entry.size
        with open(entry.path, "rb", buffering=0) as src:
            while remaining > 0:
                n = src.readinto(view[:min(_BLOCK, remaining)])
                if not n:
                    raise errors.ExportError(
                        f"Cannot pack {entry.path!r}: it shrank while being packed. Pack again once the "
                        "module is no longer being written."
                    )
                out.put(view[:n])
                remaining -= n
        if entry.size % tarfile.BLOCKSIZE:
            out.put(bytes(tarfile.BLOCKSIZE - entry.size % tarfile.BLOCKSIZE))
    # End of archive: two zero blocks, then zeros up to a whole 10 KiB record, as tar pads.
    out.put(bytes(layout.total - out.written))
    lengths = out.finish()
    f.seek(0)
    f.write(gzindex.header(layout, lengths))


class _BlockWriter:
    """The tar bytes given to put() as hubfn.util.gzindex blocks: raw deflate, a fresh compressor per
    block, each block but the last ended by a sync flush; then the gzip trailer (CRC-32, size)."""

    def __init__(self, f, layout, level):
        self.f, self.layout, self.level = f, layout, level
        self.written = 0  # tar bytes so far
        self.crc = 0
        self.lengths = []
        self._comp, self._in_block, self._out = None, 0, 0

    def put(self, data):
        view = memoryview(data)
        self.crc = isal_zlib.crc32(view, self.crc)
        while len(view):
            if self._comp is None or self._in_block == self.layout.block_size:
                self._end_block(isal_zlib.Z_SYNC_FLUSH)
                self._comp = isal_zlib.compressobj(self.level, isal_zlib.DEFLATED, -15)
            n = min(len(view), self.layout.block_size - self._in_block)
            self._emit(self._comp.compress(view[:n]))
            self._in_block += n
            self.written += n
            view = view[n:]

    def _emit(self, data):
        if data:
            self.f.write(data)
            self._out += len(data)

    def _end_block(self, mode):
        if self._comp is not None:
            self._emit(self._comp.flush(mode))
            self.lengths.append(self._out)
        self._comp, self._in_block, self._out = None, 0, 0

    def finish(self):
        self._end_block(isal_zlib.Z_FINISH)
        self.f.write(struct.pack("<II", self.crc & 0xFFFFFFFF, self.written & 0xFFFFFFFF))
        if self.written != self.layout.total or len(self.lengths) != self.layout.count:  # (a bug, not input)
            raise AssertionError(f"packed {self.written} tar bytes in {len(self.lengths)} blocks, "
                                 f"expected {self.layout.total} in {self.layout.count}")
        return self.lengths
