"""Work done in a forked child process, on the other core, while the build goes on.

Two threads of one process take turns at the GIL for every small file, so
reading a tree of small files in a thread barely overlaps the build's own
work. A forked child runs beside it for real. Only when the build runs no
other thread, though: a fork copies just the thread that calls it, and a
lock another thread held at that moment (OpenSSL's, under hashlib) would
stay locked in the child for ever. Callers do the work in process
otherwise.

The child runs one function, sends its pickled result over a pipe and
exits; it never returns into the build's code nor runs its cleanups.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
_CHUNK = 1024 * 1024


class ChildFailed(OSError):
    """The child could not start, or ended without a result (killed, or its
    work raised)."""


def possible() -> bool:
    """Whether a fork is safe here: no other thread runs."""
    return hasattr(os, "fork") and threading.active_count() == 1


def start(work: Callable[[], T], what: str, *, wanted: bool | None = None) -> Child[T] | None:
    """``work()`` begun in a forked child, or None when it is not: another
    thread runs (``wanted`` decides, when given) or no process could be
    started. The caller then does the work itself."""
    if not (possible() if wanted is None else wanted):
        return None
    try:
        return Child(work, what)
    except ChildFailed:
        return None


class Child(Generic[T]):
    """``work()`` running in a forked child; ``result`` waits for it."""

    def __init__(self, work: Callable[[], T], what: str) -> None:
        self.what = what  # for the error: "the scan of DIR"
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError as exc:  # no process to spare: the caller does the work
            os.close(read_end)
            os.close(write_end)
            raise ChildFailed(f"could not start a process for {what}: {exc}") from None
        if pid == 0:
            _run_child(work, read_end, write_end)  # never returns
        os.close(write_end)
        self.pid: int | None = pid
        self._read = read_end
        self._done: tuple[T] | None = None

    def result(self) -> T:
        """What ``work`` returned; ChildFailed if the child did not end well."""
        if self._done is None:
            chunks = []
            try:
                while chunk := os.read(self._read, _CHUNK):
                    chunks.append(chunk)
            except BaseException:
                self._reap(kill=True)
                raise
            status = self._reap(kill=False)
            if status != 0:
                raise ChildFailed(f"the process for {self.what} ended with status {status}")
            self._done = (pickle.loads(b"".join(chunks)),)
        return self._done[0]

    def stop(self) -> None:
        """End the child, done or not, and reap it."""
        self._reap(kill=True)

    def _reap(self, *, kill: bool) -> int:
        if self.pid is None:
            return 0
        pid, self.pid = self.pid, None
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        os.close(self._read)
        return os.waitstatus_to_exitcode(status)


def _run_child(work: Callable[[], T], read_end: int, write_end: int) -> None:
    status = 1
    try:
        os.close(read_end)
        # The build's SIGTERM handler is for the build: the child just ends.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        view = memoryview(pickle.dumps(work(), protocol=pickle.HIGHEST_PROTOCOL))
        while view:
            view = view[os.write(write_end, view) :]
        status = 0
    finally:
        os._exit(status)
