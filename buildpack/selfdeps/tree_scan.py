"""What is under a directory, with the sha256 of each regular file: read once, never through a link.

verified_tree.check_tree compares this with what a lock vouches for.
Reading and hashing the files is most of that check's time, and it needs
nothing the check is given: so a caller may start it in a thread
(``started``) while it reads the wheels the files are checked against
(reading a file and hashing it let the other thread run). The listing
itself decides nothing: a file is trusted only once check_tree has found
its digest to be the one the lock vouches for.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
    with started(root, leave_out) as scanning:
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


class Scan:
    """``scan`` of a directory, running in a thread (see ``started``): it
    lists the directory, then hashes the files from the first on; whoever
    waits for it (``entries``) hashes from the last one back meanwhile, so
    two cores share the hashing."""

    def __init__(self, root: Path, leave_out: str = "") -> None:
        self.root = root
        self.leave_out = leave_out
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


@contextlib.contextmanager
def started(root: Path, leave_out: str = "") -> Iterator[Scan]:
    """A scan of the real directory ``root``, begun now in a thread; on
    leaving, it is stopped (after the file it is reading) and waited for,
    so nothing reads the directory once the caller goes on to remove it."""
    running = Scan(root, leave_out)
    running._thread.start()
    try:
        yield running
    finally:
        running._stop.set()
        running._thread.join()
