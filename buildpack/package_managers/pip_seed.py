"""A verified copy of the pinned pip's installed files, kept in CACHE_DIR.

Installing pip runs the runtime's bundled pip from its wheel, which compiles
itself on every start: seconds on a small machine. A build whose cached
Python home was discarded (a requirements change, a Python patch update)
would pay that again for the very same files. So after pip is installed,
the files its RECORD lists are copied here, and a later build copies them
back instead of running pip.

That is only equivalent to running pip if the files are exactly what pip
wrote, so both directions check every file against the sha256 and size in
RECORD (and the seed is dropped on any mismatch), and the seed is keyed by
everything that changes them: pip's version, the Python minor (the
lib/python3.X path) and the Python home that the scripts' shebangs name.
Scripts must name that home, never a build directory.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import os
import shutil
from pathlib import Path

from buildpack.core import atomic_dir, fs
from buildpack.core.python_home import single_site_packages

SEEDS_DIR = Path(".heroku/pip-seeds")


class SeedError(Exception):
    pass


def seed_dir(cache_dir: Path, version: str, minor_dir: str, app_python_home: Path) -> Path:
    home = hashlib.sha256(os.fsencode(app_python_home)).hexdigest()[:12]
    return cache_dir / SEEDS_DIR / f"pip-{version}-{minor_dir}-{home}"


def _record_files(python_home: Path, site: Path, version: str) -> list[tuple[str, str, str]]:
    """(path relative to python_home, sha256 entry, size) for each RECORD row."""
    record = site / f"pip-{version}.dist-info" / "RECORD"
    rows = []
    with open(record, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if not row:
                continue
            path, digest, size = [*row, "", ""][:3]
            full = os.path.normpath(os.path.join(site, path))
            rel = os.path.relpath(full, python_home)
            if rel.startswith(".."):
                raise SeedError(f"RECORD names a file outside the Python home: {path}")
            rows.append((rel, digest, size))
    return rows


def _check(path: Path, digest: str, size: str) -> None:
    if not digest:
        return  # RECORD itself
    algorithm, _, expected = digest.partition("=")
    if algorithm != "sha256":
        raise SeedError(f"{path}: unsupported hash {algorithm}")
    data = path.read_bytes()
    actual = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    if actual != expected or (size and int(size) != len(data)):
        raise SeedError(f"{path} differs from pip's RECORD")


def _check_script(path: Path, app_python_home: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"#!") and not head.startswith(b"#!" + os.fsencode(app_python_home) + b"/"):
        raise SeedError(f"{path} does not run {app_python_home}'s Python")


def save(cache_dir: Path, python_home: Path, app_python_home: Path, version: str) -> bool:
    """Copy the installed pip ``version`` into the seed, unless one is there.

    False (and nothing kept) when the install is not one to copy."""
    site = single_site_packages(python_home)
    if site is None:
        return False
    target = seed_dir(cache_dir, version, site.parent.name, app_python_home)
    if target.is_dir():
        return True
    try:
        rows = _record_files(python_home, site, version)
        with atomic_dir.building(target, keep_existing=Path.is_dir) as partial:
            for rel, digest, size in rows:
                source = python_home / rel
                _check(source, digest, size)
                if rel.startswith("bin" + os.sep):
                    _check_script(source, app_python_home)
                dest = partial / "files" / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(source, dest)
    except (OSError, SeedError, ValueError):
        return False
    return True


def _link_or_copy(source: Path, dest: Path) -> None:
    # A link is free. Should the build later write into one of these files
    # in place, the seed fails its RECORD check at restore and is dropped.
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def restore(cache_dir: Path, python_home: Path, app_python_home: Path, version: str) -> bool:
    """Copy a seeded pip ``version`` into ``python_home``; False if there is
    no usable seed (then nothing was written)."""
    site = single_site_packages(python_home)
    if site is None:
        return False
    source = seed_dir(cache_dir, version, site.parent.name, app_python_home)
    files = source / "files"
    if not files.is_dir():
        return False
    try:
        seed_site = files / site.relative_to(python_home)
        rows = _record_files(files, seed_site, version)
        for rel, digest, size in rows:
            _check(files / rel, digest, size)
    except (OSError, SeedError, ValueError):
        # A seed that fails its own RECORD is not to be tried again.
        fs.remove_tree(source)
        return False
    if any(os.path.lexists(python_home / rel) for rel, _, _ in rows):
        return False  # not a runtime without pip: let pip deal with it
    copied: list[Path] = []
    try:
        for rel, _digest, _size in rows:
            dest = python_home / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            # A copy: whatever the build does to its pip, the seed stays as checked.
            shutil.copy2(files / rel, dest)
            copied.append(dest)
    except OSError:
        for path in copied:
            path.unlink(missing_ok=True)
        return False
    return True
