"""What the test session makes once, made once by all of its workers.

The suite runs in two pytest-xdist workers (see .ci/pytest): each is its own
process, with its own session fixtures. What is slow to make and the same
for every worker (the packed runtime, the loopback index, the locked apps,
the caches of a first build) is made in a directory beside the workers'
own temporary directories, by whichever worker wants it first, while the
other waits on a lock; then both use it. Without xdist the same code runs
in the one process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_DONE = ".made"


def root(factory: pytest.TempPathFactory) -> Path:
    """The directory every worker of this session shares."""
    base = factory.getbasetemp()
    # Under xdist each worker's base is <session dir>/popen-gwN.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    path = shared / "shared"
    path.mkdir(exist_ok=True)
    return path


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold ``path``.lock, exclusively, across the workers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def made_once(factory: pytest.TempPathFactory, name: str, make: Callable[[Path], object]) -> Path:
    """``root/name``, made by ``make`` (into an empty directory) unless a
    worker made it already (see make_at)."""
    return make_at(root(factory) / name, make)


def make_at(path: Path, make: Callable[[Path], object]) -> Path:
    """``path``, made by ``make`` (into an empty directory) unless some
    worker made it already. A ``make`` that fails leaves no mark, and the
    next worker to ask starts again."""
    with locked(path):
        if not (path / _DONE).is_file():
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir()
            make(path)
            (path / _DONE).touch()
    return path
