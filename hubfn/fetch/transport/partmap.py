"""What a ranged download of one archive needs and what it leaves behind: its Plan and its part map.

A Plan comes from the headers of the first answer (`plan`: ranges, a length and a strong validator, else
None and one connection), or from the part map a killed process left beside the partial file (`load`:
the byte ranges already whole, kept only when the map still fits that file and that URL).
hubfn.fetch.transport.parallel runs the download and saves the map (`save`) as parts end.
"""

import base64
import binascii
import json
import logging
import math
import os

import attrs

from ...util import fs

log = logging.getLogger("hubfn")
MAP_VERSION = 1


def map_path(partial):
    """Where the part map of the partial file `partial` is kept."""
    return partial + ".parts.json"


def discard(partial, background=False):
    """Remove the part map and the partial file (background: in a thread, hubfn.util.fs)."""
    fs.unlink_if_present(map_path(partial))
    (fs.remove_in_background if background else fs.unlink_if_present)(partial)


@attrs.frozen
class Plan:
    """What a ranged download of one archive needs, from the headers of an answer or from a part map."""

    url: str  # what the download is keyed by (the URL asked for, before redirects)
    final_url: str  # the URL the chain ended at: the storage host, asked for every part
    total: int
    validator: str  # ETag, else Last-Modified: sent as If-Range with every part
    md5: str | None  # the whole archive's MD5 (base64) the server stated
    part_size: int
    connections: int
    done: tuple = ()  # ((start, end), ...) byte ranges already whole in the partial file (sorted, merged)

    def missing(self):
        """The byte ranges still to fetch, cut into parts of at most part_size, in order."""
        parts, at = [], 0
        for start, end in self.done + ((self.total, self.total),):
            for s in range(at, start, self.part_size):
                parts.append((s, min(s + self.part_size, start)))
            at = max(at, end)
        return parts


def _headers(headers):
    return {str(k).lower(): str(v) for k, v in headers.items()}


def describe(status, headers):
    """(start, total, validator, md5) of an answer from its status and headers: where its body starts in the
    archive, the archive's size, its strong validator (ETag, else Last-Modified; a weak ETag guards no
    byte range, RFC 9110 13.1.5) and the MD5 it states (x-goog-hash; Content-MD5 of a whole body)."""
    h = _headers(headers)
    etag = h.get("etag", "").strip()
    validator = (None if etag.startswith("W/") else etag) if etag else (h.get("last-modified", "").strip() or None)
    start, total = 0, None
    if status == 206:
        start, total = _content_range(h.get("content-range", ""))
    elif h.get("content-length", "").strip().isdigit():
        total = int(h["content-length"])
    md5 = None
    for part in h.get("x-goog-hash", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "md5" and _is_md5(value.strip()):
            md5 = value.strip()
    if md5 is None and status == 200 and _is_md5(h.get("content-md5", "").strip()):
        md5 = h["content-md5"].strip()
    return start, total, validator, md5


def _content_range(value):
    try:
        span, total = value.split(" ", 1)[1].split("/", 1)
        return int(span.split("-", 1)[0]), (int(total) if total.strip().isdigit() else None)
    except (IndexError, ValueError):
        return -1, None  # never a valid start: the answer is refused as not continuing the archive


def _is_md5(value):
    try:
        return len(base64.b64decode(value, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def plan(headers, settings, *, url, final_url=None, status=200):
    """A Plan when the answer (`status`, `headers`) of `final_url` allows a ranged download, else None:
    one connection for a server without `Accept-Ranges: bytes`, a length or a strong validator, for a
    content-encoded body, for an archive no larger than one part, and when settings ask for 1 connection."""
    h = _headers(headers)
    if settings.download_connections < 2 or status not in (200, 206):
        return None
    if "bytes" not in h.get("accept-ranges", "").lower():
        return None
    if h.get("content-encoding", "").strip().lower() not in ("", "identity"):
        return None
    start, total, validator, md5 = describe(status, h)
    part = settings.download_part_mb << 20
    if not validator or total is None or start < 0 or total <= part:
        return None
    return Plan(url=url, final_url=final_url or url, total=total, validator=validator, md5=md5, part_size=part,
                connections=min(settings.download_connections, math.ceil(total / part)))


def load(partial, url, settings=None):
    """The Plan of a ranged download of `url` a killed process left in `partial` (its part map), with the
    ranges already whole in `done`; None when there is none, or what is there does not fit (then both
    files are removed). `settings`: the connections of this call (default: the map's)."""
    path = map_path(partial)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except OSError:
        text = ""
    try:
        d = json.loads(text)
        kept = Plan(url=d["url"], final_url=d["final_url"], total=int(d["total"]), validator=d["validator"],
                    md5=d.get("md5"), part_size=int(d["part_size"]), connections=int(d["connections"]),
                    done=tuple((int(s), int(e)) for s, e in d["done"]))
        ok = d.get("version") == MAP_VERSION and kept.url == url and kept.validator and kept.part_size > 0
        ok = ok and os.path.getsize(partial) == kept.total and merged(kept.done) == list(kept.done)
        ok = ok and all(0 <= s < e <= kept.total for s, e in kept.done)
    except (OSError, ValueError, KeyError, TypeError):  # (no partial file beside the map: OSError)
        ok = False
    if not ok:
        log.info("Discarding the part map %s: it does not describe a download of %s.", path, url)
        discard(partial)
        return None
    if settings is not None:
        kept = attrs.evolve(kept, connections=max(1, settings.download_connections),
                            part_size=settings.download_part_mb << 20)
    return kept


def save(partial, plan):
    """Write the part map of `partial` (atomically): `plan`, whose `done` holds the byte ranges whole on
    disk and whose `final_url` is the URL the parts are asked from now."""
    data = {"version": MAP_VERSION, "url": plan.url, "final_url": plan.final_url, "total": plan.total,
            "validator": plan.validator, "md5": plan.md5, "part_size": plan.part_size,
            "connections": plan.connections, "done": [list(s) for s in plan.done]}
    with fs.atomic_file(map_path(partial), "w", encoding="utf-8") as f:
        json.dump(data, f)


def merged(spans):
    """The byte ranges `spans` sorted, with empty ones dropped and overlapping or touching ones joined."""
    out = []
    for s, e in sorted(spans):
        if e <= s:
            continue
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out
