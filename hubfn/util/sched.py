"""A scheduling hint for hubfn's helper threads: the download's reader does not preempt the decoder.

A cold fetch over a fast link is paced by one stage, gzip decoding (hubfn.fetch.store.prefetch), while
the threads around it (the reader of the network or of the partial file's prefix, the thread that frees
a finished partial file) wake up a few hundred times a second, each to copy a network read or a write.
As normal threads, each wake-up may preempt the decoder on its core. Marked SCHED_BATCH (Linux), they
keep the same share of the CPU but wait for a free core instead of preempting a running thread.

Measured in three interleaved A/B runs (20-30 rounds each) of a cold `tar -czf` fetch of 146 MB over
loopback on the 2-core test machine: the fetch took 1.13-1.17x isal's one-core floor with these threads
marked and 1.16-1.22x without (medians); a gain of 2-5 %, beside a host whose floor itself moved
0.38-0.50 s between runs. The range workers of hubfn.fetch.transport.parallel, which the reader starts
(a thread starts with its creator's policy), are made normal threads again: they run when the storage
host is far away and the network paces the fetch, and there (`bench_fetch.py --storage`, two interleaved
A/B runs of 6 and 8 rounds) marking them was no faster: 2.19 s against 2.09 s, then 1.98 s against 1.96 s.
"""

import os


def as_batch_thread() -> None:
    """Mark the calling thread SCHED_BATCH, where the OS has that policy and the thread runs under the
    normal one (a real-time process is left as it is)."""
    _switch("SCHED_OTHER", "SCHED_BATCH")


def as_normal_thread() -> None:
    """Undo as_batch_thread for the calling thread (leaving SCHED_BATCH needs no privilege)."""
    _switch("SCHED_BATCH", "SCHED_OTHER")


def _switch(old, new):
    """The calling thread from policy `old` to `new` (os names); anything else, a platform without them or
    a refusal (a sandbox) changes nothing."""
    old, new = getattr(os, old, None), getattr(os, new, None)
    if old is None or new is None:
        return
    try:
        if os.sched_getscheduler(0) == old:
            os.sched_setscheduler(0, new, os.sched_param(0))
    except OSError:
        pass
