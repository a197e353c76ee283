"""Which version "latest" meant: `<sha1(kaggle:owner/model/framework/variation)>.hubfn-latest.json` in the
cache directory (hubfn.fetch.store.layout), written after each online resolve of a handle without a
version, so that offline the same entry is used without any request.
"""

import datetime
import json
import logging

from ....util import fs
from ...store.layout import Paths

log = logging.getLogger("hubfn")


def path(cache_dir, ref) -> str:
    """Where the latest version of `ref`'s variation is recorded (named from its unversioned handle)."""
    return Paths.for_handle(ref.at(None).handle, cache_dir).latest


def read(cache_dir, ref):
    """The version recorded as `ref`'s latest, or None (no record, or one that is not ours)."""
    try:
        with open(path(cache_dir, ref), encoding="utf-8") as f:
            data = json.load(f)
        version = data["version"]
        if data["handle"] == ref.at(None).handle and isinstance(version, int) and version >= 1:
            return version
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def write(cache_dir, ref, version):
    data = {"handle": ref.at(None).handle, "version": version, "entry_handle": ref.at(version).handle,
            "checked": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    try:
        fs.write_text_atomically(path(cache_dir, ref), json.dumps(data, indent=1))
    except OSError as e:  # a read-only shared cache: the entry is there, only offline use loses the record
        log.warning("Kaggle model %s: cannot record its latest version in %s (%s); offline, name the version "
                    "(%s).", data["handle"], cache_dir, e.strerror or e, data["entry_handle"])
