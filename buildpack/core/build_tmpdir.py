"""A temporary directory of the build's own, for it and every program it runs.

Installers keep their work files in TMPDIR and remove them when they finish,
but not when they are stopped: a build interrupted during ``pip install``
would leave pip's unpacked downloads in the machine's /tmp. Pointing TMPDIR
at one directory per build, removed when the build ends however it ends
(short of SIGKILL), keeps the build from leaving anything outside BUILD_DIR
and CACHE_DIR.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path

PREFIX = "python-buildpack-"


@contextlib.contextmanager
def private_tmpdir(environ: MutableMapping[str, str] = os.environ) -> Iterator[Path | None]:
    """Set TMPDIR to a fresh directory inside the current one while the block runs.

    Yields None (and changes nothing) when no such directory can be made:
    a read-only /tmp is no reason to fail a build here.
    """
    try:
        path = Path(tempfile.mkdtemp(prefix=PREFIX))
    except OSError:
        yield None
        return
    previous = environ.get("TMPDIR")
    environ["TMPDIR"] = str(path)
    tempfile.tempdir = None  # tempfile caches the directory it chose
    try:
        yield path
    finally:
        if previous is None:
            environ.pop("TMPDIR", None)
        else:
            environ["TMPDIR"] = previous
        tempfile.tempdir = None
        shutil.rmtree(path, ignore_errors=True)
