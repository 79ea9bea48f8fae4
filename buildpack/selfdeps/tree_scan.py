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
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class Entry:
    rel: str  # relative to the scanned directory, "/"-separated
    kind: str  # DIR, LINK, FILE or OTHER (a fifo, a device...), never through a link
    sha256: str = ""  # a FILE's
    error: OSError | None = None  # why a FILE could not be read; raised when it is checked


class _Stopped(Exception):
    pass


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


def scan(root: Path, leave_out: str = "", stop: threading.Event | None = None) -> list[Entry]:
    """Everything under the directory ``root`` but its top-level
    ``leave_out``, in the order os.walk (top-down) lists it; a directory
    that cannot be listed is passed over, as os.walk does."""
    found: list[Entry] = []
    pending = [(str(root), "")]
    while pending:
        top, prefix = pending.pop()
        subdirs = []
        for entry in _listing(top, leave_out if not prefix else ""):
            if stop is not None and stop.is_set():
                raise _Stopped
            rel = prefix + entry.name
            if entry.is_symlink():
                found.append(Entry(rel, LINK))
            elif entry.is_dir(follow_symlinks=False):
                subdirs.append((entry.path, f"{rel}/"))
                found.append(Entry(rel, DIR))
            elif entry.is_file(follow_symlinks=False):
                try:
                    found.append(Entry(rel, FILE, sha256_file(entry.path)))
                except OSError as exc:
                    found.append(Entry(rel, FILE, error=exc))
            else:
                found.append(Entry(rel, OTHER))
        pending += reversed(subdirs)  # the first one next, as os.walk goes
    return found


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


class Scan:
    """``scan`` of a directory, running in a thread (see ``started``)."""

    def __init__(self, root: Path, leave_out: str = "") -> None:
        self.root = root
        self.leave_out = leave_out
        self._stop = threading.Event()
        self._entries: list[Entry] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tree-scan", daemon=True)

    def _run(self) -> None:
        try:
            self._entries = scan(self.root, self.leave_out, self._stop)
        except _Stopped:
            pass
        except BaseException as exc:  # handed to the thread that waits for it
            self._error = exc

    def entries(self) -> list[Entry]:
        """The listing, once the thread has made it (re-raising what it raised)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._entries


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
