"""One build at a time: an flock held from restore to save (CACHE_DIR), or
from linking to the end of the build (/app/.heroku/python).

Two builds that share a cache (CI runners, a retried build overlapping the
first) would otherwise rename the cached tree from under each other or swap
in a half-copied one. ``flock`` is released by the kernel when the process
dies, SIGKILL included, so a killed build never leaves the cache locked.

The wait is bounded: a build that cannot get the lock in time builds without
the cache (it neither restores nor saves) rather than failing, because a slow
neighbour is no reason to fail a deploy, and a cold build is still correct.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Callable
from pathlib import Path

from buildpack.core import safe_fs

# Long enough for a neighbour's cold build to finish, well inside the
# platform's build timeout. Overridable with BUILDPACK_CACHE_LOCK_TIMEOUT.
DEFAULT_TIMEOUT_SECONDS = 300.0
_POLL_SECONDS = 0.1


def timeout_setting(value: str | None, default: float) -> float:
    """Seconds to wait for a lock, from a setting (the default when unset or unreadable)."""
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


class FileLock:
    """An exclusive lock on ``path``; ``acquire`` returns False on timeout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self.waited = 0.0

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float, on_wait: Callable[[], None] | None = None) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds.

        ``on_wait`` is called once, when the lock is busy, so the log says why
        the build pauses before it does.
        """
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Never through a link: a planted one would make the truncate below
        # empty any file on the machine (OSError ELOOP instead).
        fd = safe_fs.open_nofollow(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        start = time.monotonic()
        try:
            got = self._wait(fd, start, timeout, on_wait)
        except BaseException:
            os.close(fd)
            raise
        if not got:
            os.close(fd)
            self.waited = time.monotonic() - start
            return False
        self.waited = time.monotonic() - start
        self._fd = fd
        # The holder's pid, for someone looking at a stuck build; not used for locking.
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        return True

    @staticmethod
    def _wait(fd: int, start: float, timeout: float, on_wait: Callable[[], None] | None) -> bool:
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
            if not announced:
                announced = True
                if on_wait is not None:
                    on_wait()
            if time.monotonic() - start >= timeout:
                return False
            time.sleep(_POLL_SECONDS)

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __del__(self) -> None:
        # A build that failed with an exception never reached release(); the
        # process is about to exit anyway, but in-process callers (tests) must
        # not keep the lock through a dropped object.
        with contextlib.suppress(OSError):
            self.release()
