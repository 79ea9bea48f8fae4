"""The package manager's wheels, fetched while the runtime downloads.

The runtime archive and the package manager's files (the pinned pip or uv
wheel; the locked dependency set of Poetry or Pipenv) come from different
servers and need nothing from each other, so ``start`` begins fetching the
files in a background thread before the runtime is installed, into a
temporary directory of the build's own. The install step later takes them
with ``files``, once the runtime is in place; if nothing was started for
exactly those files from that index (the index was not known before the
runtime, or the tool is cached), ``files`` fetches them there and then, the
same way.

The background never writes to the build log: whatever went wrong is
raised from ``files``, where the install step says it in order. At most
``WORKERS`` downloads run at once, on connections of their own, so a slow
runtime mirror and the index do not wait for each other. ``close`` stops
what is still running and removes the directory, whether the build goes on
or failed.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from buildpack.core.context import BuildContext
from buildpack.package_managers import tool_lock
from buildpack.selfdeps import package_index
from buildpack.selfdeps.wheel_tags import Interpreter

WORKERS = 4
# How long ``close`` waits for the downloads to see the stop: each ends at
# its next chunk. One stuck in a read is left to its read timeout, in a
# daemon thread whose files go with the build's TMPDIR: a failed build must
# say why now, not once the index answers.
_STOP_WAIT_SECONDS = 5.0

Job = Callable[[Path, threading.Event], list[Path]]


@dataclass(frozen=True)
class Plan:
    """What to fetch: ``key`` names the files and the index they come from."""

    key: str
    job: Job = field(compare=False)


class Fetch:
    """One plan's files, being fetched in a background thread."""

    def __init__(self, plan: Plan) -> None:
        self.key = plan.key
        self.dir = Path(tempfile.mkdtemp(prefix="tool-wheels-"))
        self.started = time.monotonic()
        self.seconds: float | None = None  # how long the fetch took, once done
        self._job = plan.job
        self._stop = threading.Event()
        self._files: list[Path] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="tool-fetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._files = self._job(self.dir, self._stop)
        except BaseException as exc:  # handed to the caller of result()
            self._error = exc
        finally:
            self.seconds = round(time.monotonic() - self.started, 3)

    def result(self) -> list[Path]:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._files

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=_STOP_WAIT_SECONDS)
        shutil.rmtree(self.dir, ignore_errors=True)


def pinned(index: package_index.IndexSettings, pin: package_index.Pin, minor: str) -> Plan:
    """The wheel of ``pin`` for the runtime ``minor`` (pip, uv)."""
    interp = Interpreter.runtime(minor)

    def job(dest: Path, stop: threading.Event) -> list[Path]:
        link = package_index.find_wheel(index, pin, interp)
        return [package_index.fetch_wheel(index, link, dest, stop=stop)]

    return Plan(f"{pin.project}=={pin.version} python{minor} {index}", job)


def locked(
    index: package_index.IndexSettings, lock: dict, tool: str, version: str, minor: str
) -> Plan:
    """Every wheel of ``tool``'s locked dependency set for the runtime ``minor``
    (raises LockUnusable when the lock has none)."""
    files = tool_lock.files_for(lock, tool, version, Interpreter.runtime(minor))
    exact = [package_index.ExactFile(f.project, f.filename, f.sha256) for f in files]

    def job(dest: Path, stop: threading.Event) -> list[Path]:
        return package_index.fetch_exact(index, exact, dest, workers=WORKERS, stop=stop)

    return Plan(f"{tool}=={version} locked python{minor} {index}", job)


def start(ctx: BuildContext, plan: Plan) -> None:
    """Begin fetching ``plan`` for a later ``fetched``; the build closes it
    (``BuildContext.close_tool_fetch``)."""
    ctx.close_tool_fetch()
    ctx.tool_fetch = Fetch(plan)


@contextlib.contextmanager
def fetched(ctx: BuildContext, plan: Plan) -> Iterator[list[Path]]:
    """The files of ``plan``: from the fetch ``start`` began, or fetched now.

    They are removed when the block ends. Raises what the fetch raised
    (IndexUnavailable...). The report says how long the fetch took, whether
    it ran beside the runtime install, and how long the build waited for it.
    """
    fetch = ctx.tool_fetch
    overlapped = fetch is not None and fetch.key == plan.key
    if fetch is None or not overlapped:
        fetch = Fetch(plan)
    else:
        ctx.tool_fetch = None  # this block closes it
    waiting = time.monotonic()
    try:
        paths = fetch.result()
        ctx.report.set("package_manager_fetch_overlapped", overlapped)
        ctx.report.set("package_manager_fetch_duration", fetch.seconds)
        ctx.report.set("package_manager_fetch_wait_duration", round(time.monotonic() - waiting, 3))
        yield paths
    finally:
        fetch.close()
