"""Manifests of cache entries, and the cheap check run on every cache hit.

A manifest (`<hash>.hubfn-manifest.json`) lists the entry's regular files and sizes, and the inode of
the entry directory: if the directory was replaced since (say, removed and downloaded again by
tensorflow_hub), the manifest no longer describes it and the entry gets the basic check instead.
Checking is one stat() per file, no reading: cheap enough for every load.

Since format 2 the manifest also holds each file's content hash (hubfn.fetch.store.digest), computed while
the archive was extracted. `check_entry(..., deep=True)` (`hubfn cache verify --deep`) reads every file
against it and reports files that are not in the manifest. What a deep check finds is written into the
manifest (`"damaged"`), so the cheap check of the next load sees it and the entry is fetched again.
"""

import datetime
import json
import os

from ...util import fs
from . import digest

MISSING = "not in the cache"
MAX_LISTED = 5


def load(paths):
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
    data = data if data is not None else load(paths)
    return bool(data) and data.get("inode") == _inode(paths.entry) and (
        handle is None or data.get("handle") == handle)


def write(paths, handle, url, result):
    fs.write_json(paths.manifest, {
        "format": 2, "handle": handle, "url": url, "inode": _inode(paths.entry),
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "bytes": result.total_bytes, "files": result.files, "links": result.links,
        "hash": digest.NAME, "hashes": result.hashes})


def hashed(data):
    """Whether a manifest (as loaded) carries content hashes we can check."""
    return bool(data) and data.get("hash") == digest.NAME and isinstance(data.get("hashes"), dict)


def mark_damaged(paths, checked, problem):
    """Record what a deep check found, unless the manifest was replaced meanwhile (a new download)."""
    data = load(paths)
    if data and data.get("written") == checked.get("written") and data.get("inode") == checked.get("inode"):
        data["damaged"] = problem
        fs.write_json(paths.manifest, data)


def handle_of(paths, data=None):
    """The handle an entry was fetched for: from our manifest, else tensorflow_hub's descriptor."""
    data = data if data is not None else load(paths)
    if data and data.get("handle"):
        return data["handle"]
    try:
        with open(paths.descriptor, encoding="utf-8") as f:
            first = f.readline()
    except OSError:
        return None
    return first[len("Module: "):].rstrip("\n") if first.startswith("Module: ") else None


def check_entry(paths, handle, deep=False, data=None):
    """None if the entry is whole, MISSING if absent, else a short description of what is wrong.

    deep=True also reads every file against its content hash, and reports files the manifest does not
    list (entries without our manifest get the basic check either way). `data`: the manifest, if the
    caller has loaded it already."""
    entry = paths.entry
    try:
        names = os.listdir(entry)
    except (FileNotFoundError, NotADirectoryError):
        return MISSING
    if not names:
        return MISSING  # tensorflow_hub too treats an empty directory as absent
    data = data if data is not None else load(paths)
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
        if data.get("damaged") and not missing and not changed:
            return str(data["damaged"])  # found earlier by a deep check
        if deep and not missing and not changed:
            problem = _deep(entry, data)
            if problem:
                mark_damaged(paths, data, problem)
            return problem
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


def _deep(entry, data):
    """Contents against the manifest's hashes, links against their targets, and files not listed."""
    changed = []
    hashes = data.get("hashes") if hashed(data) else {}
    for rel, want in hashes.items():
        try:
            got = digest.of_file(os.path.join(entry, rel))
        except OSError as e:
            changed.append(f"{rel} cannot be read ({e.strerror})")
            continue
        if got != want:
            changed.append(f"{rel} has changed (content hash {got[:12]}…, was {want[:12]}…)")
    links = data.get("links") or {}
    extra = []
    for dirpath, dirnames, filenames in os.walk(entry):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            rel = os.path.relpath(p, entry)
            if os.path.islink(p):
                if rel not in links:
                    extra.append(rel)
                elif os.readlink(p) != links[rel]:
                    changed.append(f"link {rel} points elsewhere")
            elif name in filenames and rel not in data["files"]:
                extra.append(rel)
    problem = _describe([], changed)
    if extra:
        more = f" and {len(extra) - MAX_LISTED} more" if len(extra) > MAX_LISTED else ""
        said = "extra files not from the archive: " + ", ".join(sorted(extra)[:MAX_LISTED]) + more
        problem = f"{problem}; {said}" if problem else said
    return problem
