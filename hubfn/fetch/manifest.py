"""Manifests of cache entries, and the cheap check run on every cache hit.

A manifest (`<hash>.hubfn-manifest.json`) lists the entry's regular files and sizes, and the inode of
the entry directory: if the directory was replaced since (say, removed and downloaded again by
tensorflow_hub), the manifest no longer describes it and the entry gets the basic check instead.
Checking is one stat() per file, no reading: cheap enough for every load.
"""

import datetime
import json
import os

from . import download

MISSING = "not in the cache"
MAX_LISTED = 5


def _load(paths):
    try:
        with open(paths.manifest, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else None
    except (OSError, ValueError):
        return None


def _inode(path):
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def usable(paths, handle, data=None):
    data = data if data is not None else _load(paths)
    return bool(data) and data.get("inode") == _inode(paths.entry) and (
        handle is None or data.get("handle") == handle)


def write(paths, handle, url, result):
    download.write_json(paths.manifest, {
        "format": 1, "handle": handle, "url": url, "inode": _inode(paths.entry),
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "bytes": result.total_bytes, "files": result.files, "links": result.links})


def handle_of(paths):
    """The handle an entry was fetched for: from our manifest, else tensorflow_hub's descriptor."""
    data = _load(paths)
    if data and data.get("handle"):
        return data["handle"]
    try:
        with open(paths.descriptor, encoding="utf-8") as f:
            first = f.readline()
    except OSError:
        return None
    return first[len("Module: "):].rstrip("\n") if first.startswith("Module: ") else None


def check_entry(paths, handle):
    """None if the entry is whole, MISSING if absent, else a short description of what is wrong."""
    entry = paths.entry
    try:
        names = os.listdir(entry)
    except (FileNotFoundError, NotADirectoryError):
        return MISSING
    if not names:
        return MISSING  # tensorflow_hub too treats an empty directory as absent
    data = _load(paths)
    if usable(paths, handle, data):
        missing, changed = [], []
        for rel, size in data["files"].items():
            try:
                st = os.stat(os.path.join(entry, rel))
            except OSError:
                missing.append(rel)
                continue
            if st.st_size != size:
                changed.append(f"{rel} is {st.st_size} bytes, was {size}")
        return _describe(missing, changed)
    # Written by tensorflow_hub (or our manifest is stale): the files no module can do without.
    missing = [rel for rel in ("saved_model.pb",) if not os.path.isfile(os.path.join(entry, rel))]
    if os.path.isdir(os.path.join(entry, "variables")):
        if not os.path.isfile(os.path.join(entry, "variables", "variables.index")):
            missing.append("variables/variables.index")
    return _describe(missing, [])


def _describe(missing, changed):
    if not missing and not changed:
        return None
    parts = []
    if missing:
        more = f" and {len(missing) - MAX_LISTED} more" if len(missing) > MAX_LISTED else ""
        parts.append("missing " + ", ".join(missing[:MAX_LISTED]) + more)
    if changed:
        parts.append("; ".join(changed[:MAX_LISTED]))
    return "; ".join(parts)
