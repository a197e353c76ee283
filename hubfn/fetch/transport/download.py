"""The bytes of a module archive, from a partial file on disk and then the network, resuming on drops.

`Source.chunks()` yields the archive from byte 0 to the end exactly once, whatever happens underneath:
  - bytes of an earlier, interrupted download (`<hash>.hubfn-partial`) are replayed from disk when the
    server confirms with a 206 to `Range` + `If-Range: <validator>` that they are still a valid prefix;
    the validator (ETag, else Last-Modified) and total size are kept beside them, and a 206 naming another
    validator or total (a server that ignores If-Range while the archive changed) means starting over,
    never splicing two versions; so does a 200;
  - a partial that already holds the whole archive (its length is the total known for its validator:
    a process killed while extracting) is replayed without any request; the archive checks (gzip CRC,
    tar end marker) still run over it;
  - every byte from the network is appended to the partial file before it is passed on, so a killed
    process leaves a prefix the next one can continue from. Only when the server can continue it: the
    answer names a validator and takes ranges (`Accept-Ranges: bytes`, or a 206 to our Range). From any
    other server no later attempt could use the bytes, so none are written (and none are read back);
  - a connection that drops, resets or stalls (read timeout) mid-body is re-opened with a Range request
    from the current offset. If the server cannot resume (no validator, no range support) the consumer
    has already seen bytes, so `Restart` is raised: the caller starts over from an empty directory.
    How often, after which waits and until when: the download's hubfn.fetch.transport.retry.Budget, shared by
    every attempt (a start over included), whose clock stops while bytes arrive;
  - a body that ends cleanly but short of Content-Length is treated as a drop: never as the end. (The
    archive reader judges a body by its first 512 bytes or by its end, so a body cut before 512 bytes
    is said to be cut short, whatever its first bytes look like.)
  - behind redirects (tfhub.dev -> Kaggle -> a signed storage URL) a resume asks the URL the chain
    ended at first, and follows the chain again from the handle when that URL refuses (its signature
    expired); the validator and total guard it the same way, so two versions are never spliced;
  - when the server states the archive's MD5 (x-goog-hash), every byte, replayed or new, is hashed and
    a mismatch is an ArchiveError before anything is installed.
"""

import base64
import hashlib

import json
import logging
import os
import sys
import time
from http.client import IncompleteRead

import attrs
import requests
import urllib3

from ... import errors
from ...settings import Settings
from ...util import fs
from . import disk, ranged, retry

log = logging.getLogger("hubfn")
NETWORK_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


class Restart(Exception):
    """The download must begin again at byte 0 (the server cannot continue where it stopped)."""


class Stopped(Exception):
    """The consumer gave up (an archive error, an interrupt): write nothing more."""


@attrs.frozen
class PartialInfo:
    """Beside the partial bytes: what they are a prefix of (`<hash>.hubfn-partial.json`)."""

    url: str
    validator: str
    total: int | None
    final_url: str | None = None  # where the bytes came from (after redirects)
    md5: str | None = None  # the whole archive's MD5 the server stated


def read_partial_info(path):
    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        return PartialInfo(url=d["url"], validator=d["validator"], total=d.get("total"),
                           final_url=d.get("final_url"), md5=d.get("md5"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def progress_wanted(settings):
    if settings.progress:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@attrs.define
class Source:
    url: str
    partial: str  # path of the partial bytes
    info_path: str  # path of their PartialInfo (the cache's layout names both: hubfn.fetch.store.layout)
    settings: Settings  # the call's
    extra_auth: tuple = ()  # (host, Authorization) pairs a source adds (hubfn.fetch.transport.auth)
    resumed_from: int = 0  # bytes replayed from disk (for logs and tests)
    received: int = 0  # bytes taken from the network
    pos: int = 0  # archive offset of the next byte
    total: int | None = None  # the archive's size, once known
    stopped: bool = False  # set from the consumer's thread (see hubfn.fetch.store.prefetch)
    md5: str | None = None  # the MD5 the server states for the archive being read
    keeps: bool = False  # this attempt writes the partial file (the server can continue it)
    # The retry policy's clock and counts for the whole download, shared by every attempt (hubfn.fetch.transport.retry).
    budget: retry.Budget = attrs.field(default=attrs.Factory(lambda s: retry.start(s.settings.retry),
                                                             takes_self=True))
    response: ranged.Response | None = attrs.field(default=None, init=False)  # the open one, replaced on resume

    def stop(self):
        self.stopped = True

    @property
    def directory(self):
        """The directory the partial file is in (the cache's): where free space counts."""
        return os.path.dirname(os.path.abspath(self.partial))

    def discard_partial(self, background=False):
        """Remove the partial file and its info; background: the partial file in a thread (hubfn.util.fs)."""
        fs.unlink_if_present(self.info_path)  # first: without it the partial file is never resumed from
        (fs.remove_in_background if background else fs.unlink_if_present)(self.partial)

    def _prefix(self):
        """(bytes on disk, their PartialInfo) usable for a resume, or (0, None)."""
        info = read_partial_info(self.info_path)
        try:
            have = os.path.getsize(self.partial)
        except OSError:
            have = 0
        if info is None or info.url != self.url or not info.validator or have == 0:
            return 0, None
        if info.total is not None and have > info.total:
            return 0, None
        return have, info

    def chunks(self):
        """The archive's bytes from 0 to the end, once; checked against the server's MD5 when it gave one."""
        digest = None
        for chunk in self._chunks():
            if digest is None:  # the MD5 is known before the first byte (from the response, or the partial)
                digest = hashlib.md5() if self.md5 else False
            if digest:
                digest.update(chunk)
            yield chunk
        if digest and base64.b64encode(digest.digest()).decode("ascii") != self.md5:
            raise errors.ArchiveError(
                f"Module URL {self.url}: the archive's MD5 is {base64.b64encode(digest.digest()).decode()}, but "
                f"the server stated {self.md5} (x-goog-hash): the bytes were damaged on the way. Try again.")

    def _write_info(self, validator, final_url):
        fs.write_json(self.info_path, {"url": self.url, "validator": validator, "total": self.total,
                                    "final_url": final_url, "md5": self.md5})

    def _open(self, start=0, validator=None, via=None):
        return ranged.open_archive(self.url, self.settings, start=start, validator=validator, via=via,
                                 extra_auth=self.extra_auth, budget=self.budget)

    def _chunks(self):
        self.resumed_from = 0  # of this attempt: after a Restart the bytes kept earlier are gone
        have, info = self._prefix()
        self.md5 = info.md5 if have else None
        if have and have == info.total:
            self.total = have
            disk.check_room(self.directory, self.url, have, have)
            yield from self._complete(have)
            return
        have, validator = self._first_response(have, info)
        # Keep bytes only for a server that can continue them (a Range with If-Range needs both). Writing
        # an archive nothing can resume from would cost a copy of it to disk (and freeing it) for nothing.
        self.keeps = bool(validator) and (have > 0 or self.response.accepts_ranges)
        try:
            # (Without a partial file the archive takes no room: only the unpacked module counts.)
            disk.check_room(self.directory, self.url, self.total, have if self.keeps else self.total)
            if not have:
                # A new file, not an old one cut to nothing: ext4 (auto_da_alloc) writes a file truncated to
                # zero back to disk when it is closed, on the caller's time (~40 ms for 150 MB).
                fs.unlink_if_present(self.partial)
            if not self.keeps:
                fs.unlink_if_present(self.info_path)
                self.pos = 0
                started = time.monotonic()
                yield from self._network(None, validator)
            else:
                started = yield from self._keeping(have, info, validator)
        finally:
            self.response.close()
        log.info("Downloaded %s: %d bytes in %.1f s%s.", self.url, self.pos, time.monotonic() - started,
                 f" (resumed at byte {have})" if have else "")

    def _first_response(self, have, info):
        """Open this attempt's response (self.response): (the kept bytes it continues, its validator)."""
        validator = info.validator if have else None
        self.response = self._open(have, validator, info.final_url if have else None)
        if self.response.start and not same_archive(self.response, validator, info.total, info.md5):
            log.warning("%s changed since the partial download (%s, now %s) and the server sent a range of "
                        "the new version anyway; starting over.", self.url, validator, self.response.validator)
            self.response.close()
            self.response = self._open()
        resp = self.response
        if resp.start == 0:
            have = 0  # a 200: the server ignored the range or the archive changed; start over
        self.md5 = resp.md5 or (self.md5 if have else None)
        self.total = resp.total if resp.total is not None else (info.total if have else None)
        validator = (resp.validator or validator) if have else resp.validator  # a 206 need not repeat the ETag
        return have, validator

    def _keeping(self, have, info, validator):
        """The archive through the partial file: kept bytes replayed, then the network's appended; returns
        when the network part started."""
        # Unbuffered: a full disk must surface at the write that hit it, not at a later flush.
        with open(self.partial, "r+b" if have else "wb", buffering=0) as f:
            if have:
                log.info("Resuming %s at byte %d of %s.", self.url, have, self.total)
                self.resumed_from = have
                if self.response.final_url != info.final_url:  # the chain was followed again: keep its end
                    self._write_info(validator, self.response.final_url)
                yield from self.budget.receiving(_replay(f, have))
            else:
                self._write_info(validator, self.response.final_url)
            f.seek(have)
            if have:
                f.truncate()  # (the kept bytes are the file: nothing to cut, unless it grew meanwhile)
            self.pos = have
            started = time.monotonic()
            yield from self._network(f, validator)
        return started

    def _network(self, f, validator):
        """The archive from self.pos to its end, continued with a Range request after each drop."""
        bar = _progress(self.url, self.total, self.pos, self.settings)
        try:
            while True:
                try:
                    yield from self._body(f, bar)
                    if self.total is not None and self.pos < self.total:
                        raise EOFError(f"the body ended at byte {self.pos} of {self.total}")
                    break
                except errors.HubError:
                    raise  # a full disk (DiskFullError is an OSError too) is not a network drop
                except (*NETWORK_ERRORS, EOFError) as e:
                    self._resume(e, validator)
        finally:
            if bar is not None:
                bar.close()
        if self.total is not None and self.pos > self.total:
            raise errors.FetchError(f"Module URL {self.url}: received {self.pos} bytes, more than the "
                                    f"{self.total} the server announced.")

    def _resume(self, error, validator):
        """After a drop: wait as the policy says, then continue from self.pos in a new self.response.
        Restart when the server cannot continue (the consumer has seen bytes already); a FetchError when
        the policy allows no more attempts (hubfn.fetch.transport.retry)."""
        self.response.close()
        wait = self.budget.next_attempt()
        if wait is None:
            kept = ("the bytes so far are kept and the next attempt continues from them." if self.keeps else
                    "the server sends no ETag or Last-Modified, so the next attempt starts over." if not validator
                    else "the server does not take Range requests, so the next attempt starts over.")
            raise errors.FetchError(
                f"Module URL {self.url}: the download was cut short: it stopped at byte {self.pos} of "
                f"{self.total if self.total is not None else 'unknown'} ({_why(error)}), "
                f"{self.budget.said(self.budget.attempts)}. Check your network and try again; {kept}") from None
        log.warning("Download of %s interrupted at byte %d (%s); continuing in %.3g s.", self.url, self.pos,
                    _why(error), wait)
        time.sleep(wait)
        if not (validator and self.response.accepts_ranges):
            raise Restart() from None
        self.response = self._open(self.pos, validator, self.response.final_url)
        if self.response.start != self.pos or not same_archive(self.response, validator, self.total, self.md5):
            raise Restart() from None  # (the response is closed by _chunks)

    def _complete(self, have):
        log.info("Using the whole archive of %s kept from an earlier attempt (%d bytes); no new request.",
                 self.url, have)
        self.resumed_from = have
        with open(self.partial, "rb") as f:
            for chunk in _replay(f, have):
                if self.stopped:
                    raise Stopped()
                self.pos += len(chunk)
                yield chunk

    def _body(self, f, bar):
        # Network errors surface in the iteration, handled by _network.
        for chunk in self.budget.receiving(self.response.chunks()):
            if self.stopped:
                raise Stopped()
            self._append(f, chunk)
            self.pos += len(chunk)
            self.received += len(chunk)
            if bar is not None:
                bar.update(len(chunk))
            yield chunk

    def _append(self, f, chunk):
        if f is None:  # nothing is kept (see _chunks)
            return
        view = memoryview(chunk)
        try:
            while view:
                view = view[f.write(view):]
        except OSError as e:
            if disk.is_full(e):
                raise disk.full_error(self.directory, self.url, self.total, self.pos) from None
            raise errors.CacheError(f"Module URL {self.url}: cannot write {self.partial} ({e.strerror or e}). "
                                    "Check the cache directory or set TFHUB_CACHE_DIR.") from None


def same_archive(resp, validator, total, md5=None):
    """Whether a 206 continues the archive our bytes came from: same validator (when it names one, as
    RFC 9110 says it must), same total size and same stated MD5 (when both sides know them)."""
    if resp.validator is not None and resp.validator != validator:
        return False
    if resp.md5 is not None and md5 is not None and resp.md5 != md5:
        return False
    return resp.total is None or total is None or resp.total == total


def _replay(f, n):
    f.seek(0)
    while n:
        data = f.read(min(n, ranged.CHUNK))
        if not data:
            raise Restart()  # the partial file shrank under us
        n -= len(data)
        yield data


def _why(e):
    if isinstance(e, urllib3.exceptions.ProtocolError) and any(isinstance(a, IncompleteRead) for a in e.args):
        return "the server closed the connection before the end"  # (urllib3 words it as a tuple of reprs)
    text = str(e) or type(e).__name__
    return text if len(text) < 200 else text[:200] + "…"


def _progress(url, total, initial, settings):
    if not progress_wanted(settings):
        return None
    from tqdm import tqdm

    name = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1] or url
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=f"Downloading {name}", file=sys.stderr, leave=False, dynamic_ncols=True)
