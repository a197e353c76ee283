"""A checked directory becomes the cache entry: it must be a module, it is renamed into place beside
tensorflow_hub's descriptor, and its manifest (hubfn.fetch.store.manifest) is recorded.
"""

import datetime
import logging
import os
import shutil
import socket

from ... import errors
from ...util import fs
from . import manifest

log = logging.getLogger("hubfn")


def check_module(tmp, url):
    """Raise NotAModuleError unless the unpacked directory `tmp` is a module (saved_model.pb at its root)."""
    if os.path.isfile(os.path.join(tmp, "saved_model.pb")):
        return
    names = os.listdir(tmp)
    hint = ""
    if len(names) == 1 and os.path.isfile(os.path.join(tmp, names[0], "saved_model.pb")):
        hint = (f" It holds one directory {names[0]!r} with the module inside; the archive's root must "
                "be the module directory itself.")
    raise errors.NotAModuleError(f"Module URL {url}: the archive has no saved_model.pb at its root, so it is "
                                 f"not a TF Hub module.{hint}")


def install(handle, url, paths, tmp, result):
    """Move the checked directory into place; then record its manifest (a crash in between leaves an
    entry without manifest, which is still checked like a tensorflow_hub entry)."""
    fs.unlink_if_present(paths.manifest)
    write_descriptor(handle, paths)
    try:
        os.rename(tmp, paths.entry)
    except OSError:
        # tensorflow_hub (which ignores our lock) finished first: use its entry, ours is the same module.
        shutil.rmtree(tmp, ignore_errors=True)
        log.info("Module %s was cached meanwhile by another program; using that copy.", handle)
        return
    manifest.write(paths, handle, url, result)


def write_descriptor(handle, paths):
    """`<hash>.descriptor.txt` in tensorflow_hub's words; informational, written atomically."""
    text = (f"Module: {handle}\nDownload Time: {datetime.datetime.today()}\n"
            f"Downloader Hostname: {socket.gethostname()} (PID:{os.getpid()})")
    fs.write_text_atomically(paths.descriptor, text)
