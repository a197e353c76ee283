"""The archive's GET: from a byte offset, guarded by its validator, and what its answer says.

`open_archive(url, settings, start, validator, via)` asks for the archive from byte `start` (a Range
request with If-Range: the ETag, else Last-Modified, of the bytes kept), going straight to `via` (the URL
an earlier chain ended at: the storage host) and following the chain again from `url` when that refuses
(an expired signed URL). The answer, a `Response`, tells where its body starts (a 206 continues, a 200
starts over), the archive's total size, its validator, whether the server takes ranges, and the MD5 the
storage host states (x-goog-hash). A web page where an archive should be is refused here, before any of
its bytes is kept. Used by the resumable download (hubfn.fetch.transport.download).
"""

import base64
import binascii

import attrs
import requests

from ... import errors
from ...util.sniff import looks_like, quote_start
from . import auth, http, retry, status

CHUNK = 1 << 20


@attrs.frozen
class Response:
    """An open, successful (200/206) streaming response and what we learned from its headers."""

    raw: requests.Response
    url: str  # the URL asked for (before redirects)
    final_url: str  # the URL that answered: the end of the redirect chain
    start: int  # offset of the first body byte in the archive (>0 only for a 206)
    length: int | None  # body bytes promised by Content-Length (None when unknown)
    total: int | None  # whole archive size, when known
    validator: str | None  # ETag or Last-Modified, for If-Range on a later resume
    accepts_ranges: bool
    md5: str | None = None  # the whole archive's MD5 the server states (base64), from x-goog-hash
    chain: tuple = ()  # every URL asked, the first to the final one
    head: bytes = b""  # body bytes already read (to tell an HTML page from an archive)

    def chunks(self):
        """The body as raw bytes (no content decoding), as soon as they arrive (at most 1 MiB each).

        read1, not read: read(n) waits to fill n bytes, and a connection that breaks meanwhile takes
        everything received since the last chunk with it, which a resume would then fetch again.
        """
        if self.head:
            yield self.head
        raw = self.raw.raw
        while True:
            data = raw.read1(CHUNK, decode_content=False)
            if not data:
                return
            yield data

    def close(self):
        self.raw.close()


def open_archive(url: str, settings, start=0, validator=None, via=None, extra_auth=(),
                 budget=None) -> Response:
    """GET `url` (from byte `start`, guarded by `validator`), following its redirect chain, retrying
    connection errors, 429 and 5xx within `budget` (a hubfn.fetch.transport.retry.Budget; default: a new one).

    via: a URL an earlier response came from (the end of the chain last time). It is asked first, so a
    resume goes straight to the storage host; when it refuses (an expired signed URL answers 400, 403 or
    410) the chain is followed again from `url`. extra_auth: (host, Authorization) pairs of a source.
    A 206 only comes back when the server honoured the range; a 200 means "from the beginning".
    """
    budget = budget or retry.start(settings.retry)
    headers = {}
    if start > 0:
        headers["Range"] = f"bytes={start}-"
        if validator:
            headers["If-Range"] = validator
    if via and via != url:
        resp, chain = http.get(via, settings, budget, headers, extra_auth, url=url)
        if resp.status_code in (200, 206):
            return _accepted(resp, url, start, chain, budget)
        resp.close()
        if 400 <= resp.status_code < 500:  # expired or revoked: ask the handle's own host again
            return open_archive(url, settings, start, validator, None, extra_auth, budget)
        _refused(resp, url, chain, settings, extra_auth, budget)
    resp, chain = http.get(url, settings, budget, headers, extra_auth)
    if resp.status_code in (200, 206):
        return _accepted(resp, url, start, chain, budget)
    if resp.status_code == 416 and start > 0:
        resp.close()  # our partial file is no longer a prefix of what is served: start over
        return open_archive(url, settings, 0, None, None, extra_auth, budget)
    _refused(resp, url, chain, settings, extra_auth, budget)


def _refused(resp, url, chain, settings, extra_auth, budget):
    if resp.status_code not in retry.RETRY_STATUS:
        err = status.status_error(resp, url, chain[-1], held_back=auth.would_send(chain[-1], settings, extra_auth))
        resp.close()
        raise err
    hop = f" (redirected to {status.short(chain[-1])})" if chain[-1] != url else ""
    after = resp.headers.get("Retry-After")
    asked = f" (it asked to wait: Retry-After: {after})" if after and budget.ran_out else ""
    err = errors.FetchError(
        f"Module URL {url}{hop}: HTTP {resp.status_code} {resp.reason}, {budget.said(budget.tries)}{asked}. Check "
        "the URL and your network (proxy settings: HTTPS_PROXY / NO_PROXY), or try again later.")
    resp.close()
    raise err


def _accepted(resp, url, start, chain, budget) -> Response:
    h = resp.headers
    budget.cut_read_timeout(resp.raw)
    head = _refuse_html(resp, url, chain)
    length = int(h["Content-Length"]) if h.get("Content-Length", "").isdigit() else None
    validator = h.get("ETag") or h.get("Last-Modified")
    if validator and validator.startswith("W/"):
        validator = None  # weak ETags may not guard byte ranges (RFC 9110 13.1.5)
    first = 0
    total = length
    if resp.status_code == 206:
        first, total = _content_range(h.get("Content-Range", ""), url)
        if first != start:
            resp.close()
            raise errors.FetchError(f"Module URL {url}: asked for bytes from {start}, got a range from "
                                    f"{first}. The server's range support looks broken.")
    return Response(raw=resp, url=url, final_url=chain[-1], start=first, length=length, total=total,
                    validator=validator, accepts_ranges="bytes" in h.get("Accept-Ranges", "").lower()
                    or resp.status_code == 206, md5=_md5(resp), chain=tuple(chain), head=head)


def _refuse_html(resp, url, chain):
    """Bytes read from a body the server labels as HTML: an error if they are a page, else kept.

    A tfhub.dev model that was not moved to Kaggle redirects to a web page, and a private hub may
    redirect to its login page; both answer 200. Said here, with the chain, before any byte is cached.
    """
    kind = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if kind not in ("text/html", "application/xhtml+xml"):
        return b""
    try:
        head = resp.raw.read1(4096, decode_content=False) if resp.status_code == 200 else b""
    except Exception:  # a broken body is the download's business (resumed or reported there)
        return b""
    if looks_like(head) != "an HTML page":
        return head
    resp.close()
    via = f", reached through {status.chain_text(chain)}" if len(chain) > 1 else ""
    raise errors.NotAnArchiveError(
        f"Module URL {url}: the server sent an HTML page (a web page), not a module archive, at "
        f"{status.short(chain[-1])}{via}. It starts with: {quote_start(head)}. The module may not be downloadable at this address (a tfhub.dev model "
        "that was not moved to Kaggle Models leads to a page), or the page asks you to log in (for a private "
        f"hub, pass token=). Open {status.short(chain[-1])} in a browser to see which.")


def _md5(resp):
    """The archive's MD5 (base64) from `x-goog-hash: crc32c=..., md5=...` (Google Cloud Storage, behind
    Kaggle and tfhub.dev), or from Content-MD5 on a whole (200) body; None when not given or garbled."""
    for part in resp.headers.get("x-goog-hash", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "md5" and _is_md5(value.strip()):
            return value.strip()
    value = resp.headers.get("Content-MD5", "").strip()
    if resp.status_code == 200 and _is_md5(value):  # of a 206 it would be the range's, not the archive's
        return value
    return None


def _is_md5(value):
    try:
        return len(base64.b64decode(value, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def _content_range(value, url):
    try:
        unit, rest = value.split(" ", 1)
        span, total = rest.split("/", 1)
        first = int(span.split("-", 1)[0])
        return first, (int(total) if total.strip().isdigit() else None)
    except ValueError:
        raise errors.FetchError(f"Module URL {url}: bad Content-Range header {value!r}.") from None
