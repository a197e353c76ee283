"""The check before a load: a module with findings is refused unless the call allows them.

`check` runs before TensorFlow loads anything of the module (hubfn.api calls it between resolving and
loading). The scan's result is kept per module: in this process, keyed by the module's real path and the
stat of its `saved_model.pb`, and, for an entry of the download cache, in a small file beside the entry
(`<sha1>.hubfn-scan.json`), so loading a refused (or a clean) module again does not scan it again. Nothing
is ever written into a module directory or outside the cache.
"""

import json
import os
import threading

from .. import errors
from ..fetch.store import layout
from ..savedmodel.signatures import parse_saved_model
from ..util import fs
from .optable import SCAN_VERSION
from .scan import Finding, scan

_memo = {}
_lock = threading.Lock()
_SHOWN = 8  # findings spelled out in a refusal; `hubfn scan` lists them all


def _stamp(path):
    """The scan reads the graph only: its file and the scanner's version say whether a record still holds
    (a list, as the record keeps it in JSON)."""
    return [SCAN_VERSION, *fs.file_stamp(os.path.join(path, "saved_model.pb"))]


def _record_path(path):
    """Where a cache entry's scan result is kept, or None when `path` is not an entry of the cache."""
    parent, key = os.path.split(os.path.realpath(path))
    if not layout.HASH_RE.match(key):
        return None
    paths = layout.Paths(parent, key)
    if not (os.path.exists(paths.descriptor) or os.path.exists(paths.manifest)):
        return None
    return paths.scan


def _read_record(record, stamp):
    try:
        with open(record, encoding="utf-8") as f:
            data = json.load(f)
        if data.get("stamp") != stamp:
            return None
        return tuple(Finding.from_dict(d) for d in data["findings"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # absent, stale or damaged: scan again


def findings_of(path: str, proto=None):
    """(findings, proto) for the module at `path`: from memory or the entry's record when the module is
    unchanged since it was scanned (proto is then None), else scanned from `proto` or a fresh parse."""
    stamp = _stamp(path)
    key = os.path.realpath(path)
    with _lock:
        hit = _memo.get(key)
    if hit is not None and hit[0] == stamp:
        return hit[1], proto
    record = _record_path(path)
    found = _read_record(record, stamp) if record else None
    if found is None:
        proto = proto if proto is not None else parse_saved_model(path)
        found = scan(proto, path)
        if record:
            try:
                fs.write_text_atomically(record, json.dumps({"stamp": stamp,
                                                             "findings": [f.as_dict() for f in found]}))
            except OSError:
                pass  # a read-only cache: the scan is simply made again next time
    with _lock:
        _memo[key] = (stamp, found)
    return found, proto


def check(path: str, handle: str, settings):
    """Refuse the module at `path` (UnsafeModuleError) when it has findings the settings do not allow.

    Returns the parsed SavedModel proto when the check parsed it (for the caller to reuse), else None.
    """
    if not settings.safe_mode:
        return None
    found, proto = findings_of(path)
    refused = tuple(f for f in found if f.op not in settings.allow_ops)
    if refused:
        raise refusal(handle, refused)
    return proto


def refusal(handle, found) -> errors.UnsafeModuleError:
    ops = sorted({f.op for f in found})
    lines = [f"  - {f.describe()}" for f in found[:_SHOWN]]
    if len(found) > _SHOWN:
        lines.append(f"  - and {len(found) - _SHOWN} more (`hubfn scan {handle}` lists them all)")
    load_time = " Some of them run while the module loads." if any(f.at_load for f in found) else ""
    message = (
        f"Module {handle!r} was not loaded: it holds ops that reach outside the module (files, the network or "
        f"other processes), and a module is code that runs on your machine.{load_time}\n" + "\n".join(lines) +
        "\nIf you trust the module and its source, load it with safe_mode=False, or allow just these op types "
        f"with allow_ops={ops!r} (environment: HUBFN_SAFE_MODE=0 or HUBFN_ALLOW_OPS={','.join(ops)}).")
    return errors.UnsafeModuleError(message, handle=handle, findings=found)
