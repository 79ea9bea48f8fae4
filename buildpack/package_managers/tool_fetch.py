"""The package manager's wheels, fetched while the runtime downloads.

The runtime archive and the package manager's files (the pinned pip or uv
wheel; the locked dependency set of Poetry or Pipenv) come from different
servers and need nothing from each other, so ``start`` begins fetching the
files before the runtime is installed, into a temporary directory of the
build's own. The install step later takes them with ``fetched``, once the
runtime is in place; if nothing was started for exactly those files from
that index (the index was not known before the runtime, or the tool is
cached), ``fetched`` fetches them there and then, the same way.

The background fetch is a child process at the lowest priority (as the
buildpack's own libraries are fetched): unpacking the runtime is the step
every later one waits for, and in this process its extraction would also
wait for the fetch's Python code to let go of the interpreter. The child
never writes to the build log: whatever went wrong is raised from
``fetched``, where the install step says it in order. At most ``WORKERS``
downloads run at once, on connections of their own, so a slow runtime
mirror and the index do not wait for each other. ``close`` stops the child
and removes the directory, whether the build goes on or failed.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildpack.core import errors, proc
from buildpack.core.context import BuildContext
from buildpack.core.output import Output
from buildpack.core.settings import buildpack_root
from buildpack.package_managers import tool_lock
from buildpack.runtime import download_settings
from buildpack.selfdeps import package_index, wheel_lock

WORKERS = 4
# The fetch waits for nothing but the network; the build needs the CPU.
_NICENESS = 19
# Run as ``python -I -c``: -I keeps the app's and the user's Python
# settings out, so the package's path comes as an argument, and the checked
# PyPA wheel files (see selfdeps.pure_wheels) as the next, joined by os.pathsep.
_FETCH_SCRIPT = (
    "import os, sys; sys.path[:0] = [sys.argv[1], *filter(None, sys.argv[2].split(os.pathsep))]; "
    "from buildpack.package_managers.tool_fetch import fetch_main; "
    "sys.exit(fetch_main(sys.argv[3:]))"
)


@dataclass(frozen=True)
class Plan:
    """What to fetch, and from where: pinned wheels (project, version, minor)
    to find on the index, and exact files (project, filename, sha256)."""

    index: package_index.IndexSettings
    pins: tuple[tuple[str, str, str], ...] = ()
    files: tuple[tuple[str, str, str], ...] = ()

    def to_json(self) -> str:
        index = [self.index.url, self.index.cafile, sorted(self.index.trusted_hosts)]
        return json.dumps({"index": index, "pins": self.pins, "files": self.files})

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        url, cafile, trusted = data["index"]
        # The time budget comes with the environment (runtime.download_settings).
        budget = download_settings.download_budget(os.environ)
        index = package_index.IndexSettings(url, cafile, frozenset(trusted), budget)
        pins = tuple((p[0], p[1], p[2]) for p in data["pins"])
        files = tuple((f[0], f[1], f[2]) for f in data["files"])
        return cls(index, pins, files)


def pinned(index: package_index.IndexSettings, pin: package_index.Pin, minor: str) -> Plan:
    """The wheel of ``pin`` for the runtime ``minor`` (pip, uv)."""
    return Plan(index, pins=((pin.project, pin.version, minor),))


def locked(
    index: package_index.IndexSettings, lock: dict[str, Any], tool: str, version: str, minor: str
) -> Plan:
    """Every wheel of ``tool``'s locked dependency set for the runtime ``minor``
    (raises LockUnusable when the lock has none)."""
    env = wheel_lock.environment(minor, platform.machine())
    interp = package_index.interpreter(minor)  # IndexUnavailable without packaging
    return _files_plan(index, tool_lock.files_for(lock, tool, version, env, interp))


def recalled(
    index: package_index.IndexSettings,
    lock: dict[str, Any],
    tool: str,
    version: str,
    minor: str,
    names: list[str],
) -> Plan:
    """The plan ``locked`` chose in an earlier build, given its file
    ``names``: each must be the one locked wheel of a package of
    ``tool``'s set for the runtime ``minor``, and every package must have
    one (else LockUnusable). Standard library only: no tags to compute."""
    env = wheel_lock.environment(minor, platform.machine())
    files = tool_lock.files_present(lock, tool, version, env, names)
    if len(files) != len(names):
        raise tool_lock.LockUnusable("the names are not exactly one locked wheel a package")
    return _files_plan(index, files)


def _files_plan(index: package_index.IndexSettings, files: list[tool_lock.LockedFile]) -> Plan:
    return Plan(index, files=tuple((f.project, f.filename, f.sha256) for f in files))


def fetch_into(plan: Plan, dest: Path) -> list[Path]:
    """Fetch every file of ``plan`` into ``dest`` (raises IndexUnavailable)."""
    paths = []
    for project, version, minor in plan.pins:
        pin = package_index.Pin(project, version)
        link = package_index.find_wheel(plan.index, pin, package_index.interpreter(minor))
        paths.append(package_index.fetch_wheel(plan.index, link, dest))
    exact = [package_index.ExactFile(*f) for f in plan.files]
    return paths + package_index.fetch_exact(plan.index, exact, dest, workers=WORKERS)


# How the child hands a BuildError to the parent, on its last line.
_BUILD_ERROR = "BUILD-ERROR "


def fetch_main(argv: list[str]) -> int:
    """``PLAN_JSON DEST``: fetch the plan's files into DEST and print their
    names, one a line; exit 1 with the reason on the last line."""
    with contextlib.suppress(OSError):
        os.nice(_NICENESS)
    plan, dest = Plan.from_json(argv[0]), Path(argv[1])
    try:
        paths = fetch_into(plan, dest)
    except (package_index.IndexUnavailable, OSError) as exc:
        print(exc)
        return 1
    except errors.BuildError as exc:
        # A failure no fallback can fix (a too-slow index): the parent re-raises it.
        fields = {k: getattr(exc, k) for k in ("reason", "title", "cause", "action", "detail")}
        print(_BUILD_ERROR + json.dumps(fields))
        return 1
    print("\n".join(path.name for path in paths))
    return 0


class Fetch:
    """One plan's files, being fetched by a child process."""

    def __init__(self, plan: Plan, env: dict[str, str], pure_wheels: list[Path]) -> None:
        self.plan = plan
        self.dir = Path(tempfile.mkdtemp(prefix="tool-wheels-"))
        self.started = time.monotonic()
        self.seconds: float | None = None  # how long the fetch took, once done
        pure = os.pathsep.join(str(path) for path in pure_wheels)
        args = [sys.executable, "-I", "-c", _FETCH_SCRIPT, str(buildpack_root()), pure]
        self._child: proc.Background | None = proc.start(
            [*args, plan.to_json(), str(self.dir)], env=env
        )

    def result(self) -> list[Path]:
        assert self._child is not None, "result() after close()"
        done = self._child.finish(out=Output(), show=False)
        self._child = None
        self.seconds = round(time.monotonic() - self.started, 3)
        lines = done.output.strip().splitlines()
        if done.returncode != 0:
            reason = lines[-1] if lines else f"exit status {done.returncode}"
            if reason.startswith(_BUILD_ERROR):
                raise errors.BuildError(**json.loads(reason.removeprefix(_BUILD_ERROR)))
            raise package_index.IndexUnavailable(reason)
        paths = [self.dir / name for name in lines]
        if not all(path.is_file() and path.parent == self.dir for path in paths):
            raise package_index.IndexUnavailable(
                f"the fetch reported files it did not write: {lines}"
            )
        return paths

    def close(self) -> None:
        if self._child is not None:
            self._child.stop()
            self._child = None
        shutil.rmtree(self.dir, ignore_errors=True)


def start(ctx: BuildContext, plan: Plan) -> None:
    """Begin fetching ``plan`` for a later ``fetched``; the build closes it
    (``BuildContext.close_tool_fetch``)."""
    ctx.close_tool_fetch()
    pure = ctx.deps.pure.paths if ctx.deps is not None else []
    ctx.tool_fetch = Fetch(plan, _child_env(ctx), pure)


def _child_env(ctx: BuildContext) -> dict[str, str]:
    # The index settings are in the plan; the rest (proxies, certificates
    # through SSL_CERT_FILE...) is the build's own environment, with the
    # download time budget the app's config vars may set.
    env = {k: v for k, v in ctx.environ.items() if not k.startswith("PYTHON")}
    for name in download_settings.NAMES:
        value = ctx.setting(name)
        if value:
            env[name] = value
    return env


@contextlib.contextmanager
def fetched(ctx: BuildContext, plan: Plan, *, report: bool = True) -> Iterator[list[Path]]:
    """The files of ``plan``: from the fetch ``start`` began, or fetched now.

    They are removed when the block ends. Raises IndexUnavailable when they
    cannot be had. With ``report`` (the package manager's own files, not a
    helper's such as setuptools), the report says how long the fetch took,
    whether it ran beside the runtime install, and how long the build
    waited for it.
    """
    fetch = ctx.tool_fetch
    waiting = time.monotonic()
    if fetch is not None and fetch.plan == plan:
        ctx.tool_fetch = None  # this block closes it
        try:
            paths = fetch.result()
            if report:
                _say(ctx, True, fetch.seconds, waiting)
            yield paths
        finally:
            fetch.close()
        return
    # Nothing else runs now: fetched here, with no child to start.
    with tempfile.TemporaryDirectory(prefix="tool-wheels-") as tmp:
        paths = fetch_into(plan, Path(tmp))
        if report:
            _say(ctx, False, round(time.monotonic() - waiting, 3), waiting)
        yield paths


def _say(ctx: BuildContext, overlapped: bool, seconds: float | None, waiting: float) -> None:
    ctx.report.set("package_manager_fetch_overlapped", overlapped)
    ctx.report.set("package_manager_fetch_duration", seconds)
    ctx.report.set("package_manager_fetch_wait_duration", round(time.monotonic() - waiting, 3))
