"""hubfn.fetch.ranged over hubfn's HTTP stack: the part requests, the chain followed again, and a whole
fetch into a directory, until the ranged download is wired into hubfn.fetch.cache.

    open_range = opener(settings, budget, extra_auth)      one bounded Range + If-Range GET, no redirects
    refollow = refollower(url, settings, budget, extra_auth, plan)
    fetch(url, partial, dest, settings)                     what the fetch path will do (see its docstring)

Credentials: each part request asks hubfn.fetch.auth for the credentials of the host it goes to (the
storage host's, normally none), so a handle's token never reaches a storage host.
"""

import logging
import os
import shutil

import attrs
import requests

from .. import errors
from ..util import fs
from . import auth, download, extract, http, prefetch, ranged, retry

log = logging.getLogger("hubfn")


@attrs.frozen
class Answer:
    """One open answer to a part request (the shape hubfn.fetch.ranged takes)."""

    status: int
    start: int
    total: int | None
    validator: str | None
    md5: str | None
    raw: object = attrs.field(repr=False)  # requests.Response, or a hubfn.fetch.http.Response
    head: bytes = b""

    @classmethod
    def of(cls, resp):
        """The Answer of an open hubfn.fetch.http.Response (the first GET of a download)."""
        start, total, validator, md5 = ranged.describe(resp.raw.status_code, resp.raw.headers)
        return cls(status=resp.raw.status_code, start=resp.start, total=resp.total, validator=resp.validator,
                   md5=resp.md5 or md5, raw=resp.raw, head=resp.head)

    def chunks(self):
        if self.head:
            yield self.head
        raw = self.raw.raw
        while True:
            data = raw.read1(http.CHUNK, decode_content=False)
            if not data:
                return
            yield data

    def close(self):
        self.raw.close()


def opener(settings, budget, extra_auth=()):
    """open_range(url, start, end, validator) for hubfn.fetch.ranged, on this thread's session."""

    def open_range(url, start, end, validator):
        s = http.session()
        retries = retry.request_retry(budget.policy, budget)
        for adapter in s.adapters.values():
            adapter.max_retries = retries
        where = f"Module URL {http._short(url)} (bytes {start}-{end - 1})"
        budget.check(where)
        headers = {"Range": f"bytes={start}-{end - 1}", "If-Range": validator}
        try:
            resp = s.get(url, headers=headers, stream=True, verify=http.verify_setting(settings),
                         allow_redirects=False, auth=auth.HopAuth(auth.header_for(url, settings, extra_auth)),
                         timeout=budget.timeout())
        except requests.exceptions.SSLError as e:
            raise errors.FetchError(f"{where}: TLS error ({http._reason(e)}).") from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
            raise errors.FetchError(f"{where}: {http._failure(e, settings)}; gave up {budget.said(budget.tries)}. "
                                    "Check your network, or try again later.") from None
        if resp.status_code in ranged.EXPIRED:
            resp.close()
            return Answer(resp.status_code, 0, None, None, None, resp)
        if resp.status_code not in (200, 206):
            raise http.status_error(resp, url)
        budget.cut_read_timeout(resp.raw)
        first, total, tag, md5 = ranged.describe(resp.status_code, resp.headers)
        return Answer(resp.status_code, first, total, tag, md5, resp)

    return open_range


def refollower(url, settings, budget, extra_auth, plan):
    """refollow() for hubfn.fetch.ranged: the chain from `url` followed again (its hops and credentials as
    for any download), asking for the archive's last byte under If-Range; the URL it ends at."""

    def refollow():
        resp = http.open_archive(url, settings, start=plan.total - 1, validator=plan.validator,
                                 extra_auth=extra_auth, budget=budget)
        resp.close()
        return resp.final_url

    return refollow


def fetch(url, partial, dest, settings, extra_auth=(), budget=None, stats=None):
    """Download the archive at `url` into the empty directory `dest` (unpacked as it arrives), with
    concurrent range requests when the storage host allows them, else over one connection
    (hubfn.fetch.download). Returns what hubfn.fetch.extract.extract returns.

    This is the wiring hubfn.fetch.cache._fetch_locked will get, in one place (the caller holds the
    entry's lock): a part map beside `partial` resumes at once, with no first request; otherwise the
    first GET's answer decides (ranged.plan) and, for a ranged download, serves the first part. A
    Restart (the archive changed) begins again; bad archive bytes keep nothing. stats: a dict that
    receives the Download's counters (requests, received, kept, refollows, ranged).
    """
    budget = budget or retry.start(settings.retry)
    while True:
        if os.path.lexists(dest):
            fs.remove_tree(dest)
        os.mkdir(dest)
        plan = ranged.load(partial, url, settings)
        first = None
        # Bytes kept by the one-connection path (with their PartialInfo) are continued by it.
        if plan is None and download.read_partial_info(download.info_path(partial)) is None:
            fs.unlink_if_present(partial)
            resp = http.open_archive(url, settings, extra_auth=extra_auth, budget=budget)
            plan = ranged.plan(resp.raw.headers, settings, url=url, final_url=resp.final_url,
                               status=resp.raw.status_code)
            first = Answer.of(resp) if plan is not None else resp
        if plan is None:
            source = _Source(url, partial, settings, extra_auth, budget=budget)
            source.first = first
            items = source.chunks()
            stop = source.stop
        else:
            source = ranged.Download(plan, partial, settings, opener(settings, budget, extra_auth), budget,
                                     refollower(url, settings, budget, extra_auth, plan), first=first)
            items, stop = source, source.stop
        feed = prefetch.Prefetched(items, on_stop=stop, name="hubfn-download")
        try:
            try:
                result = extract.extract(feed, dest, url, settings, on_stop=feed.stop)
            finally:
                feed.close()
        except (download.Restart, ranged.Restart):
            _discard(partial)
            continue
        except errors.ArchiveError:
            _discard(partial)
            shutil.rmtree(dest, ignore_errors=True)
            raise
        if stats is not None:
            stats.update(ranged=plan is not None, **{k: getattr(source, k, 0) for k in
                                                     ("requests", "received", "kept", "refollows")})
        _discard(partial)
        return result


class _Source(download.Source):
    """The one-connection download, starting with an answer already open (the first GET's)."""

    first = None

    def _open(self, start=0, validator=None, via=None):
        if self.first is not None and start == 0:
            resp, self.first = self.first, None
            return resp
        if self.first is not None:
            self.first.close()
            self.first = None
        return super()._open(start, validator, via)


def _discard(partial):
    ranged.discard(partial)
    fs.unlink_if_present(download.info_path(partial))
