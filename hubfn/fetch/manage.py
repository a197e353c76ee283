"""Managing the cache: where it is, and list, verify (cheap or deep) and remove entries, hubfn's and
tensorflow_hub's. The public functions hubfn.cache_dir, cache_list, cache_verify and cache_remove are these.
"""

import datetime
import os

import attrs

from .. import errors
from ..util import fs
from .store import manifest
from .store.layout import HASH_RE, Paths, cache_dir  # cache_dir: public (hubfn.cache_dir)
from .store.lock import Locked


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
    return sorted(n for n in _listdir(root) if HASH_RE.match(n) and os.path.isdir(os.path.join(root, n)))


def _describe(root, key, deep=False) -> CacheEntry:
    paths = Paths(root, key)
    data = manifest.load(paths)  # read once: it names the handle, and decides the check and its kind
    handle = manifest.handle_of(paths, data)
    problem = manifest.check_entry(paths, handle, deep=deep, data=data)
    size = fs.tree_size(paths.entry)
    stamp = os.path.getmtime(paths.descriptor if os.path.exists(paths.descriptor) else paths.entry)
    check = "basic"
    if manifest.usable(paths, handle, data):
        check = "contents" if deep and manifest.hashed(data) else "manifest"
    return CacheEntry(handle=handle, path=paths.entry, size=size,
                      date=datetime.datetime.fromtimestamp(stamp), verified=problem is None,
                      check=check, problem=problem)


def cache_list(cache_dir=None) -> list:
    """Every module in the cache (hubfn's and tensorflow_hub's), with size, date and check result."""
    root = _root(cache_dir)
    return [_describe(root, key) for key in _entry_keys(root)]


def cache_verify(handle=None, deep=False, cache_dir=None) -> list:
    """Check every entry (or the one of `handle`) without repairing it; the next load repairs.

    deep=True reads every file of hubfn's entries against the content hashes recorded when it was
    extracted, and reports files that did not come from the archive; damage found so is remembered in
    the manifest, so the next load fetches the entry again."""
    root = _root(cache_dir)
    keys = _entry_keys(root)
    if handle is not None:
        wanted = _key_of(handle)
        keys = [k for k in keys if k == wanted]
    return [_describe(root, key, deep=deep) for key in keys]


def cache_remove(handle=None, all=False, cache_dir=None) -> list:  # noqa: A002 - `all` is the documented keyword
    """Remove the entry of `handle` (a handle or its 40-hex key), or every entry with all=True.

    Each removal takes the entry's lock, so a download in progress finishes first. Returns the paths
    removed.
    """
    if (handle is None) == (not all):
        raise errors.CacheError("cache_remove: pass a handle, or all=True to empty the cache.")
    root = _root(cache_dir)
    if not os.path.isdir(root):
        return []
    keys = _entry_keys(root) if all else [_key_of(handle)]
    if all:  # also bookkeeping left without an entry (partials of abandoned downloads)
        keys = sorted(set(keys) | {n[:40] for n in _listdir(root) if HASH_RE.match(n[:40]) and ".hubfn-" in n})
    removed = []
    for key in keys:
        paths = Paths(root, key)
        with Locked(paths, key):
            for p in [paths.entry, paths.descriptor, paths.manifest, paths.scan, paths.partial,
                      paths.partial_info, paths.partial_parts, *paths.tmp_dirs()]:
                if os.path.lexists(p):
                    fs.remove_tree(p)
                    if p == paths.entry:
                        removed.append(p)
    return removed


def _root(given):
    """The cache directory a call names (`cache_dir=`), else the default one."""
    return cache_dir() if given is None else os.path.abspath(os.path.expanduser(os.fspath(given)))


def _listdir(root):
    try:
        return os.listdir(root)
    except FileNotFoundError:
        return []


def _key_of(handle):
    return handle if HASH_RE.match(handle) else Paths.for_handle(handle).key
