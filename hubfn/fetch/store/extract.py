"""Write the members of a module archive into a fresh directory, refusing anything unsafe.

Refused: absolute paths, '..' components, symlinks and hard links that leave the directory, device
files, FIFOs and unknown member types, and archives over the size/file-count limits. setuid, setgid
and sticky bits are dropped. Files are opened with O_NOFOLLOW|O_EXCL (after unlinking a duplicate) and
every parent directory is checked with realpath, so even a chain of in-archive symlinks cannot steer a
write outside `dest`. Headers are parsed strictly by hubfn.fetch.store.tarheader; each file's content hash
(hubfn.fetch.store.digest) is computed as its bytes go by.
"""

import errno
import os
import stat

from ... import errors
from ...util import fs
from . import archive, digest, prefetch, tarheader

FILE_TYPES = (archive.REGULAR, b"7")  # "7" is a contiguous file: an ordinary file for us
DECODED_AHEAD = 4  # decoded pieces (at most 1 MiB each) the decoder may run ahead of the writes


def extract(chunks, dest, name, settings, on_stop=None) -> archive.Extracted:
    """Extract the tar(.gz) byte chunks into the existing, empty directory `dest`.

    The gzip stream is decoded in a thread of its own (hubfn.fetch.store.prefetch), ahead of the tar parsing,
    file writes and hashes done here. on_stop: called when extracting ends early, so whatever produces
    `chunks` can stop at once (hubfn.fetch.cache passes its download's stop). settings: the call's
    (its archive limits and inflate threads).
    """
    limits = settings.limits
    decoded = prefetch.Prefetched(archive.inflate(chunks, name, limits.max_ratio, settings.inflate_threads),
                                  depth=DECODED_AHEAD,
                                  on_stop=on_stop, name="hubfn-gunzip")
    try:
        return _extract(archive.Stream(decoded, name), os.path.realpath(dest), name, limits)
    finally:
        decoded.close()


def _extract(stream, root, name, limits):
    files, hashes, links, total, count = {}, {}, {}, 0, 0
    for m in tarheader.members(stream, name):
        rel = archive.safe_relpath(m.name, name, "a member")
        count += 1
        if count > limits.max_files:
            raise errors.ArchiveError(
                f"Module URL {name}: the archive has more than {limits.max_files} members; refusing it. "
                "Raise HUBFN_MAX_MODULE_FILES if this module is genuine.")
        if m.type in FILE_TYPES:
            total += m.size
            if total > limits.max_bytes:
                raise errors.ArchiveError(
                    f"Module URL {name}: the archive expands to more than {limits.max_bytes} bytes "
                    f"(member {m.name!r} alone is {m.size}); refusing it as a possible decompression bomb. "
                    "Raise HUBFN_MAX_MODULE_BYTES if this module is genuine.")
        if not rel:  # the archive root ("./") itself
            if m.type != archive.DIRECTORY:
                raise errors.ArchiveError(f"Module URL {name}: a non-directory member named {m.name!r}.")
            continue
        path = os.path.join(root, rel)
        try:
            _member(stream, root, path, rel, m, name, files, hashes, links)
        except OSError as e:
            if e.errno in (errno.ENAMETOOLONG, errno.EILSEQ, errno.EINVAL):  # a name this disk cannot hold
                raise errors.ArchiveError(f"Module URL {name}: member {m.name!r} cannot be written here "
                                          f"({e.strerror}); refusing the archive.") from None
            raise
    stream.drain()
    _audit_links(root, name)
    return archive.Extracted(files=files, links=links, total_bytes=total, hashes=hashes)


def _member(stream, root, path, rel, m, name, files, hashes, links):
    """Write one member (and consume its data) under `root`."""
    _check_parent(root, path, name, m.name)
    for record in (files, hashes, links):  # a later member of the same name replaces it
        record.pop(rel, None)
    if m.type in FILE_TYPES:
        hashes[rel] = _write_file(stream, path, m, name)
        files[rel] = m.size
    elif m.type == archive.DIRECTORY:
        if os.path.lexists(path) and not os.path.isdir(path):
            os.unlink(path)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, (m.mode & 0o777) | 0o700)
    elif m.type == archive.SYMLINK:
        _symlink(root, path, m, name)
        links[rel] = m.linkname
    elif m.type == archive.HARDLINK:
        target_rel = archive.safe_relpath(m.linkname, name, f"a hard link {m.name!r} to")
        target = os.path.join(root, target_rel)
        if not target_rel or target_rel == rel or not os.path.isfile(target) or os.path.islink(target) \
                or not fs.is_inside(root, os.path.realpath(target)):
            raise errors.ArchiveError(f"Module URL {name}: hard link {m.name!r} -> {m.linkname!r} does "
                                      "not point at a file extracted earlier inside the module; refusing it.")
        _unlink(path, name, m.name)
        os.link(target, path)
        files[rel] = files.get(target_rel, os.path.getsize(target))
        hashes[rel] = hashes.get(target_rel) or digest.of_file(target)
    elif m.type in (archive.CHARDEV, archive.BLOCKDEV, archive.FIFO):
        kind = {archive.CHARDEV: "a character device", archive.BLOCKDEV: "a block device",
                archive.FIFO: "a FIFO"}[m.type]
        raise errors.ArchiveError(f"Module URL {name}: member {m.name!r} is {kind}; a module holds only "
                                  "files, directories and links. Refusing the archive.")
    else:
        raise errors.ArchiveError(f"Module URL {name}: member {m.name!r} has tar type {m.type!r}, which "
                                  "hubfn does not extract. Refusing the archive.")
    # Member data is padded to whole blocks; only files and (rarely) others carry data.
    if m.type not in FILE_TYPES:
        stream.skip(m.size + (-m.size % archive.BLOCK), f"member {m.name!r}")


def _check_parent(root, path, name, member):
    parent = os.path.dirname(path)
    if not fs.is_inside(root, os.path.realpath(parent)):
        raise errors.ArchiveError(f"Module URL {name}: member {member!r} would be written through a link that "
                                  "leaves the module; refusing the archive.")
    try:
        os.makedirs(parent, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise errors.ArchiveError(f"Module URL {name}: member {member!r} lies below a member that is not a "
                                  "directory; refusing the archive.") from None


def _unlink(path, name, member):
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            raise errors.ArchiveError(f"Module URL {name}: member {member!r} replaces a directory; refusing "
                                      "the archive.")
        os.unlink(path)


def _write_file(stream, path, m, name):
    _unlink(path, name, m.name)  # a later duplicate replaces the earlier one, as tar does
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, 0o600)
    hasher = digest.new()
    try:
        stream.copy(fd, m.size, f"member {m.name!r}", hasher.update)
        # Drop setuid/setgid/sticky; keep the owner able to read and write (and so delete) the file.
        if hasattr(os, "fchmod"):
            os.fchmod(fd, (m.mode & 0o777) | 0o600)
    finally:
        os.close(fd)
    stream.skip(-m.size % archive.BLOCK, f"member {m.name!r}")
    return hasher.hexdigest()


def _symlink(root, path, m, name):
    target = m.linkname
    if not target or os.path.isabs(target):
        raise errors.ArchiveError(f"Module URL {name}: symlink {m.name!r} -> {target!r} is absolute; "
                                  "refusing it (links must stay inside the module).")
    resolved = os.path.realpath(os.path.join(os.path.dirname(path), target))
    if not fs.is_inside(root, resolved):
        raise errors.ArchiveError(f"Module URL {name}: symlink {m.name!r} -> {target!r} points outside the "
                                  "module; refusing the archive.")
    _unlink(path, name, m.name)
    os.symlink(target, path)


def _audit_links(root, name):
    """A last check over the finished tree: later members may have re-pointed an earlier link."""
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            p = os.path.join(dirpath, entry)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode) and not fs.is_inside(root, os.path.realpath(p)):
                raise errors.ArchiveError(f"Module URL {name}: link {os.path.relpath(p, root)!r} leads outside "
                                          "the module; refusing the archive.")
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                raise errors.ArchiveError(f"Module URL {name}: {os.path.relpath(p, root)!r} is not a file.")
