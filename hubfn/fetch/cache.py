"""The module cache, shared with the tensorflow_hub package: fetch an http(s) handle into its entry.

The layout of the cache is described (and its paths computed) in hubfn.fetch.layout; listing, verifying
and removing entries live in hubfn.fetch.manage. Their public names are importable from here too.

No TensorFlow import here or below (see hubfn.fetch.http).
"""

import datetime
import logging
import os
import shutil
import socket
import uuid
import warnings

from .. import errors
from ..settings import Settings
from ..util import fs
from . import disk, download, extract, http, manifest, prefetch
from .layout import Locked, Paths, cache_dir  # noqa: F401 - public names, re-exported
from .manage import CacheEntry, cache_list, cache_remove, cache_verify  # noqa: F401 - public names

log = logging.getLogger("hubfn")


def fetch_to_cache(handle: str, settings: Settings, url=None, extra_auth=()) -> str:
    """The local directory of the http(s) module `handle`, downloading it once into the cache.

    settings: the call's settings. url: what to download (default: hubfn.fetch.http.download_url(handle));
    the cache entry is always keyed by `handle` as given.
    extra_auth: (host, Authorization) pairs for a resolver's own API host (hubfn.fetch.auth).
    """
    paths = Paths.for_handle(handle, settings.cache_dir)
    problem = manifest.check_entry(paths, handle)
    if problem is None:
        return paths.entry
    if settings.offline:
        state = (f"is not in the cache {paths.root}" if problem == manifest.MISSING
                 else f"is damaged in the cache {paths.root} ({problem})")
        raise errors.OfflineError(
            f"Module {handle!r} {state} and HUBFN_OFFLINE (or offline=True) says to stay offline, so it "
            "cannot be downloaded. Unset HUBFN_OFFLINE (or pass offline=False), or fetch it once while online.",
            handle=handle, keywords=[("offline", True), ("offline", False)])
    if problem != manifest.MISSING:
        _warn_damaged(handle, paths, problem)
    try:
        os.makedirs(paths.root, exist_ok=True)
        with Locked(paths, handle):
            problem = manifest.check_entry(paths, handle)  # another process may have fetched it meanwhile
            if problem is None:
                return paths.entry
            if os.path.lexists(paths.entry):
                fs.remove_tree(paths.entry)
            _fetch_locked(handle, paths, settings, url or http.download_url(handle, settings), tuple(extra_auth))
    except OSError as e:
        if isinstance(e, errors.HubError):
            raise
        if disk.is_full(e):
            raise disk.full_error(paths.root, handle) from None
        # Read-only or foreign-owned cache directory: say where, and what to do.
        raise errors.CacheError(
            f"Module {handle!r}: cannot write the cache directory {paths.root} ({e.strerror or e}). Free "
            "some space or set TFHUB_CACHE_DIR to a writable directory.") from e
    return paths.entry


def _warn_damaged(handle, paths, problem):
    # Said once, as a warning (which Python prints to stderr, and callers can filter or turn into errors).
    warnings.warn(f"Cache entry {paths.entry} of {handle!r} is damaged ({problem}); downloading it again.",
                  stacklevel=4)


def _fetch_locked(handle, paths, settings, url, extra_auth):
    for tmp in paths.tmp_dirs():  # left by a killed process; we hold the lock, so nobody uses them
        shutil.rmtree(tmp, ignore_errors=True)
    source = download.Source(url, paths.partial, settings, extra_auth)
    # Ends by a break or an error: each new start is one more attempt of source.budget (hubfn.fetch.retry),
    # which refuses them once its count or its time is spent.
    while True:
        tmp = f"{paths.entry}.hubfn-tmp-{uuid.uuid4().hex}"
        os.mkdir(tmp)
        # Network reads and partial-file writes run in a thread, gzip decoding in another (hubfn.fetch.prefetch).
        feed = prefetch.Prefetched(source.chunks(), on_stop=source.stop, name="hubfn-download")
        try:
            try:
                result = extract.extract(feed, tmp, url, settings, on_stop=feed.stop)
            finally:
                feed.close()  # stops the producer now, not when the traceback is collected
            _check_module(tmp, url)
            break
        except download.Restart:  # counted (and waited for) by the budget when the body broke
            shutil.rmtree(tmp, ignore_errors=True)
            source.discard_partial()  # the server cannot continue it: begin again at byte 0
        except (errors.ArchiveError, errors.NotAModuleError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            source.discard_partial()  # the served bytes are bad: resuming from them would fail again
            # Bytes kept from an earlier attempt were part of it: a server whose validator did not change
            # with the archive can still splice. One more attempt, all from the network (the partial is
            # gone, so this happens at most once), without a wait: the server did not fail.
            if not source.resumed_from or source.budget.next_attempt() is None:
                raise
            log.warning("Module URL %s: the archive made with bytes kept from an earlier attempt is damaged "
                        "(%s); downloading it again from the start.", url, e)
            source = download.Source(url, paths.partial, settings, extra_auth, budget=source.budget)
        except BaseException as e:
            shutil.rmtree(tmp, ignore_errors=True)  # the partial file stays for the next attempt
            if disk.is_full(e):  # unpacking filled the disk: the same clear error as before a download
                raise disk.full_error(paths.root, url, source.total, _size_of(paths.partial)) from None
            raise
    _install(handle, url, paths, tmp, result)
    source.discard_partial()


def _size_of(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def _check_module(tmp, url):
    if os.path.isfile(os.path.join(tmp, "saved_model.pb")):
        return
    names = os.listdir(tmp)
    hint = ""
    if len(names) == 1 and os.path.isfile(os.path.join(tmp, names[0], "saved_model.pb")):
        hint = (f" It holds one directory {names[0]!r} with the module inside; the archive's root must "
                "be the module directory itself.")
    raise errors.NotAModuleError(f"Module URL {url}: the archive has no saved_model.pb at its root, so it is "
                                 f"not a TF Hub module.{hint}")


def _install(handle, url, paths, tmp, result):
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
