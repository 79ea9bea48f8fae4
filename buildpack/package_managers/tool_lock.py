"""The lock of Poetry's and Pipenv's dependencies (and uv's wheels), shipped beside buildpack.toml.

Installing a Python tool with pip means pip's resolver weighing every
release of dozens of packages, then installing them one by one: the better
part of ten seconds on a small machine. The tool's dependency set is the
same for every app, so tools/lock-tools resolves it once per pin (when a
pin in buildpack.toml changes) and writes ``tool-locks.json``: for each tool
its pinned version and every package it needs, each with an exact version
and the name and sha256 of each of its wheels, for every supported Python
minor on x86_64 and aarch64 Linux. No index address: the build fetches the
files from whatever index pip is set up to use.

    {"environments": ["3.10-x86_64", ...],
     "tools": {"poetry": {"version": "2.5.1", "environments": [...],
                          "packages": [{"name": "cleo", "version": "2.1.0",
                                        "environments": [...],   # when not all
                                        "wheels": [{"file": "...", "sha256": "..."}]}]}}}

Standard library only: it is read before the buildpack's own libraries are
there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from buildpack.selfdeps import wheel_lock

LOCK_FILE = "tool-locks.json"
# uv has no dependencies: its entry is its own wheels, whose sha256 also
# vouch for the copy of it kept in CACHE_DIR (see tools.py).
LOCKED_TOOLS = ("poetry", "pipenv", "uv")
# The same format, types and environments as the buildpack's own lock.
MACHINES = wheel_lock.MACHINES
OLDEST_GLIBC = wheel_lock.OLDEST_GLIBC
LockUnusable = wheel_lock.LockUnusable
LockedFile = wheel_lock.LockedFile
environment = wheel_lock.environment
files_present = wheel_lock.files_present
# The best locked wheel of each package for an interpreter, as pip would choose.
files_for = wheel_lock.files_for
interpreter = wheel_lock.interpreter


def lock_path(buildpack_dir: Path) -> Path:
    return buildpack_dir / LOCK_FILE


def load(path: Path) -> dict[str, Any]:
    return wheel_lock.load_file(path, "the tools")


def sha256s(data: dict[str, Any], tool: str, version: str) -> dict[str, str]:
    """File name -> sha256 of every wheel the lock lists for ``tool`` ``version``."""
    entry = wheel_lock.entry_of(data, tool, version)
    return {w["file"]: w["sha256"] for p in entry["packages"] for w in p["wheels"]}


def problems(data: dict[str, Any], pins: dict[str, str], environments: list[str]) -> list[str]:
    """What is wrong with the lock for these tool ``pins`` and ``environments``
    (empty when nothing): the check CI runs, and the generator before writing."""
    found = []
    if sorted(data.get("environments", [])) != sorted(environments):
        found.append(f"it covers {data.get('environments')}, not {environments}")
    for tool in LOCKED_TOOLS:
        entry = data["tools"].get(tool)
        if not isinstance(entry, dict) or entry.get("version") != pins[tool]:
            found.append(f"it has no lock of {tool} {pins[tool]} (the pin in buildpack.toml)")
            continue
        names = {p["name"]: p["version"] for p in entry["packages"]}
        if names.get(tool) != pins[tool]:
            found.append(f"the lock of {tool} does not list {tool} {pins[tool]} itself")
        for package in entry["packages"]:
            found += _package_problems(tool, package)
        for env in entry.get("environments", []):
            try:
                files_for(data, tool, pins[tool], env, interpreter(env))
            except (LockUnusable, ValueError) as exc:
                found.append(f"{tool} for {env}: {exc}")
    return found


def _package_problems(tool: str, package: dict[str, Any]) -> list[str]:
    from buildpack.selfdeps.wheel_choice import same_release

    found = []
    where = f"{tool}: {package.get('name')} {package.get('version')}"
    if not package.get("wheels"):
        found.append(f"{where} has no wheels")
    for wheel in package.get("wheels", []):
        if not same_release(wheel.get("file", ""), package.get("name", ""), package["version"]):
            found.append(f"{where}: {wheel.get('file')!r} is not one of its wheels")
        if not wheel_lock.SHA256.match(wheel.get("sha256", "")):
            found.append(f"{where}: {wheel.get('file')} has no sha256")
    return found
