"""One archive as concurrent range requests, streamed to the decoder as its contiguous prefix grows.

Why. A module comes from a storage host (signed URLs on Google Cloud Storage) across a long link, where
one TCP stream gets a fraction of the bandwidth (its window over the round trip) and every request pays a
round trip before its first byte. When the URL a redirect chain ended at answers with `Accept-Ranges:
bytes`, a length and a strong validator, the archive is fetched as up to `connections` range requests at
once (HUBFN_DOWNLOAD_CONNECTIONS, HUBFN_DOWNLOAD_PART_MB). Parts are written at their offsets in the
partial file; the bytes from 0 up to the first hole (the contiguous prefix) are read back and handed on,
so the gzip decoder and the tar writer unpack the module while its tail still downloads.

Guarantees (the same as the one-connection download, hubfn.fetch.transport.download):
  - every part request carries `If-Range: <validator>`; an answer that is not a 206 of the same archive
    (a 200, another validator, total or stated MD5) means the archive was republished: the partial file
    and its part map are discarded and Restart is raised. Two versions are never spliced;
  - a part whose connection drops, resets, stalls or ends short is resumed alone, from its last byte, at
    the cost of one attempt of the download's retry budget (hubfn.fetch.transport.retry.Budget; drops of parts that
    were running together count as one attempt: they are one network event). The budget's clock stops
    while bytes arrive on any connection, counted once however many connections receive;
  - when the storage URL refuses (400, 401, 403, 410: a signed URL expired), the caller's `refollow()`
    follows the chain from the handle once for all parts: parts refused meanwhile wait for it and
    continue at the new URL, with the same If-Range guard. A new URL refused before it served a byte is
    an error, not a loop;
  - when the storage host states the archive's MD5 (x-goog-hash), it is checked over the whole prefix
    stream, kept bytes included; a mismatch keeps nothing (partial file and part map removed);
  - which byte ranges are whole is kept in a part map beside the partial file (`<partial>.parts.json`,
    written atomically when a part ends and at most every PERSIST_EVERY seconds while parts run, always
    after the bytes it vouches for were written). A killed process leaves a map the next one resumes:
    only the ranges it lacks are requested, with no first request (hubfn.fetch.transport.partmap.load);
  - memory is bounded: each connection holds at most one network read (at most 1 MiB) and the prefix is
    read back from the page cache in pieces of at most CHUNK; nothing else is buffered, whatever the size.

What the caller provides (this module knows no URL layout, session or credentials):
  - the entry's lock (hubfn.fetch.store.lock.Locked): one download per entry across processes;
  - open_range(url, start, end, validator) -> an answer: GET `url` with `Range: bytes=start-(end-1)` and
    `If-Range: validator`, no redirects followed, with that host's credentials only (never the handle's
    token on a storage host), urllib3 retries within the budget. The answer has `status` (200 or 206, or
    one of EXPIRED, else the transport raises its own typed error), `start`, `total`, `validator`, `md5`
    (see `describe`), `chunks()` (the body, read as it arrives) and `close()`;
  - refollow() -> the new final URL, after following the redirect chain from the handle again;
  - budget: the download's hubfn.fetch.transport.retry.Budget (its policy, next_attempt, fits, said, receiving_for);
  - free space and a full disk: an ENOSPC OSError from a write propagates as it is (the caller turns it
    into its DiskFullError, as for the one-connection download).
"""

import base64
import hashlib
import logging
import os
import threading
import time

import attrs
import requests
import urllib3

from ... import errors
from ...util import fs, sched
from .partmap import discard, save
from .parts import Parts

log = logging.getLogger("hubfn")

CHUNK = 1 << 20  # the largest piece of the prefix handed on at once
EXPIRED = frozenset({400, 401, 403, 410})  # what a storage host answers for a signed URL no longer valid
PERSIST_EVERY = 0.5  # seconds between part-map writes while parts are running
GROW_EVERY = 0.02  # seconds between looks at whether the download needs more connections (see Download._grow)
STARVED = 0.25  # the share of that time the consumer waits for bytes that doubles the connections
# A connection that drops, resets or stalls (OSError covers sockets; a write's OSError is wrapped first).
NETWORK_ERRORS = (requests.exceptions.RequestException, urllib3.exceptions.HTTPError, OSError)


class Restart(Exception):
    """The archive changed (or the server stopped honouring ranges): begin again at byte 0. The partial
    file and its part map are already gone; treat it as hubfn.fetch.transport.download.Restart."""


class Stopped(Exception):
    """The consumer gave up (an archive error, an interrupt): nothing more is written."""


class _WriteFailed(Exception):
    """A write to the partial file failed (a full disk, say): not a network drop to retry."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class Download:
    """The archive of `plan` from byte 0 to its end, once, as an iterable of bytes chunks (see the module's
    docstring for what the caller provides).

    first: an answer already open on plan.final_url at byte 0 (the 200 the plan was made from): its bytes
    are the first part, so a fresh download pays no extra round trip. stop() from any thread ends it.
    After the last chunk: `requests` (part requests made), `received` (bytes from the network), `kept`
    (bytes a part map vouched for), `refollows`, `connections` (workers started).
    """

    def __init__(self, plan, partial, settings, open_range, budget, refollow=None, first=None):
        self.plan = plan
        self.partial = partial
        self.settings = settings
        self.open_range = open_range
        self.refollow = refollow
        self.budget = budget
        self.first = first
        self.url = plan.final_url
        self.requests = 0
        self.received = 0
        self.kept = sum(e - s for s, e in plan.done)
        self.refollows = 0
        self.connections = 0  # workers started: one at first, more while the bytes come too slowly
        self._cond = threading.Condition()
        self._parts = Parts(plan)  # (under self._cond)
        self._error = None
        self._stopped = False
        self._fd = None
        self._fd_users = 0
        self._workers = 0
        self._starved = 0.0  # seconds the consumer waited for bytes (see _grow)
        self._waiting_since = None
        self._last_credit = 0.0  # the budget's clock: last moment credited as receiving
        self._retry_lock = threading.Lock()
        self._round_until = 0.0  # when the wait before the current round of retries ends
        self._follow_lock = threading.Lock()
        self._generation = 0  # how often the chain was followed again
        self._generation_served = False  # whether the current URL has answered a part
        self._map_lock = threading.Lock()
        self._map_dead = False
        self._persisted = 0.0
        self._wake = threading.Event()  # set by stop(): cuts retry waits short
        self._enough = threading.Event()  # set by stop() and after the last byte: no more workers

    # --- the consumer's side ----------------------------------------------------------------------
    def __iter__(self):
        return self.chunks()

    def stop(self):
        """Stop now (from any thread): workers write nothing more; the consumer gets Stopped."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._wake.set()
        self._enough.set()

    def close(self):
        self.stop()

    def chunks(self):
        plan = self.plan
        self._begin()
        digest = hashlib.md5() if plan.md5 else None
        pos = 0
        started = time.monotonic()
        try:
            while pos < plan.total:
                with self._cond:
                    if not (self._error or self._stopped) and self._parts.prefix <= pos:
                        # (counted from the first bytes on: the wait for them is a round trip, not a rate)
                        self._waiting_since = time.monotonic() if pos else None
                        while not (self._error or self._stopped) and self._parts.prefix <= pos:
                            self._cond.wait(0.25)
                        if pos:
                            self._starved += time.monotonic() - self._waiting_since
                            self._waiting_since = None
                    if self._error is not None:
                        raise self._error
                    if self._stopped:
                        raise Stopped()
                    upto = self._parts.prefix
                n = min(upto - pos, CHUNK)
                data = os.pread(self._fd, n, pos)
                if len(data) != n:
                    raise errors.CacheError(f"Module URL {plan.url}: the partial file {self.partial} shrank while "
                                            "it was being downloaded.")
                pos += n
                if digest is not None:
                    digest.update(data)
                yield data
            self._enough.set()  # (no more workers: the places _grow holds are given back at once)
            self._wait_for_workers(5.0)
            self._persist(force=True)
        finally:
            self.stop()
            self._release()
        if digest is not None and base64.b64encode(digest.digest()).decode("ascii") != plan.md5:
            self._discard()
            raise errors.ArchiveError(
                f"Module URL {plan.url}: the archive's MD5 is {base64.b64encode(digest.digest()).decode()}, but "
                f"the server stated {plan.md5} (x-goog-hash): the bytes were damaged on the way. Try again.")
        log.info("Downloaded %s: %d bytes in %.1f s, %d range requests over %d of up to %d connections%s.",
                 plan.url, self.received, time.monotonic() - started, self.requests, self.connections, plan.connections,
                 f", {self.kept} bytes kept from an earlier attempt" if self.kept else "")

    def _begin(self):
        plan = self.plan
        if not plan.done:  # a fresh download: a new file, so nothing of an older one shows through the holes
            fs.unlink_if_present(self.partial)  # (and none cut to zero: see download.Source._chunks)
        fd = os.open(self.partial, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
        try:
            if not plan.done:
                os.ftruncate(fd, plan.total)
            elif os.fstat(fd).st_size != plan.total:
                raise Restart()
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._fd_users = fd, 1
        self._persist(force=True)  # the map exists before the first byte is written at an offset
        if self.kept:
            log.info("Resuming %s: %d of %d bytes kept; fetching the %d missing ranges.", plan.url, self.kept,
                     plan.total, len(self._parts.waiting))
        first = self.first if not plan.done else None
        if self.first is not None and first is None:
            self.first.close()
        self._start_workers(first, max(1, plan.connections))

    def _start_workers(self, first, count):
        """Up to `count` workers, the first with the open answer `first` (or None). Their places are taken
        here; the first starts at once, the others from a thread of their own (hubfn-range-start), and
        only while the bytes come slower than they are consumed (see _grow)."""
        with self._cond:
            self._fd_users += count
            self._workers += count
        self._launch(first)
        if count > 1:
            threading.Thread(target=self._grow, args=(count - 1,), name="hubfn-range-start",
                             daemon=True).start()

    def _launch(self, first):
        threading.Thread(target=self._work, args=(first,), name="hubfn-range", daemon=True).start()
        self.connections += 1

    def _grow(self, count):
        """Start up to `count` more workers, doubling the running ones each GROW_EVERY in which the
        consumer waited for bytes at least STARVED of the time. Why: from a far storage host one stream
        is slow and every connection helps; from a server near by (nginx, hubfn serve on the same
        machine or network) one stream outruns the decoder, and more connections only take its core:
        16 at once made a loopback fetch from nginx 1.3x slower than one. Starting a thread waits until
        it runs (~5 ms each behind busy workers and the GIL), which is why this is not the reader's job."""
        started, running = 0, 1
        seen, since = self._starved_for(), time.monotonic()
        try:
            while started < count and not self._enough.wait(GROW_EVERY):
                if self._stopped or self._error is not None:
                    break
                starved, now = self._starved_for(), time.monotonic()
                share = (starved - seen) / max(now - since, 1e-6)
                seen, since = starved, now
                if share < STARVED:
                    continue
                for _ in range(min(running, count - started)):
                    self._launch(None)
                    started += 1
                running = 1 + started
        except BaseException as e:  # (a thread that cannot start) handed to the consumer
            self._fail(e)
        unused = count - started  # places taken but never used: give them back
        if unused:
            with self._cond:
                self._workers -= unused
                self._cond.notify_all()
            for _ in range(unused):
                self._release()

    def _starved_for(self):
        """Seconds the consumer has waited for bytes so far (the wait under way included)."""
        with self._cond:
            waiting = self._waiting_since
            return self._starved + (time.monotonic() - waiting if waiting is not None else 0.0)

    def _release(self):
        with self._cond:
            self._fd_users -= 1
            last = self._fd_users == 0 and self._fd is not None
            fd, self._fd = (self._fd, None) if last else (None, self._fd)
        if fd is not None:
            os.close(fd)

    def _wait_for_workers(self, seconds):
        end = time.monotonic() + seconds
        with self._cond:
            while self._workers and time.monotonic() < end:
                self._cond.wait(0.05)

    # --- the workers --------------------------------------------------------------------------------
    def _work(self, first):
        sched.as_normal_thread()  # started by the reader, a batch thread; the far network paces this one
        try:
            part = None
            if first is not None:
                with self._cond:
                    part = self._parts.take_first()
                if part is None:
                    first.close()
                    first = None
            while True:
                if part is None:
                    part = self._take()
                    if part is None:
                        return
                self._fetch(part, first)
                first = None
                self._finish(part)
                part = None
        except BaseException as e:  # handed to the consumer
            self._fail(e)
        finally:
            with self._cond:
                self._workers -= 1
                self._cond.notify_all()
            self._release()

    def _take(self):
        """The next part to fetch (hubfn.fetch.transport.parts.Parts.take), or None."""
        with self._cond:
            if self._stopped or self._error is not None:
                return None
            return self._parts.take()

    def _finish(self, part):
        with self._cond:
            self._parts.finish(part)
            self._cond.notify_all()
        self._persist(force=True)

    def _fail(self, error):
        if isinstance(error, _WriteFailed):
            error = error.error
        with self._cond:
            first = self._error is None and not self._stopped
            if first:
                self._error = error
            self._cond.notify_all()
        self._wake.set()
        if first and isinstance(error, Restart):
            self._discard()

    def _fetch(self, part, answer):
        """Bytes [part.pos, part.end) into the partial file, resumed alone after each drop."""
        validator = self.plan.validator
        while True:
            with self._cond:
                if self._stopped or self._error is not None:
                    if answer is not None:
                        answer.close()
                    raise Stopped()
                if part.pos >= part.end:
                    break
                start, end, url, generation = part.pos, part.end, self.url, self._generation
            opened = self.budget.attempts
            try:
                if answer is None:
                    with self._cond:
                        self.requests += 1
                    answer = self.open_range(url, start, end, validator)
                    if answer.status in EXPIRED:
                        answer.close()
                        answer = None
                        self._follow_again(generation)
                        continue
                self._check(answer, start)
                self._receive(part, answer)
                answer.close()
                answer = None
                with self._cond:
                    short = part.pos < part.end
                if short:
                    raise EOFError(f"the range ended at byte {part.pos}, before {part.end}")
            except (errors.HubError, Restart, Stopped, _WriteFailed):
                if answer is not None:
                    answer.close()
                raise
            except (*NETWORK_ERRORS, EOFError) as e:
                if answer is not None:
                    answer.close()
                    answer = None
                self._retry(e, part, opened)

    def _check(self, answer, start):
        """Raise Restart unless `answer` continues this archive at `start`."""
        plan = self.plan
        status = answer.status
        fresh = status == 200 and start == 0 and answer is self.first
        same = ((status == 206 or fresh) and answer.start == start
                and ((answer.validator is None and status == 206) or answer.validator == plan.validator)
                and (answer.total is None or answer.total == plan.total)
                and (answer.md5 is None or plan.md5 is None or answer.md5 == plan.md5))
        if not same:
            answer.close()
            log.warning("%s changed during the download (asked for bytes from %d with If-Range %s, got HTTP %d "
                        "%s); starting over.", plan.url, start, plan.validator, status,
                        f"of version {answer.validator}" if answer.validator else "without a validator")
            if self.budget.next_attempt() is None:
                raise errors.FetchError(
                    f"Module URL {plan.url}: the archive changed while it was being downloaded, "
                    f"{self.budget.said(self.budget.attempts)}. Try again once it is published.")
            raise Restart()
        with self._cond:
            self._generation_served = True

    def _receive(self, part, answer):
        last = time.monotonic()
        fd = self._fd
        for chunk in answer.chunks():
            now = time.monotonic()
            with self._cond:
                if self._stopped or self._error is not None:
                    raise Stopped()
                since = max(last, self._last_credit)  # the clock stops while any connection receives
                if now > since:
                    self.budget.receiving_for += now - since
                    self._last_credit = now
                take = min(len(chunk), part.end - part.pos)
                at = part.pos
            last = now
            view, written = memoryview(chunk)[:take], 0
            try:
                while written < take:
                    written += os.pwrite(fd, view[written:], at + written)
            except OSError as e:
                raise _WriteFailed(e) from None
            with self._cond:
                # (the part's end may have moved below at + take meanwhile: bytes past it are another
                # connection's, written twice with the same content, counted once)
                moved = max(0, min(at + take, part.end) - at)
                part.pos = at + moved
                self.received += moved
                if part.first <= self._parts.prefix:
                    self._parts.advance()
                    self._cond.notify_all()
                done = part.pos >= part.end
            self._persist()
            if done:  # (a shortened part: its back half is another connection's now)
                return

    def _retry(self, error, part, opened):
        """After a drop of `part`: wait as the policy says, or raise a FetchError when the budget is spent.
        Drops of requests that were running when another drop began a new round join that round."""
        with self._retry_lock:
            now = time.monotonic()
            if self.budget.attempts > opened:
                wait = max(0.0, self._round_until - now)
            else:
                wait = self.budget.next_attempt()
                if wait is None:
                    raise errors.FetchError(
                        f"Module URL {self.plan.url}: the download was cut short: a range stopped at byte "
                        f"{part.pos} of {self.plan.total} ({_why(error)}), {self.budget.said(self.budget.attempts)}. "
                        "Check your network and try again; the parts downloaded so far are kept and the next "
                        "attempt continues from them.") from None
                self._round_until = now + wait
        log.warning("Range of %s interrupted at byte %d (%s); continuing in %.3g s.", self.plan.url, part.pos,
                    _why(error), wait)
        if wait > 0:
            self._wake.wait(wait)

    def _follow_again(self, generation):
        """The storage URL refused a part: follow the chain from the handle again, once for every part."""
        with self._follow_lock:
            with self._cond:
                if generation != self._generation:
                    return  # another part did it meanwhile: use the new URL
                served = self._generation_served
            if self.refollow is None:
                raise errors.FetchError(f"Module URL {self.plan.url}: the storage host refused a range of "
                                        f"{_short(self.url)}, and no way to follow the chain again was given.")
            if self._generation > 0 and not served:
                raise errors.FetchError(
                    f"Module URL {self.plan.url}: the storage host refused {_short(self.url)} right after the "
                    "redirect chain was followed again to get it; try again later.")
            log.info("The storage URL of %s refused a range (its signature expired?); following the chain again.",
                     self.plan.url)
            url = self.refollow()
            with self._cond:
                self.url = url
                self._generation += 1
                self._generation_served = False
                self.refollows += 1
            self._persist(force=True)

    # --- the part map -----------------------------------------------------------------------------
    def _persist(self, force=False):
        now = time.monotonic()
        if not force and now - self._persisted < PERSIST_EVERY:
            return
        with self._map_lock:
            if self._map_dead:
                return
            with self._cond:
                done = self._parts.written()
                url = self.url
            save(self.partial, attrs.evolve(self.plan, final_url=url, done=tuple(done)))
            self._persisted = now

    def _discard(self):
        """Keep nothing: no part map is written after this, and both files are removed."""
        with self._map_lock:
            self._map_dead = True
            discard(self.partial)


def _why(e):
    text = str(e) or type(e).__name__
    return text if len(text) < 200 else text[:200] + "…"


def _short(url):
    head, sep, query = url.partition("?")
    return head + ("?…" if sep and len(query) > 80 else sep + query)
