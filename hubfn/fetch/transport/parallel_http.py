"""The parallel download (hubfn.fetch.transport.parallel) over hubfn's HTTP transport, and the choice
between it and the one-connection download (hubfn.fetch.transport.download).

    open_download(url, partial, info_path, settings, extra_auth, budget)   what hubfn.fetch.cache reads

A part map beside the partial file resumes a parallel download at once, with no first request. Bytes kept
by the one-connection download (with their PartialInfo) are continued by it. Otherwise the first GET's
answer decides (partmap.plan): a storage host with ranges, a length and a strong validator gets
concurrent range requests, the first answer serving the first part; any other, that same answer read by
the one-connection download. Either way the caller gets a source with one interface: `chunks()`, `stop()`,
`discard_partial()`, `budget`, `total`, `resumed_from`.

Credentials: every part request is one budgeted GET of hubfn.fetch.transport.http, which asks
hubfn.fetch.transport.auth for the credentials of the host it goes to (a storage host's, normally none),
so a handle's token never reaches a storage host.
"""

import os

import attrs

from ...util import fs
from . import disk, download, http, parallel, partmap, ranged, retry, status


@attrs.frozen
class Answer:
    """One open answer to a part request (the shape hubfn.fetch.transport.parallel takes)."""

    status: int
    start: int
    total: int | None
    validator: str | None
    md5: str | None
    raw: object = attrs.field(repr=False)  # a requests.Response
    head: bytes = b""

    @classmethod
    def of(cls, resp):
        """The Answer of an open hubfn.fetch.transport.ranged.Response (the first GET of a download)."""
        _, _, _, md5 = partmap.describe(resp.raw.status_code, resp.raw.headers)
        return cls(status=resp.raw.status_code, start=resp.start, total=resp.total, validator=resp.validator,
                   md5=resp.md5 or md5, raw=resp.raw, head=resp.head)

    def chunks(self):
        if self.head:
            yield self.head
        raw = self.raw.raw
        while True:
            data = raw.read1(ranged.CHUNK, decode_content=False)
            if not data:
                return
            yield data

    def close(self):
        self.raw.close()


def opener(settings, budget, extra_auth=()):
    """open_range(url, start, end, validator) for hubfn.fetch.transport.parallel: one budgeted GET of the
    transport, redirects not followed (a part asks the storage URL itself)."""

    def open_range(url, start, end, validator):
        where = f"Module URL {status.short(url)} (bytes {start}-{end - 1})"
        headers = {"Range": f"bytes={start}-{end - 1}", "If-Range": validator}
        resp, _ = http.get(url, settings, budget, headers, extra_auth, follow=False, where=where)
        if resp.status_code in parallel.EXPIRED:
            resp.close()
            return Answer(resp.status_code, 0, None, None, None, resp)
        if resp.status_code not in (200, 206):
            raise status.status_error(resp, url)
        budget.cut_read_timeout(resp.raw)
        first, total, tag, md5 = partmap.describe(resp.status_code, resp.headers)
        return Answer(resp.status_code, first, total, tag, md5, resp)

    return open_range


def refollower(url, settings, budget, extra_auth, plan):
    """refollow() for hubfn.fetch.transport.parallel: the chain from `url` followed again (its hops and
    credentials as for any download), asking for the archive's last byte under If-Range; the URL it ends at."""

    def refollow():
        resp = ranged.open_archive(url, settings, start=plan.total - 1, validator=plan.validator,
                                   extra_auth=extra_auth, budget=budget)
        resp.close()
        return resp.final_url

    return refollow


class ParallelSource:
    """A parallel download with the one-connection download's interface (what hubfn.fetch.cache reads)."""

    def __init__(self, url, partial, info_path, plan, settings, extra_auth, budget, first=None):
        self.url, self.partial, self.info_path, self.budget = url, partial, info_path, budget
        self.total = plan.total
        self.download = parallel.Download(plan, partial, settings, opener(settings, budget, extra_auth), budget,
                                          refollower(url, settings, budget, extra_auth, plan), first=first)

    @property
    def resumed_from(self):
        return self.download.kept  # bytes a killed run left whole, read back instead of fetched

    def chunks(self):
        # As the one-connection download does before its body: room for the rest and for the unpacked module.
        disk.check_room(os.path.dirname(os.path.abspath(self.partial)), self.url, self.total, self.download.kept)
        return iter(self.download)

    def stop(self):
        self.download.stop()

    def discard_partial(self, background=False):
        fs.unlink_if_present(self.info_path)
        partmap.discard(self.partial, background)


class _FirstAnswerSource(download.Source):
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


def open_download(url, partial, info_path, settings, extra_auth=(), budget=None):
    """The download of `url` into `partial`: in parallel when the storage host allows it, else over one
    connection (see the module's docstring). The caller holds the entry's lock."""
    budget = budget or retry.start(settings.retry)
    http.warn_if_unverified(settings)
    plan = partmap.load(partial, url, settings)
    if plan is not None:
        return ParallelSource(url, partial, info_path, plan, settings, extra_auth, budget)
    if download.read_partial_info(info_path) is not None:
        return download.Source(url, partial, info_path, settings, extra_auth, budget=budget)
    fs.unlink_if_present(partial)
    resp = ranged.open_archive(url, settings, extra_auth=extra_auth, budget=budget)
    plan = partmap.plan(resp.raw.headers, settings, url=url, final_url=resp.final_url,
                        status=resp.raw.status_code)
    if plan is not None:
        return ParallelSource(url, partial, info_path, plan, settings, extra_auth, budget, first=Answer.of(resp))
    source = _FirstAnswerSource(url, partial, info_path, settings, extra_auth, budget=budget)
    source.first = resp
    return source


RESTARTS = (download.Restart, parallel.Restart)  # the archive changed, or cannot be continued: begin again

