"""Test-only pause points, so a test can SIGKILL a build at an exact step.

A crash-safety test cannot hit a window of a few system calls by timing; it
sets, in the environment of bin/compile (never read from config vars, so an
app cannot set it):

    BUILDPACK_TEST_PAUSE_AT=cache-save-swap        (comma-separated names)
    BUILDPACK_TEST_PAUSE_FIFO=/path/to/fifo        (made with mkfifo)

At a named point the build writes "<name> <pid>\\n" to the FIFO (blocking until
the test reads it), then opens the FIFO for reading and blocks until the test
opens it for writing and closes it (continue) or kills the build. Without
both variables this costs one dictionary lookup.
"""

from __future__ import annotations

import os

PAUSE_AT = "BUILDPACK_TEST_PAUSE_AT"
PAUSE_FIFO = "BUILDPACK_TEST_PAUSE_FIFO"


def pause(point: str) -> None:
    names = os.environ.get(PAUSE_AT)
    fifo = os.environ.get(PAUSE_FIFO)
    if not names or not fifo or point not in names.split(","):
        return
    with open(fifo, "w") as announce:
        announce.write(f"{point} {os.getpid()}\n")
    with open(fifo) as wait:
        wait.read()
