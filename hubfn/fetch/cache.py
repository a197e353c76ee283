"""The module cache, shared with the tensorflow_hub package: fetch, verify, list and remove entries.

Layout (identical to tensorflow_hub, so either library uses the other's downloads):
    $TFHUB_CACHE_DIR, else <system temp>/tfhub_modules
      <sha1(handle)>/                      the module (renamed into place when whole)
      <sha1(handle)>.descriptor.txt        "Module: <handle>" ..., as tensorflow_hub writes it
hubfn's own files beside it (tensorflow_hub ignores them):
      <sha1>.hubfn-manifest.json   files and sizes of the entry, checked on every cache hit
      <sha1>.hubfn-lock            OS lock (flock) held while fetching; the OS drops it if we die;
                                   deleted by its holder when no entry is made or it is removed
      <sha1>.hubfn-partial(.json)  bytes of an unfinished download and their ETag, for resuming
      <sha1>.hubfn-tmp-<uuid>/     extraction target, renamed to <sha1>/ when checked
We never create tensorflow_hub's own `<sha1>.lock`: a lock file left by a crash makes it wait minutes.

No TensorFlow import here or below (see hubfn.http).
"""

import datetime
import glob
import hashlib
import logging
import os
import re
import shutil
import socket
import tempfile
import uuid
import warnings

import attrs

from .. import errors
from ..util import env, fs, locks
from . import download, extract, http, manifest, prefetch

log = logging.getLogger("hubfn")
HASH_RE = re.compile(r"^[0-9a-f]{40}$")


def cache_dir() -> str:
    """The cache directory: $TFHUB_CACHE_DIR, else <system temp>/tfhub_modules (as tensorflow_hub)."""
    return env.env_path("TFHUB_CACHE_DIR", os.path.join(tempfile.gettempdir(), "tfhub_modules"))


def offline() -> bool:
    return env.env_bool("HUBFN_OFFLINE")


@attrs.frozen
class Paths:
    """Where everything about one handle lives."""

    root: str
    key: str  # sha1 of the handle as given

    @classmethod
    def for_handle(cls, handle, root=None):
        return cls(root or cache_dir(), hashlib.sha1(handle.encode("utf-8")).hexdigest())

    def _p(self, suffix):
        return os.path.join(self.root, self.key + suffix)

    entry = property(lambda self: self._p(""))
    descriptor = property(lambda self: self._p(".descriptor.txt"))
    manifest = property(lambda self: self._p(".hubfn-manifest.json"))
    lock = property(lambda self: self._p(".hubfn-lock"))
    partial = property(lambda self: self._p(".hubfn-partial"))

    def tmp_dirs(self):
        """Extraction targets and set-aside entries left by killed processes."""
        base = glob.escape(self._p(""))
        return glob.glob(base + ".hubfn-tmp-*") + glob.glob(base + ".hubfn-trash-*")


def fetch_to_cache(handle: str) -> str:
    """The local directory of the http(s) module `handle`, downloading it once into the cache."""
    paths = Paths.for_handle(handle)
    problem = manifest.check_entry(paths, handle)
    if problem is None:
        return paths.entry
    if offline():
        state = (f"is not in the cache {paths.root}" if problem == manifest.MISSING
                 else f"is damaged in the cache {paths.root} ({problem})")
        raise errors.OfflineError(
            f"Module {handle!r} {state} and HUBFN_OFFLINE is set, so it cannot be "
            "downloaded. Unset HUBFN_OFFLINE, or fetch it once while online.")
    if problem != manifest.MISSING:
        _warn_damaged(handle, paths, problem)
    try:
        os.makedirs(paths.root, exist_ok=True)
        with _locked(paths, handle):
            problem = manifest.check_entry(paths, handle)  # another process may have fetched it meanwhile
            if problem is None:
                return paths.entry
            if os.path.lexists(paths.entry):
                _discard(paths.entry)
            _fetch_locked(handle, paths)
    except OSError as e:
        if isinstance(e, errors.HubError):
            raise
        # Disk full, read-only or foreign-owned cache directory: say where, and what to do.
        raise errors.CacheError(
            f"Module {handle!r}: cannot write the cache directory {paths.root} ({e.strerror or e}). Free "
            "some space or set TFHUB_CACHE_DIR to a writable directory.") from e
    return paths.entry


def _warn_damaged(handle, paths, problem):
    # Said once, as a warning (which Python prints to stderr, and callers can filter or turn into errors).
    warnings.warn(f"Cache entry {paths.entry} of {handle!r} is damaged ({problem}); downloading it again.",
                  stacklevel=4)


class _locked:
    """The entry's OS lock; says once, in the log, that we wait for someone else's download.

    On leaving, the lock file is deleted (by its holder, before unlocking: see hubfn.util.locks) when
    there is no entry beside it, so failed fetches and removals leave nothing behind.
    """

    def __init__(self, paths, handle):
        self.paths = paths
        self.lock = locks.FileLock(paths.lock, on_wait=self._say_waiting)
        self.handle = handle

    def _say_waiting(self):
        log.info("Waiting for another process downloading %s.", self.handle)

    def __enter__(self):
        self.lock.acquire()
        return self

    def __exit__(self, *exc):
        self.lock.release(unlink=not os.path.lexists(self.paths.entry))


def _fetch_locked(handle, paths):
    for tmp in paths.tmp_dirs():  # left by a killed process; we hold the lock, so nobody uses them
        shutil.rmtree(tmp, ignore_errors=True)
    url = http.download_url(handle)
    source = download.Source(url, paths.partial)
    fresh_retry = True
    for _attempt in range(3):
        tmp = f"{paths.entry}.hubfn-tmp-{uuid.uuid4().hex}"
        os.mkdir(tmp)
        # Network reads and partial-file writes run in a thread, overlapping gzip decoding.
        feed = prefetch.prefetched(source.chunks(), on_stop=source.stop)
        try:
            try:
                result = extract.extract(feed, tmp, url)
            finally:
                feed.close()  # stops the producer now, not when the traceback is collected
            _check_module(tmp, url)
            break
        except download.Restart:
            shutil.rmtree(tmp, ignore_errors=True)
            source.discard_partial()  # the server cannot continue it: begin again at byte 0
            continue
        except (errors.ArchiveError, errors.NotAModuleError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            source.discard_partial()  # the served bytes are bad: resuming from them would fail again
            if source.resumed_from and fresh_retry:
                # Bytes kept from an earlier attempt were part of it: a server whose validator did not
                # change with the archive can still splice. One more try, all from the network.
                log.warning("Module URL %s: the archive made with bytes kept from an earlier attempt is "
                            "damaged (%s); downloading it again from the start.", url, e)
                fresh_retry = False
                source = download.Source(url, paths.partial)
                continue
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # the partial file stays for the next attempt
            raise
    else:
        raise errors.FetchError(f"Module URL {url}: the download was interrupted again and again and the "
                                "server cannot resume it. Try again later.")
    _install(handle, url, paths, tmp, result)
    source.discard_partial()


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


def _discard(path):
    """Remove a directory so that readers holding files open are not disturbed."""
    fs.remove_tree(path)


# --- management ----------------------------------------------------------------------------------
@attrs.frozen
class CacheEntry:
    """One cached module, as `cache_list()` and `cache_verify()` report it."""

    handle: str | None  # None when neither manifest nor descriptor names it
    path: str
    size: int  # bytes of the files in the entry
    date: datetime.datetime
    verified: bool
    check: str  # "contents" (deep: hashes), "manifest" (files and sizes), "basic" (saved_model.pb, index)
    problem: str | None = None

    def as_dict(self):
        """Plain data (the date as ISO text), e.g. for the R bindings or JSON."""
        d = attrs.asdict(self)
        d["date"] = self.date.isoformat(timespec="seconds")
        return d


def _entry_keys(root):
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if HASH_RE.match(n) and os.path.isdir(os.path.join(root, n)))


def _describe(root, key, deep=False) -> CacheEntry:
    paths = Paths(root, key)
    handle = manifest.handle_of(paths)
    problem = manifest.check_entry(paths, handle, deep=deep)
    size = 0
    for dirpath, _dirs, files in os.walk(paths.entry):
        for name in files:
            try:
                size += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    stamp = os.path.getmtime(paths.descriptor if os.path.exists(paths.descriptor) else paths.entry)
    data = manifest.load(paths)
    check = "basic"
    if manifest.usable(paths, handle, data):
        check = "contents" if deep and manifest.hashed(data) else "manifest"
    return CacheEntry(handle=handle, path=paths.entry, size=size,
                      date=datetime.datetime.fromtimestamp(stamp), verified=problem is None,
                      check=check, problem=problem)


def cache_list() -> list:
    """Every module in the cache (hubfn's and tensorflow_hub's), with size, date and check result."""
    root = cache_dir()
    return [_describe(root, key) for key in _entry_keys(root)]


def cache_verify(handle=None, deep=False) -> list:
    """Check every entry (or the one of `handle`) without repairing it; the next load repairs.

    deep=True reads every file of hubfn's entries against the content hashes recorded when it was
    extracted, and reports files that did not come from the archive; damage found so is remembered in
    the manifest, so the next load fetches the entry again."""
    root = cache_dir()
    keys = _entry_keys(root)
    if handle is not None:
        keys = [k for k in keys if k == _key_of(handle)]
    return [_describe(root, key, deep=deep) for key in keys]


def cache_remove(handle=None, all=False) -> list:  # noqa: A002 - `all` is the documented keyword
    """Remove the entry of `handle` (a handle or its 40-hex key), or every entry with all=True.

    Each removal takes the entry's lock, so a download in progress finishes first. Returns the paths
    removed.
    """
    if (handle is None) == (not all):
        raise errors.CacheError("cache_remove: pass a handle, or all=True to empty the cache.")
    root = cache_dir()
    if not os.path.isdir(root):
        return []
    keys = _entry_keys(root) if all else [_key_of(handle)]
    if all:  # also bookkeeping left without an entry (partials of abandoned downloads)
        keys = sorted(set(keys) | {n[:40] for n in _listdir(root) if HASH_RE.match(n[:40]) and ".hubfn-" in n})
    removed = []
    for key in keys:
        paths = Paths(root, key)
        with _locked(paths, key):
            for p in [paths.entry, paths.descriptor, paths.manifest, paths.partial, paths.partial + ".json",
                      *paths.tmp_dirs()]:
                if os.path.lexists(p):
                    _discard(p)
                    if p == paths.entry:
                        removed.append(p)
    return removed


def _listdir(root):
    try:
        return os.listdir(root)
    except FileNotFoundError:
        return []


def _key_of(handle):
    return handle if HASH_RE.match(handle) else Paths.for_handle(handle).key
