"""The sha256 of every wheel the buildpack runs code from, shipped beside buildpack.toml.

CACHE_DIR keeps the buildpack's own libraries and a copy of pip between
builds, but an earlier build's hooks and dependencies ran as root and could
have changed them: code from there is only used after it matches hashes the
buildpack holds outside CACHE_DIR. ``buildpack-locks.json`` holds them,
written by ``tools/lock-wheels`` whenever a pin in buildpack.toml changes
(a unit test fails until it is). It names files and hashes, never an index
address: the build fetches the files from whatever index pip is set up to
use, and refuses any that differs.

The format is the one of tool-locks.json (tools/lock-tools), one entry per
locked set of wheels::

    {"environments": ["3.10-x86_64", ...],
     "tools": {"buildpack-dependencies": {
                  "version": "<digest of the pins>", "environments": [...],
                  "packages": [{"name": "zstandard", "version": "0.25.0",
                                "environments": [...],   # when not all
                                "wheels": [{"file": "...", "sha256": "..."}]}]},
               "pip": {"version": "26.3", ..., "wheels": [{"file": ..., "sha256": ...,
                                                          "members_sha256": ...}]}}}

``members_sha256`` (see ``members_digest``) is the digest of what a wheel
unpacks to, for checking a copy of its files without the wheel itself.
Standard library only where it is read before the buildpack's libraries are
there (``load``, ``covered``); choosing among a package's locked wheels
(``files_for``) takes packaging's tags.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from buildpack.selfdeps.wheel_choice import Interpreter

LOCK_FILE = "buildpack-locks.json"
BUILDPACK_DEPENDENCIES = "buildpack-dependencies"
MACHINES = ("x86_64", "aarch64")
# The glibc of the oldest stack (heroku-22): the generator checks that the
# lock has a wheel of every package for each environment there.
OLDEST_GLIBC = (2, 35)
SHA256 = re.compile(r"[0-9a-f]{64}\Z")


class LockUnusable(Exception):
    """The lock cannot vouch for files here; the message says why (for the log)."""


@dataclass(frozen=True)
class LockedFile:
    project: str
    version: str
    filename: str
    sha256: str
    members_sha256: str = ""


def lock_path(buildpack_dir: Path) -> Path:
    return buildpack_dir / LOCK_FILE


def environment(minor: str, machine: str) -> str:
    """The key of one environment a lock covers: ``3.13-x86_64``."""
    return f"{minor}-{machine}"


def interpreter(env: str, glibc: tuple[int, int] = OLDEST_GLIBC) -> Interpreter:
    """A standard CPython of the environment ``env`` on a glibc Linux (takes packaging)."""
    from buildpack.selfdeps.wheel_choice import Interpreter, manylinux_platforms

    minor, _, machine = env.partition("-")
    return Interpreter.runtime(minor, manylinux_platforms(machine, glibc))


def pins_version(pins: Mapping[str, str]) -> str:
    """The "version" of the buildpack-dependencies entry: a digest of its pins,
    so that a pin changed without a new lock is noticed."""
    text = "\n".join(f"{name}=={version}" for name, version in sorted(pins.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def members_digest(members: Iterable[tuple[str, str]]) -> str:
    """One digest of (path, sha256 hex) pairs: what a wheel unpacks to."""
    lines = sorted(f"{path}\0{digest}\n" for path, digest in members)
    return hashlib.sha256("".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


def load(buildpack_dir: Path) -> dict[str, Any]:
    return load_file(lock_path(buildpack_dir), "wheels")


def load_file(path: Path, what: str) -> dict[str, Any]:
    """A lock file of this format (buildpack-locks.json, tool-locks.json)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LockUnusable(f"{path.name} could not be read: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("tools"), dict):
        raise LockUnusable(f"{path.name} is not a lock of {what}")
    return data


def entry_of(data: Mapping[str, Any], entry_name: str, version: str) -> dict[str, Any]:
    """The lock's entry for ``entry_name`` at ``version``; else LockUnusable."""
    entry = data["tools"].get(entry_name)
    if not isinstance(entry, dict) or entry.get("version") != version:
        raise LockUnusable(f"the buildpack has no lock of {entry_name} {version}")
    return entry


def covered(
    data: Mapping[str, Any], entry_name: str, version: str, env: str, abiflags: str = ""
) -> dict[str, Any]:
    """The entry, if it covers the environment ``env`` (a standard build:
    no ``abiflags``); else LockUnusable. Standard library only."""
    entry = entry_of(data, entry_name, version)
    if abiflags or env not in entry.get("environments", []):
        raise LockUnusable(f"the lock of {entry_name} does not cover Python {env}{abiflags}")
    return entry


def files_for(
    data: Mapping[str, Any],
    entry_name: str,
    version: str,
    env: str,
    interp: Interpreter,
    without: frozenset[str] = frozenset(),
) -> list[LockedFile]:
    """The wheel to use of each package of the entry (but those named in
    ``without``) for the environment ``env`` whose interpreter is
    ``interp``: the best fit among the locked files, as pip would choose."""
    entry = covered(data, entry_name, version, env)
    chosen = []
    for package in entry["packages"]:
        if env not in package.get("environments", entry["environments"]):
            continue
        if package["name"] in without:
            continue
        best: tuple[int, dict[str, str]] | None = None
        for wheel in package["wheels"]:
            score = interp.rank(wheel["file"])
            if score is not None and (best is None or score > best[0]):
                best = (score, wheel)
        if best is None:
            raise LockUnusable(
                f"the lock has no wheel of {package['name']} {package['version']} for here"
            )
        chosen.append(_locked_file(package, best[1]))
    return chosen


def files_present(
    data: Mapping[str, Any],
    entry_name: str,
    version: str,
    env: str,
    names: Iterable[str],
    without: frozenset[str] = frozenset(),
) -> list[LockedFile]:
    """The locked wheel of each package of the entry (but those in
    ``without``) for ``env`` among the file ``names`` there are (a
    directory's ``.wheels``): exactly one each, or LockUnusable. Standard
    library only, for checking what is there."""
    entry = covered(data, entry_name, version, env)
    present = set(names)
    found = []
    for package in entry["packages"]:
        if env not in package.get("environments", entry["environments"]) or (
            package["name"] in without
        ):
            continue
        wheels = [w for w in package["wheels"] if w["file"] in present]
        if len(wheels) != 1:
            raise LockUnusable(f"not exactly one locked wheel of {package['name']} is there")
        found.append(_locked_file(package, wheels[0]))
    return found


def _locked_file(package: Mapping[str, Any], wheel: Mapping[str, str]) -> LockedFile:
    return LockedFile(
        package["name"],
        package["version"],
        wheel["file"],
        wheel["sha256"],
        wheel.get("members_sha256", ""),
    )


# --- for the interpreter running the buildpack ----------------------------------


def this_environment() -> str:
    """The lock's name for the interpreter running the buildpack: ``3.13-x86_64``."""
    return environment(f"{sys.version_info[0]}.{sys.version_info[1]}", platform.machine())


def covers_this_python(buildpack_dir: Path, pins: Mapping[str, str]) -> None:
    """LockUnusable unless the lock of ``pins`` covers this interpreter."""
    data = load(buildpack_dir)
    env, abiflags = this_environment(), getattr(sys, "abiflags", "")
    covered(data, BUILDPACK_DEPENDENCIES, pins_version(pins), env, abiflags)


def for_this_python(
    buildpack_dir: Path, pins: Mapping[str, str], *, without: frozenset[str]
) -> list[LockedFile]:
    """The locked wheels of ``pins`` to fetch for this interpreter; packaging
    chooses among a package's files (LockUnusable without it)."""
    try:
        from buildpack.selfdeps.wheel_choice import Interpreter
    except ImportError as exc:
        raise LockUnusable(f"the buildpack's packaging library is not there ({exc})") from None
    data, env = load(buildpack_dir), this_environment()
    version = pins_version(pins)
    return files_for(data, BUILDPACK_DEPENDENCIES, version, env, Interpreter.running(), without)


def kept_for_this_python(
    buildpack_dir: Path, pins: Mapping[str, str], names: Iterable[str], *, without: frozenset[str]
) -> list[LockedFile]:
    """The locked wheels of ``pins`` among the wheel file ``names`` kept for
    this interpreter (standard library only)."""
    data, env = load(buildpack_dir), this_environment()
    return files_present(data, BUILDPACK_DEPENDENCIES, pins_version(pins), env, names, without)


def problems(data: Mapping[str, Any], expected: Mapping[str, str]) -> list[str]:
    """What is wrong with the lock for the entries ``expected`` (name ->
    version), empty when nothing: the check CI runs, and the generator's."""
    from buildpack.selfdeps.wheel_choice import same_release

    found = []
    for name, version in expected.items():
        entry = data["tools"].get(name)
        if not isinstance(entry, dict) or entry.get("version") != version:
            found.append(f"it has no lock of {name} {version} (run tools/lock-wheels)")
            continue
        for package in entry["packages"]:
            for wheel in package.get("wheels", []):
                name_version = (package.get("name", ""), package.get("version", ""))
                if not same_release(wheel.get("file", ""), *name_version):
                    found.append(f"{name}: {wheel.get('file')!r} is not a wheel of {package}")
                if not SHA256.match(wheel.get("sha256", "")):
                    found.append(f"{name}: {wheel.get('file')} has no sha256")
        for env in entry.get("environments", []):
            try:
                files_for(data, name, version, env, interpreter(env))
            except (LockUnusable, ValueError) as exc:
                found.append(f"{name} for {env}: {exc}")
    return found
