"""Free space for downloads: checked before the body is read, and a full disk reported as such at once.

The rule: a download of an archive of A bytes (Content-Length, or the total of a Content-Range) with K
bytes already kept from an earlier attempt needs (A - K) + A bytes free in the cache directory: the
rest of the archive, and the module it unpacks to, counted as A again (both live side by side until the
module is in place; trained weights compress about 1.1:1, so the module is rarely smaller). A module
that expands more (vocabularies, ~4:1) can still fill the disk while unpacking: that, and a disk that
fills during the download, is the same DiskFullError at once (a full disk is no network drop to retry),
and the bytes downloaded so far are kept for a later resume. Without a known size no early check runs.
"""

import errno
import os
import shutil

from ... import errors
from ...util import fs

FULL = (errno.ENOSPC, errno.EDQUOT)


def free_bytes(directory):
    """Bytes an unprivileged writer may still use on the filesystem of `directory`."""
    return shutil.disk_usage(directory).free


def needed(total, have=0):
    return max(0, total - have) + total


def is_full(e):
    return isinstance(e, OSError) and not isinstance(e, errors.HubError) and e.errno in FULL


def check_room(directory, url, total, have=0):
    """Raise DiskFullError when `directory` cannot hold what the rule above needs."""
    if total is None:
        return
    need = needed(total, have)
    free = free_bytes(directory)
    if free < need:
        raise full_error(directory, url, total, have, free=free, early=True)


def full_error(directory, url, total=None, have=0, free=None, early=False):
    if free is None:
        try:
            free = free_bytes(directory)
        except OSError:
            free = 0
    if total is not None:
        want = needed(total, have)
        need = (f"needs {want} bytes free ({fs.size_text(want, largest='TiB')}: "
                f"{max(0, total - have)} for the rest of the {total}-byte archive and {total} for the "
                f"unpacked module)")
    else:
        need = "needs more room (the archive's size is not known)"
    when = "before downloading" if early else "while downloading or unpacking"
    return errors.DiskFullError(
        f"Module URL {url}: not enough free space in {os.path.abspath(directory)} ({when}): the download "
        f"{need}, {free} bytes ({fs.size_text(free, largest='TiB')}) are free. Free some space or set "
        "TFHUB_CACHE_DIR to a larger disk; the bytes downloaded so far are kept, and the next attempt "
        "continues from them.")
