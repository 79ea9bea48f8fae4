"""For tests of work that forks only when the process runs no other thread (core.forked)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def printed_alone(code: str, *args: str) -> str:
    """What ``code`` prints in a fresh interpreter: one thread only, unlike
    a test worker."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return done.stdout.strip()


@contextlib.contextmanager
def another_thread() -> Iterator[None]:
    """One more thread running, for the duration."""
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        yield
    finally:
        release.set()
        other.join()
