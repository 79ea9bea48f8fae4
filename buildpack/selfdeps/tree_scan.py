"""What is under a directory, with the sha256 of each regular file: read once, never through a link.

verified_tree.check_tree compares this with what a lock vouches for.
Reading and hashing the files is most of that check's time, and it needs
nothing the check is given: so a caller may start it in a thread
(``started``) while it reads the wheels the files are checked against
(reading a file and hashing it let the other thread run). The listing
itself decides nothing: a file is trusted only once check_tree has found
its digest to be the one the lock vouches for.

In a process that runs no other thread, ``started`` forks a child that
lists and hashes (core.forked) on the other core, since a thread takes
turns at the GIL with the caller's own work: Poetry's kept venv (1,900
files) was checked in 0.12-0.16 s instead of 0.20-0.28 s. Else the scan
runs in a thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from buildpack.core import forked

DIR, LINK, FILE, OTHER = "dir", "link", "file", "other"
_CHUNK = 1024 * 1024
# O_NONBLOCK: opening a fifo planted where a file should be must not wait.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK


@dataclass(frozen=True)
class Entry:
    rel: str  # relative to the scanned directory, "/"-separated
    kind: str  # DIR, LINK, FILE or OTHER (a fifo, a device...), never through a link
    sha256: str = ""  # a FILE's
    error: OSError | None = None  # why a FILE could not be read; raised when it is checked


def sha256_file(path: str | Path) -> str:
    """The sha256 of the regular file at ``path``, never through a link."""
    digest = hashlib.sha256()
    # Unbuffered: a venv has thousands of small files, read once each.
    fd = os.open(path, _READ_FLAGS)
    try:
        while chunk := os.read(fd, _CHUNK):
            digest.update(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest()


def scan(root: Path, leave_out: str = "") -> list[Entry]:
    """Everything under the directory ``root`` but its top-level
    ``leave_out``, in the order os.walk (top-down) lists it; a directory
    that cannot be listed is passed over, as os.walk does."""
    # The caller waits: a child would only move the same work elsewhere.
    with started(root, leave_out, child=False) as scanning:
        return scanning.entries()


def _list(root: Path, leave_out: str, stop: threading.Event) -> tuple[list[Entry], list[str]]:
    """The entries of ``scan`` but the files' digests, and each entry's path."""
    found: list[Entry] = []
    paths: list[str] = []
    pending = [(str(root), "")]
    while pending and not stop.is_set():
        top, prefix = pending.pop()
        subdirs = []
        for entry in _listing(top, leave_out if not prefix else ""):
            rel = prefix + entry.name
            if entry.is_symlink():
                kind = LINK
            elif entry.is_dir(follow_symlinks=False):
                subdirs.append((entry.path, f"{rel}/"))
                kind = DIR
            else:
                kind = FILE if entry.is_file(follow_symlinks=False) else OTHER
            found.append(Entry(rel, kind))
            paths.append(entry.path)
        pending += reversed(subdirs)  # the first one next, as os.walk goes
    return found, paths


def _listing(top: str, leave_out: str) -> list[os.DirEntry[str]]:
    """What is in ``top``: as os.walk, its directories (and links to
    directories) first, then the rest."""
    try:
        with os.scandir(top) as listing:
            found = [entry for entry in listing if entry.name != leave_out]
    except OSError:
        return []
    dirs: list[os.DirEntry[str]] = []
    others: list[os.DirEntry[str]] = []
    for entry in found:
        try:
            (dirs if entry.is_dir() else others).append(entry)
        except OSError:
            others.append(entry)
    return dirs + others


class _Hashing:
    """The sha256 of each of ``paths``, shared by two threads: one hashes
    from the first on, the other from the last back, until they meet."""

    def __init__(self, paths: list[str], stop: threading.Event) -> None:
        self.paths = paths
        self.found: list[str | OSError] = [""] * len(paths)
        self._stop = stop
        self._lock = threading.Lock()
        self._front, self._back = 0, len(paths)

    def work(self, *, from_front: bool) -> None:
        while not self._stop.is_set():
            with self._lock:
                if self._front >= self._back:
                    return
                if from_front:
                    index, self._front = self._front, self._front + 1
                else:
                    self._back -= 1
                    index = self._back
            try:
                self.found[index] = sha256_file(self.paths[index])
            except OSError as exc:
                self.found[index] = exc


def sha256_files(paths: list[Path]) -> list[str | OSError]:
    """The sha256 of each regular file of ``paths`` (never through a link),
    or why it could not be read; hashed on two threads."""
    hashing = _Hashing([str(path) for path in paths], threading.Event())
    helper = threading.Thread(target=hashing.work, kwargs={"from_front": True}, daemon=True)
    helper.start()
    hashing.work(from_front=False)
    helper.join()
    return hashing.found


class Begun:
    """A scan of ``root`` (but its top-level ``leave_out``) begun in the
    background: ``entries`` waits for it, ``stop`` ends it unread."""

    how = ""  # "thread" or "process", for the build report

    def __init__(self, root: Path, leave_out: str = "") -> None:
        self.root = root
        self.leave_out = leave_out

    def entries(self) -> list[Entry]:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class Scan(Begun):
    """``scan`` of a directory, running in a thread (see ``started``): it
    lists the directory, then hashes the files from the first on; whoever
    waits for it (``entries``) hashes from the last one back meanwhile, so
    two cores share the hashing."""

    how = "thread"

    def __init__(self, root: Path, leave_out: str = "") -> None:
        super().__init__(root, leave_out)
        self._stop = threading.Event()
        self._listed = threading.Event()
        self._entries: list[Entry] = []
        self._files: list[int] = []  # which entries are files, in the order hashed
        self._hashing = _Hashing([], self._stop)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tree-scan", daemon=True)

    def _run(self) -> None:
        try:
            self._entries, paths = _list(self.root, self.leave_out, self._stop)
            self._files = [i for i, entry in enumerate(self._entries) if entry.kind == FILE]
            self._hashing = _Hashing([paths[i] for i in self._files], self._stop)
        except BaseException as exc:  # handed to the thread that waits for it
            self._error = exc
        finally:
            self._listed.set()
        self._hashing.work(from_front=True)

    def entries(self) -> list[Entry]:
        """The listing, once made (re-raising what listing raised)."""
        self._listed.wait()
        self._hashing.work(from_front=False)
        self._thread.join()
        if self._error is not None:
            raise self._error
        if self._stop.is_set():  # a partial listing must never be checked
            raise RuntimeError(f"the scan of {self.root} was stopped")
        done = list(self._entries)
        for index, digest in zip(self._files, self._hashing.found, strict=True):
            entry = done[index]
            if isinstance(digest, OSError):
                done[index] = Entry(entry.rel, entry.kind, error=digest)
            else:
                done[index] = Entry(entry.rel, entry.kind, digest)
        return done

    def stop(self) -> None:
        """Stop after the file being read, and wait for the thread."""
        self._stop.set()
        self._thread.join()


class ChildScan(Begun):
    """``scan`` of a directory in a forked child process (core.forked),
    which lists and hashes it one file after the other. Only for a process
    running no other thread."""

    how = "process"

    def __init__(self, root: Path, leave_out: str, child: forked.Child[list[Entry]]) -> None:
        super().__init__(root, leave_out)
        self.child = child

    def entries(self) -> list[Entry]:
        """The listing, once the child has sent it all and ended well."""
        return list(self.child.result())

    def stop(self) -> None:
        """End the child, done or not, so nothing reads the directory after."""
        self.child.stop()


def _serial_scan(root: Path, leave_out: str) -> list[Entry]:
    """``scan`` without threads (the child's)."""
    found, paths = _list(root, leave_out, threading.Event())
    done = []
    for entry, path in zip(found, paths, strict=True):
        if entry.kind != FILE:
            done.append(entry)
            continue
        try:
            done.append(Entry(entry.rel, FILE, sha256_file(path)))
        except OSError as exc:
            done.append(Entry(entry.rel, FILE, error=exc))
    return done


@contextlib.contextmanager
def started(root: Path, leave_out: str = "", *, child: bool | None = None) -> Iterator[Begun]:
    """A scan of the real directory ``root``, begun now: in a child process
    when this process runs no other thread (``child`` decides, when given),
    else in a thread. On leaving, it is stopped and waited for, so nothing
    reads the directory once the caller goes on to remove it."""
    running: Begun | None = in_child(root, leave_out, wanted=child)
    if running is None:
        running = Scan(root, leave_out)
        running._thread.start()
    with taken(running) as scanning:
        yield scanning


def in_child(root: Path, leave_out: str = "", *, wanted: bool | None = None) -> ChildScan | None:
    """A scan of ``root`` begun now in a forked child, or None when none is
    (see core.forked.start); the caller stops it."""
    child = forked.start(
        lambda: _serial_scan(root, leave_out), f"the scan of {root}", wanted=wanted
    )
    return None if child is None else ChildScan(root, leave_out, child)


@contextlib.contextmanager
def taken(running: Begun) -> Iterator[Begun]:
    """``running``, stopped and waited for on leaving (see ``started``)."""
    try:
        yield running
    finally:
        running.stop()
