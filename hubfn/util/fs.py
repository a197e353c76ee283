"""Filesystem primitives, one home each: where a path lies, removing what may be gone, atomic writes,
sizes (measured, and said for people).

Readers of the cache, the pack directory and exported modules must never see half a file or half a
directory, so everything that is written for others goes to a temporary sibling first and is renamed
into place (a rename within one directory is atomic on POSIX).
"""

import contextlib
import json
import os
import shutil
import tempfile
import threading
import uuid

from . import sched


def is_inside(root: str, path: str) -> bool:
    """Whether `path` is `root` or lies below it (both compared as given: pass realpaths to follow links)."""
    root = root.rstrip(os.sep) or os.sep
    return path == root or path.startswith(root if root == os.sep else root + os.sep)


def unlink_if_present(path: str) -> None:
    """os.unlink, where a file already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def remove_tree(path: str) -> None:
    """Remove a directory (or file, or link) so that readers holding files open are not disturbed:
    rename it aside first, then delete; something already gone is fine."""
    aside = f"{path}.hubfn-trash-{uuid.uuid4().hex}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    except OSError:
        aside = path
    if os.path.isdir(aside) and not os.path.islink(aside):
        shutil.rmtree(aside, ignore_errors=True)
    else:
        unlink_if_present(aside)


def remove_in_background(path: str) -> None:
    """Delete the file `path` now, but let the kernel free its pages in a thread of its own, so the caller
    does not wait for that (about 40 ms for a 150 MB download's partial file).

    The name goes at once (os.unlink), while an open descriptor keeps the file's data alive; closing that
    descriptor frees it, in the thread. The thread is not a daemon, so the interpreter waits for it at
    exit; a process killed meanwhile has its descriptors closed by the OS. Nothing is left behind either way.
    """
    if os.name == "nt":  # an open file cannot be deleted there
        unlink_if_present(path)
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.unlink(path)
    except BaseException:
        os.close(fd)
        raise
    threading.Thread(target=_close_in_batch, args=(fd,), name="hubfn-free-partial", daemon=False).start()


def _close_in_batch(fd):
    sched.as_batch_thread()  # freeing a big file's pages must not preempt a decoder of the next fetch
    os.close(fd)


def file_stamp(path: str) -> tuple:
    """(inode, size, mtime in ns) of the file at `path`: what changes when it is replaced or rewritten.
    An OSError (FileNotFoundError when it is gone) is the caller's to judge."""
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


def tree_size(path: str) -> int:
    """Bytes of the files below `path` (lstat sizes: a link counts as itself); files that vanish while
    walking are skipped."""
    size = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                size += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return size


def size_text(n: int, bytes_unit: str = "B", largest: str = "GiB") -> str:
    """`n` bytes for people, in binary units: "512 B", "1.5 MiB"; at most `largest` ("GiB" or "TiB"),
    and plain bytes named `bytes_unit`."""
    if n < 1024:
        return f"{n} {bytes_unit}"
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        n /= 1024
        if n < 1024 or unit == largest:
            return f"{n:.1f} {unit}"
    raise ValueError(f"size_text: largest must be KiB, MiB, GiB or TiB, not {largest!r}")


def shared_mode(path: str) -> None:
    """Give a file made by mkstemp (0600) the mode a normal open() would (0666 less the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


@contextlib.contextmanager
def atomic_file(path: str, mode: str = "wb", encoding=None):
    """`with atomic_file(p) as f:` writes `p` through a temporary sibling renamed into place on success;
    on error the sibling is removed and `p` is untouched."""
    parent = os.path.dirname(os.path.abspath(path)) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
        shared_mode(tmp)
        os.replace(tmp, path)
    except BaseException:
        unlink_if_present(tmp)
        raise


def write_text_atomically(path: str, text: str) -> None:
    with atomic_file(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_json(path: str, data) -> None:
    """Write `data` as JSON through a temp file and a rename, so readers never see half a file."""
    with atomic_file(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)


def atomic_dir(path: str, write) -> str:
    """Make directory `path` by calling `write(tmp)` on an empty temporary sibling, then renaming it into
    place (replacing a directory already there). On error nothing is left and `path` is untouched.
    Returns `path`."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=parent)
    try:
        write(tmp)
        old = None
        if os.path.isdir(path):
            old = tmp + ".old"
            os.rename(path, old)
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old:
        shutil.rmtree(old, ignore_errors=True)
    return path
