"""Where the cache lives and what each entry is made of.

Layout (identical to tensorflow_hub, so either library uses the other's downloads):
    $TFHUB_CACHE_DIR, else <system temp>/tfhub_modules
      <sha1(handle)>/                      the module (renamed into place when whole)
      <sha1(handle)>.descriptor.txt        "Module: <handle>" ..., as tensorflow_hub writes it
hubfn's own files beside it (tensorflow_hub ignores them):
      <sha1>.hubfn-manifest.json   files, sizes and content hashes of the entry (hubfn.fetch.store.manifest)
      <sha1>.hubfn-scan.json       what hubfn.safety found in the module's ops, for its saved_model.pb
      <sha1>.hubfn-lock            OS lock (flock) held while fetching; the OS drops it if we die;
                                   deleted by its holder when no entry is made or it is removed
                                   (hubfn.fetch.store.lock)
      <sha1>.hubfn-partial(.json)  bytes of an unfinished download, their validator and total size
      <sha1>.hubfn-partial.parts.json   the byte ranges of those bytes that are whole (a parallel download)
                                   (hubfn.fetch.transport.download)
      <sha1>.hubfn-latest.json     which version "latest" meant for a Kaggle model named without one
                                   (the sha1 of its unversioned handle; hubfn.fetch.sources.kaggle)
      <sha1>.hubfn-tmp-<uuid>/     extraction target, renamed to <sha1>/ when checked
We never create tensorflow_hub's own `<sha1>.lock`: a lock file left by a crash makes it wait minutes.

No TensorFlow import here (see hubfn.fetch).
"""

import glob
import hashlib
import os
import re

import attrs

from ... import settings

HASH_RE = re.compile(r"^[0-9a-f]{40}$")


def cache_dir() -> str:
    """The cache directory: $TFHUB_CACHE_DIR, else <system temp>/tfhub_modules (as tensorflow_hub)."""
    return settings.default_cache_dir()


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
    scan = property(lambda self: self._p(".hubfn-scan.json"))
    lock = property(lambda self: self._p(".hubfn-lock"))
    partial = property(lambda self: self._p(".hubfn-partial"))
    partial_info = property(lambda self: self._p(".hubfn-partial.json"))
    # Which byte ranges of the partial file are whole, for a parallel download (hubfn.fetch.transport.parallel).
    partial_parts = property(lambda self: self._p(".hubfn-partial.parts.json"))
    latest = property(lambda self: self._p(".hubfn-latest.json"))

    def tmp_dirs(self):
        """Extraction targets and set-aside entries left by killed processes."""
        base = glob.escape(self._p(""))
        return glob.glob(base + ".hubfn-tmp-*") + glob.glob(base + ".hubfn-trash-*")
