"""Editable-install records (.pth, egg-link, finders, direct_url.json) repointed at /app."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from buildpack.core.python_home import site_packages_dirs
from buildpack.relocation import path_rewrite
from buildpack.relocation.path_rewrite import (
    Rewriter,
    rewrite_file,
)


def path_spellings(path: Path) -> list[str]:
    """``path`` as given, made absolute, and with symlinks resolved.

    Installers may have recorded any of them: /tmp/build_x as given, or the
    real location when /tmp (or a parent of BUILD_DIR) is a symlink.
    """
    spellings: list[str] = []
    given = os.fspath(path)
    for spelling in (given, os.path.abspath(given), os.path.realpath(given)):
        spelling = spelling.rstrip("/") or "/"
        if spelling not in spellings:
            spellings.append(spelling)
    return spellings


def rewrite_build_paths(
    site_packages: Path, *, build_python_home: Path, app_python_home: Path
) -> list[Path]:
    """Rewrite the build's Python home to the app's in editable-install records.

    Covers ``*.pth``, ``*.egg-link``, setuptools' ``__editable___*_finder.py``
    and ``*.dist-info/direct_url.json``. A finder's cached bytecode holds the
    old paths too, so it is deleted. Returns the files changed.
    """
    rewriter = Rewriter(path_spellings(build_python_home), os.fspath(app_python_home))
    if not rewriter:
        return []
    changed = [p for p in path_record_files(site_packages) if rewrite_file(os.fspath(p), rewriter)]
    for record in changed:
        path_rewrite.discard_bytecode(os.fspath(record))
    return changed


def path_record_files(site_packages: Path) -> list[Path]:
    """The files in which installers record absolute paths that Python uses.

    Only the top level of site-packages: ``site`` reads .pth files (which
    import the finders) from there alone, and each dist-info is there.
    """
    found: list[Path] = []
    try:
        entries = sorted(os.scandir(site_packages), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return found
    for entry in entries:
        name = entry.name
        if entry.is_file(follow_symlinks=False):
            if name.endswith((".pth", ".egg-link")) or is_editable_finder(name):
                found.append(Path(entry.path))
        elif name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False):
            direct_url = Path(entry.path, "direct_url.json")
            if direct_url.is_file() and not direct_url.is_symlink():
                found.append(direct_url)
    return found


def is_editable_finder(name: str) -> bool:
    return name.startswith("__editable___") and name.endswith("_finder.py")


def repoint_install_records(python_home: Path, olds: Iterable[str], new: str) -> int:
    """Point install records naming any of ``olds`` at ``new``; return how many changed."""
    rewriter = Rewriter([old for old in olds if old != new], new)
    if not rewriter:
        return 0
    changed = 0
    for site_packages in site_packages_dirs(python_home):
        for record in path_record_files(site_packages):
            if rewrite_file(os.fspath(record), rewriter):
                changed += 1
    return changed
