"""The per-entry lock of the cache: one OS lock (hubfn.util.locks) per handle, beside its entry.

Many processes loading one URL make one download: the first takes the lock and fetches, the others wait
and then find the entry whole. The OS drops the lock of a process that dies, so nobody waits on a crash.
"""

import logging
import os

from ...util import locks

log = logging.getLogger("hubfn")


class Locked:
    """The entry's OS lock; says once, in the log, that we wait for someone else's download.

    On leaving, the lock file is deleted (by its holder, before unlocking: see hubfn.util.locks) when
    there is no entry beside it, so failed fetches and removals leave nothing behind.
    """

    def __init__(self, paths, handle):
        self.paths = paths
        self.lock = locks.FileLock(paths.lock, on_wait=self._say_waiting)
        self.handle = handle

    def _say_waiting(self):
        log.info("Waiting for another process downloading %s.", self.handle)

    def __enter__(self):
        self.lock.acquire()
        return self

    def __exit__(self, *exc):
        self.lock.release(unlink=not os.path.lexists(self.paths.entry))
