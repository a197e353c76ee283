"""The one fetch into the cache, for every source: a Location -> a checked module directory.

A locator (hubfn.fetch.sources: TF Hub's protocol, a plain archive URL, Kaggle Models) says what to fetch:
the cache key, the URL, the credentials of the hosts it speaks for. `fetch_to_cache` does the rest, the
same way for all of them:
    the entry whole already?   the manifest's cheap check (hubfn.fetch.store.manifest); offline stops here
    lock                       one download per entry across processes (hubfn.fetch.store.lock)
    download                   resumable, budgeted, in a thread of its own: concurrent range requests when
                               the storage host allows them (hubfn.fetch.transport.parallel), else one
                               connection (hubfn.fetch.transport.download); parallel_http chooses
    extract                    gunzip and tar into a temporary sibling, refusing anything unsafe
                               (hubfn.fetch.store.extract)
    install                    checked, renamed into place, manifest recorded (hubfn.fetch.store.install)
The layout of the cache is hubfn.fetch.store.layout's; listing, verifying and removing entries are
hubfn.fetch.manage's.

No TensorFlow import here or below (see hubfn.fetch).
"""

import logging
import os
import shutil
import uuid
import warnings

from .. import errors
from ..settings import Settings
from ..util import fs
from .sources.location import Location
from .store import extract, install, manifest, prefetch
from .store.layout import Paths
from .store.lock import Locked
from .transport import disk, parallel_http, retry

log = logging.getLogger("hubfn")


def fetch_to_cache(location: Location, settings: Settings) -> str:
    """The local directory of the module at `location` (from a locator), downloading it once into the cache.

    settings: the call's. The entry is keyed by location.key; location.url is what is downloaded, with
    location.auth for the hosts the source speaks for. A failure is said in the source's words
    (location.reword); location.fetched runs once the entry exists.
    """
    try:
        path = _entry(location.key, settings, location.url, tuple(location.auth))
    except errors.HubError as e:
        better = location.reword(e) if location.reword is not None else e
        if better is e:
            raise
        raise better from None
    if location.fetched is not None:
        location.fetched(path)
    return path


def _entry(handle, settings, url, extra_auth):
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
            _fetch_locked(handle, paths, settings, url, extra_auth)
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
                  stacklevel=5)


def _source(url, paths, settings, extra_auth, budget=None):
    return parallel_http.open_download(url, paths.partial, paths.partial_info, settings, extra_auth, budget)


def _fetch_locked(handle, paths, settings, url, extra_auth):
    for tmp in paths.tmp_dirs():  # left by a killed process; we hold the lock, so nobody uses them
        fs.remove_tree(tmp)
    source = _source(url, paths, settings, extra_auth)
    # Ends by a break or an error: each new start is one more attempt of source.budget
    # (hubfn.fetch.transport.retry), which refuses them once its count or its time is spent.
    while True:
        tmp = f"{paths.entry}.hubfn-tmp-{uuid.uuid4().hex}"
        os.mkdir(tmp)
        try:
            result = _unpack(source, tmp, url, settings)
            install.check_module(tmp, url)
            break
        except parallel_http.RESTARTS:  # counted (and waited for) by the budget when the body broke
            shutil.rmtree(tmp, ignore_errors=True)
            source.discard_partial()  # the server cannot continue it, or the archive changed: begin again
            source = _source(url, paths, settings, extra_auth, budget=source.budget)
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
            source = _source(url, paths, settings, extra_auth, budget=source.budget)
        except BaseException as e:
            shutil.rmtree(tmp, ignore_errors=True)  # the partial file stays for the next attempt
            if disk.is_full(e):  # unpacking filled the disk: the same clear error as before a download
                raise disk.full_error(paths.root, url, source.total, _size_of(paths.partial)) from None
            raise
    install.install(handle, url, paths, tmp, result)
    source.discard_partial(background=True)  # the caller need not wait while a big file is freed


def _unpack(source, dest, url, settings):
    """The source's archive unpacked into `dest` as it arrives: network reads and partial-file writes run
    in a thread, gzip decoding in another (hubfn.fetch.store.prefetch), tar writes and hashes here."""
    feed = prefetch.Prefetched(source.chunks(), on_stop=source.stop, name="hubfn-download", batch=True)
    try:
        return extract.extract(feed, dest, url, settings, on_stop=feed.stop)
    finally:
        feed.close()  # stops the producer now, not when the traceback is collected


def unpack_url(url, partial, dest, settings, extra_auth=(), budget=None, stats=None):
    """Download the archive at `url` (through the partial file `partial`) into the directory `dest`, unpacked
    as it arrives: what fetch_to_cache does for an entry, without the cache's lock, entry and manifest (the
    benchmark and the parallel download's tests measure the download itself this way). stats: a dict that
    receives the parallel download's counters (requests, received, kept, refollows, connections) and whether
    it ran."""
    budget = budget or retry.start(settings.retry)
    while True:
        if os.path.lexists(dest):
            fs.remove_tree(dest)
        os.mkdir(dest)
        source = parallel_http.open_download(url, partial, partial + ".info.json", settings, extra_auth, budget)
        try:
            result = _unpack(source, dest, url, settings)
        except parallel_http.RESTARTS:
            source.discard_partial()
            continue
        except Exception:
            source.discard_partial()
            fs.remove_tree(dest)
            raise
        if stats is not None:
            parallel_run = isinstance(source, parallel_http.ParallelSource)
            stats.update(ranged=parallel_run, **{k: getattr(source.download, k, 0) if parallel_run else 0
                                                 for k in ("requests", "received", "kept", "refollows", "connections")})
        source.discard_partial(background=True)
        return result


def _size_of(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
