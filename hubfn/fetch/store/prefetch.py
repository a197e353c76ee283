"""Stages of a fetch that run in threads, each ahead of the one after it, joined by bounded queues.

A cold fetch runs three threads:
    hubfn-download  socket reads, the partial file (when kept), the MD5       (hubfn.fetch.cache)
    hubfn-gunzip    isal's gzip decoder and the expansion-ratio cap           (hubfn.fetch.store.extract)
    the caller's    tar headers, file writes, content hashes                 (hubfn.fetch.store.extract)
Decoding is the slowest step. Profiled on the 2-core test machine (a cold hub_resolve of a 200 MB
module, `bench/bench_fetch.py --profile`), isal was busy for ~75 % of the fetch, and the file writes,
hashes and tar parsing took another ~15 % on the same thread. isal releases the GIL while it decodes, so
with that work in another thread the fetch takes little more than its decoding when a core is free.
hubfn-download runs as a batch thread (hubfn.util.sched): its wake-ups wait for a free core rather than
preempt the decoder.

An archive from `hubfn pack` carries a block index (hubfn.util.gzindex): hubfn-gunzip then hands its
blocks to a few hubfn-inflate threads (hubfn.fetch.store.blocks) and passes their outputs on in order.

Each queue holds at most `depth` items of at most 1 MiB (network reads and decoder output are both
capped there), so memory stays flat whatever the archive size.
"""

import queue
import threading

from ...util import sched

POLL = 0.05  # seconds between looks at the stop flag while a queue is full or empty


class Cancelled(Exception):
    """Raised in a stage's consumer when the stage was stopped from another thread meanwhile."""


class _End:
    """The last item of a queue: the producer finished, or failed with `error`."""

    def __init__(self, error=None):
        self.error = error


class Prefetched:
    """The items of the iterator `items`, produced in a background thread named `name`.

    Exceptions of the producer are re-raised in the consumer. stop() (from any thread) or close() (by
    the consumer) makes the producer stop at once: `on_stop()` is called so it can stop writing, its
    thread then closes `items` itself (generators must be closed by the thread that runs them), and a
    consumer waiting for an item gets Cancelled. A stage whose `items` read from another Prefetched
    should stop that one too: pass its stop as `on_stop`. batch: run the thread as a batch thread
    (hubfn.util.sched), for a stage that must not preempt the decoder.
    """

    def __init__(self, items, depth=8, on_stop=None, name="hubfn-prefetch", batch=False):
        self._queue = queue.Queue(maxsize=depth)
        self._batch = batch  # a stage that must not preempt the decoder (hubfn.util.sched)
        self._stop = threading.Event()
        self._on_stop = on_stop
        self._ended = False
        self._thread = threading.Thread(target=self._run, args=(items,), name=name, daemon=True)
        self._thread.start()

    def _put(self, item):
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=POLL)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, items):
        if self._batch:
            sched.as_batch_thread()
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put(_End())
        except BaseException as e:  # handed to the consumer, which re-raises it in its thread
            self._put(_End(e))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def __iter__(self):
        return self

    def __next__(self):
        if self._ended:
            raise StopIteration
        while True:
            try:
                item = self._queue.get(timeout=POLL)
                break
            except queue.Empty:
                if self._stop.is_set():
                    raise Cancelled() from None
        if type(item) is _End:
            self._ended = True
            if item.error is not None:
                raise item.error
            raise StopIteration
        return item

    def stop(self):
        """Tell the producer to stop now; safe from any thread, and more than once."""
        if not self._stop.is_set():
            self._stop.set()
            if self._on_stop is not None:
                self._on_stop()

    def close(self):
        """Stop the producer if it is still producing, and give its thread a moment to end.

        A producer blocked in a socket read gives up within the read timeout; we do not wait for that.
        One whose last item (its end, or its error) the consumer has taken is only closing `items`: it
        is not stopped, since on_stop reaches the source behind it, which may be used again (hubfn.fetch.
        cache begins a new attempt with the same download after a download.Restart error).
        """
        if self._thread.is_alive() and not self._ended:
            self.stop()
            self._thread.join(timeout=1.0)
        self._ended = True
