"""Run a chunk producer (network reads + partial-file writes) in a thread, ahead of the consumer.

Decoding gzip is the slowest step of a fetch; isal releases the GIL while it works, so reading the
socket and appending to the partial file in another thread takes them off the critical path. The queue
is bounded (`depth` chunks of at most 1 MiB), so memory stays flat whatever the archive size.
"""

import queue
import threading

_END = object()


def prefetched(chunks, depth=8, on_stop=None):
    """Yield the items of the generator `chunks`, produced in a background thread.

    Exceptions of the producer are re-raised here. When the consumer stops early (an error, or
    closing this generator), `on_stop()` is called so the producer can stop writing at once, and the
    producer closes `chunks` itself (generators must be closed by the thread that runs them).
    """
    q = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run():
        try:
            for item in chunks:
                if not put(item):
                    return
            put((_END, None))
        except BaseException as e:  # handed to the consumer, which re-raises it in its thread
            put((_END, e))
        finally:
            chunks.close()

    thread = threading.Thread(target=run, name="hubfn-download", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if type(item) is tuple and item[0] is _END:
                if item[1] is not None:
                    raise item[1]
                return
            yield item
    finally:
        if thread.is_alive():
            stop.set()
            if on_stop is not None:
                on_stop()
            # A producer blocked in a socket read gives up within the read timeout; we do not wait.
            thread.join(timeout=1.0)
