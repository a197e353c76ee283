"""An exclusive OS lock on a file (flock) whose file the holder may delete when it is no longer needed.

A lock file that is never deleted piles up (one per handle ever tried); deleting one naively breaks
mutual exclusion: a process waiting on the old file would get "the lock" of a file nobody else uses
any more, while a newcomer creates a new file at the path and locks that. So acquiring checks, once
the lock is held, that the open file is still the one at the path (same device and inode); if not, it
closes it and starts again. Only the holder of the lock of the file currently at the path ever
deletes it (`release(unlink=True)`: delete first, then unlock), so the check is enough.

The OS drops a flock when its holder dies (even by kill -9): a crash leaves at most an unlocked file,
which nobody waits on. Each acquisition opens its own file description, so threads of one process
exclude each other as processes do.
"""

import errno
import logging
import os
import time

try:
    import fcntl
except ImportError:  # not POSIX: filelock's portable lock, whose files are simply never deleted
    fcntl = None

log = logging.getLogger("hubfn")


class FileLock:
    """`with FileLock(path, on_wait=...)`, or acquire() / release(unlink=...)."""

    def __init__(self, path, on_wait=None, quiet_wait=0.5, poll_interval=0.02):
        self.path = path
        self.on_wait = on_wait  # called once if the lock is not free within `quiet_wait` seconds
        self.quiet_wait = quiet_wait
        self.poll_interval = poll_interval
        self._fd = None
        self._fallback = None

    @property
    def held(self):
        return self._fd is not None or self._fallback is not None

    def acquire(self):
        if self.held:
            raise RuntimeError(f"lock {self.path} is already held by this object")
        if fcntl is None:
            import filelock

            lock = filelock.FileLock(self.path, thread_local=False)
            try:
                lock.acquire(timeout=self.quiet_wait, poll_interval=self.poll_interval)
            except filelock.Timeout:
                if self.on_wait is not None:
                    self.on_wait()
                lock.acquire(poll_interval=self.poll_interval)
            self._fallback = lock
            return self
        deadline = time.monotonic() + self.quiet_wait
        waited = False
        while True:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o644)
            try:
                if not self._try_lock(fd):
                    # Busy: poll quietly for a moment (most holders are quick), then say so and block.
                    while time.monotonic() < deadline:
                        time.sleep(self.poll_interval)
                        if self._try_lock(fd):
                            break
                    else:
                        if not waited:
                            waited = True
                            if self.on_wait is not None:
                                self.on_wait()
                        fcntl.flock(fd, fcntl.LOCK_EX)
                if self._is_current(fd):
                    self._fd = fd
                    return self
            except BaseException:
                os.close(fd)
                raise
            # The holder we waited for deleted the file (or it was replaced): lock the one there now.
            os.close(fd)

    @staticmethod
    def _try_lock(fd):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as e:
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                return False
            raise

    def _is_current(self, fd):
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return False
        mine = os.fstat(fd)
        return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)

    def release(self, unlink=False):
        """Unlock; with unlink=True first delete the lock file (only its holder may)."""
        if self._fallback is not None:
            lock, self._fallback = self._fallback, None
            lock.release()
            return
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if unlink:
                try:
                    os.unlink(self.path)
                except FileNotFoundError:
                    pass
                except OSError as e:  # a read-only cache: the file stays, harmlessly
                    log.debug("Could not remove lock file %s: %s", self.path, e)
        finally:
            os.close(fd)  # closing the last descriptor of the file description drops the flock

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
