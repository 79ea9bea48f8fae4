"""The PyPA libraries, imported straight from their pinned wheel files.

packaging (wheel tags, project names, requirements), installer (wheel
installs) and, on Python 3.10, tomli (the app's TOML files) are needed
before anything else is installed: to choose and unpack the wheels of the
buildpack's other libraries and of the app's package manager, and to read
uv.lock or poetry.lock for the build cache. Each is a pure-Python
``py3-none-any`` wheel, which Python imports from the file itself
(zipimport), so nothing has to be installed first: the build fetches these
few small files before anything else, from the index pip would use, by
exact name (which needs only the standard library), or by pip when that
cannot be done, and keeps them in CACHE_DIR with the buildpack's other
libraries.

CACHE_DIR is not trusted. Whenever a build uses a file, it copies it into
its own temporary directory, checking the sha256 the buildpack's lock
(buildpack-locks.json, see wheel_lock) holds for it on the way, and imports
the copy (so a hook that empties CACHE_DIR cannot pull it away either). A
cached file that does not match is removed, and fetched again.

Until they are there (no index known yet, the index unreachable), the build
goes on: what needs them falls back to pip, or to running the installer
instead of skipping it, and the caller logs why.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildpack.core import errors, proc
from buildpack.core.output import Output
from buildpack.selfdeps import package_index, wheel_lock

WHEELS_DIR = Path(".heroku/buildpack-deps/wheels")
PROJECTS = ("packaging", "installer", "tomli")
_CHUNK = 1024 * 1024
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class PureWheel:
    project: str  # its canonical name, as the index names its page
    version: str
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.project}-{self.version}-py3-none-any.whl"

    @property
    def locked(self) -> wheel_lock.LockedFile:
        return wheel_lock.LockedFile(self.project, self.version, self.filename, self.sha256)


def needed(project: str, python: tuple[int, int]) -> bool:
    """Whether an interpreter of version ``python`` imports ``project``
    (tomli backports tomllib, which 3.11 has)."""
    return project != "tomli" or python < (3, 11)


def pinned(
    lock: Mapping[str, Any], pins: Mapping[str, str], python: tuple[int, int]
) -> list[PureWheel]:
    """The wheels an interpreter of version ``python`` imports, with the
    sha256 the buildpack's lock holds for each; LockUnusable without one."""
    entry = lock["tools"].get(wheel_lock.BUILDPACK_DEPENDENCIES)
    if not isinstance(entry, dict) or entry.get("version") != wheel_lock.pins_version(pins):
        raise wheel_lock.LockUnusable("the buildpack's lock is not of its pins")
    locked = {
        wheel["file"]: wheel["sha256"]
        for package in entry["packages"]
        for wheel in package["wheels"]
    }
    wheels = []
    for project in PROJECTS:
        if project in pins and needed(project, python):
            wheel = PureWheel(project, pins[project], "")
            if wheel.filename not in locked:
                raise wheel_lock.LockUnusable(f"the lock has no {wheel.filename}")
            wheels.append(PureWheel(project, pins[project], locked[wheel.filename]))
    return wheels


def copy_verified(source: Path, dest: Path, sha256: str) -> bool:
    """Copy ``source`` (never through a link) to a new file ``dest`` if its
    sha256 is ``sha256``; False, with nothing at ``dest``, if it is not or
    cannot be read. The one check of a cached file."""
    digest = hashlib.sha256()
    dest.unlink(missing_ok=True)
    try:
        fd = os.open(source, _READ_FLAGS)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "rb") as src, _create(dest) as out:
            if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
                raise OSError(f"{source} is not a regular file")
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
    except OSError:
        dest.unlink(missing_ok=True)
        return False
    if digest.hexdigest() != sha256:
        dest.unlink()
        return False
    return True


class PureWheels:
    """The pinned PyPA wheels for this interpreter: from CACHE_DIR, checked,
    or fetched; each one put on sys.path as soon as it is here."""

    def __init__(
        self, cache_dir: Path, wheels: list[PureWheel], work_dir: Path, unavailable: str = ""
    ) -> None:
        self.cache_dir = cache_dir
        self.cache = cache_dir / WHEELS_DIR
        self.wheels = wheels
        self.work = work_dir  # the build's own: the copies it imports
        # For the build report: "cache", "index", or "" while not all are here.
        self.source = ""
        # Why they cannot be had at all (no lock of them), or why the last
        # fetch did not work.
        self.problem = unavailable
        self._unavailable = bool(unavailable)
        self.discarded: list[str] = []  # cached files that did not match
        self._active: dict[str, Path] = {}

    @property
    def ready(self) -> bool:
        return not self._unavailable and all(w.filename in self._active for w in self.wheels)

    @property
    def paths(self) -> list[Path]:
        return list(self._active.values())

    @property
    def names(self) -> str:
        return ", ".join(w.project for w in self.wheels)

    def use_cached(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        for wheel in self._missing():
            cached = self.cache / wheel.filename
            if copy_verified(cached, self.work / wheel.filename, wheel.sha256):
                self._activate(self.work / wheel.filename)
            elif os.path.lexists(cached):
                self.discarded.append(wheel.filename)
                _remove(cached)
        if self.ready and self.wheels:
            self.source = "cache"

    def fetch(self, index: package_index.IndexSettings) -> bool:
        """Fetch what is missing, each checked against its pinned sha256,
        keep it in CACHE_DIR, and put it on sys.path; False (``problem``
        says why) when that cannot be done."""
        missing = self._missing()
        if self._unavailable or not missing:
            return self.ready
        try:
            self.work.mkdir(parents=True, exist_ok=True)
            # A few small files, each a page and a download: all at once.
            fetched = package_index.in_parallel(
                lambda w: package_index.fetch_locked(index, w.locked, self.work),
                missing,
                workers=len(missing),
            )
        except (package_index.IndexUnavailable, OSError) as exc:
            self.problem = str(exc)
            return False
        for path in fetched:
            self._take(path)
        self.source = "index"
        return self.ready

    def fetch_with_pip(self, pip: list[str], env: dict[str, str], out: Output) -> bool:
        """What is missing, downloaded by ``pip`` held to the lock's sha256
        (pip takes, of a release's files, the one with that hash)."""
        missing = self._missing()
        if self._unavailable or not missing:
            return self.ready
        downloads = self.work / "pip"
        requirements = self.work / "pure-wheels.txt"
        lines = [f"{w.project}=={w.version} --hash=sha256:{w.sha256}" for w in missing]
        try:
            downloads.mkdir(parents=True, exist_ok=True)
            requirements.write_text("\n".join(lines) + "\n")
            proc.run(
                [
                    *pip,
                    *("download", "--disable-pip-version-check", "--no-input", "--quiet"),
                    *("--no-cache-dir", "--no-deps", "--only-binary=:all:", "--require-hashes"),
                    *("--dest", str(downloads), "--requirement", str(requirements)),
                ],
                out=out,
                env=env,
                show=False,
                on_failure=lambda r: errors.buildpack_dependencies_failed(r.output),
            )
        except (errors.BuildError, OSError) as exc:
            self.problem = exc.detail if isinstance(exc, errors.BuildError) else str(exc)
            return False
        for wheel in missing:
            copy = self.work / wheel.filename
            if copy_verified(downloads / wheel.filename, copy, wheel.sha256):
                self._take(copy)
        self.source = "pip"
        return self.ready

    def _take(self, path: Path) -> None:
        self._keep(path)
        self._activate(path)

    def _missing(self) -> list[PureWheel]:
        return [w for w in self.wheels if w.filename not in self._active]

    def _activate(self, path: Path) -> None:
        self._active[path.name] = path
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))

    def _keep(self, path: Path) -> None:
        """A copy in CACHE_DIR for later builds, if the way there holds no link."""
        if not _real_dirs(self.cache_dir, self.cache):
            return
        partial = self.cache / f".{path.name}.partial-{os.getpid()}"
        try:
            _remove(partial)
            with open(path, "rb") as src, _create(partial) as out:
                while chunk := src.read(_CHUNK):
                    out.write(chunk)
            os.replace(partial, self.cache / path.name)
        except OSError:
            _remove(partial)


def _create(path: Path) -> io.BufferedWriter:
    return os.fdopen(os.open(path, _WRITE_FLAGS, 0o644), "wb")


def _remove(path: Path) -> None:
    # A directory where a wheel should be stays: the check refuses it each time.
    with contextlib.suppress(OSError):
        os.unlink(path)


def _real_dirs(root: Path, directory: Path) -> bool:
    """Make ``directory`` under ``root`` where missing; False if any part of
    the way is a link or not a directory (nothing is then written there)."""
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    current = root
    for part in directory.relative_to(root).parts:
        current = current / part
        try:
            st = os.lstat(current)
        except FileNotFoundError:
            try:
                current.mkdir()
            except OSError:
                return False
            continue
        except OSError:
            return False
        if not stat.S_ISDIR(st.st_mode):
            return False
    return True
