"""Copying, moving and deleting directory trees for the build cache.

``clone_tree`` hard-links files when it can (the slug keeps the originals, so
the cache costs no extra space or copy time on one filesystem) and copies
them otherwise: across filesystems, or where links are refused (EPERM under
fs.protected_hardlinks, EMLINK at a link-count limit). Symlinks are recreated
as symlinks, never followed, so a link out of the tree stays a link.

Hard links share data: writing *into* a cached file in place would change the
build's file too. Installers and the buildpack's own rewrites replace files
(write a new file, rename it over the old one) rather than write into them.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from buildpack.core.fs import remove_tree

# Errors after which one file is copied instead of linked.
_LINK_REFUSED = {errno.EPERM, errno.EACCES, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


@dataclass
class CloneStats:
    linked: int = 0
    copied: int = 0
    skipped: int = 0  # sockets, fifos, devices: not part of a Python install


def clone_tree(
    src: Path,
    dst: Path,
    *,
    link: bool = True,
    after_top_level_entry: Callable[[str], None] | None = None,
) -> CloneStats:
    """Recreate ``src`` at ``dst`` (which must not exist).

    ``after_top_level_entry`` is called with the name of each top-level entry
    once it is done; the test-only pause points use it.
    """
    stats = CloneStats()
    state = {"link": link}

    def copy_file(source: str, target: str) -> None:
        if state["link"]:
            try:
                os.link(source, target)
                stats.linked += 1
                return
            except OSError as exc:
                if exc.errno == errno.EXDEV:
                    state["link"] = False  # every other file is on the same two filesystems
                elif exc.errno not in _LINK_REFUSED:
                    raise
        shutil.copy2(source, target, follow_symlinks=False)
        stats.copied += 1

    def walk(source: str, target: str, top: bool) -> None:
        os.mkdir(target, 0o700)
        with os.scandir(source) as it:
            # In order where the pause points see it; as listed below (a
            # Python home has thousands of entries, in hundreds of directories).
            entries = sorted(it, key=lambda e: e.name) if top else list(it)
        for entry in entries:
            target_path = f"{target}/{entry.name}"
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), target_path)
            elif entry.is_dir(follow_symlinks=False):
                walk(entry.path, target_path, False)
            elif entry.is_file(follow_symlinks=False):
                copy_file(entry.path, target_path)
            else:
                stats.skipped += 1
            if top and after_top_level_entry is not None:
                after_top_level_entry(entry.name)
        # After the contents: a read-only directory must still accept them.
        shutil.copystat(source, target, follow_symlinks=False)

    walk(os.fspath(src), os.fspath(dst), True)
    return stats


def move_tree(src: Path, dst: Path) -> str:
    """Rename ``src`` to ``dst``, or copy it when they are on two filesystems.

    Returns "renamed" or "copied"; ``src`` is left in place when copied.
    """
    try:
        os.rename(src, dst)
        return "renamed"
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
    try:
        clone_tree(src, dst, link=False)
    except BaseException:
        remove_tree(dst)
        raise
    return "copied"


def same_filesystem(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


def bounded(path: Path, limit_bytes: int) -> Path:
    """Empty the download cache at ``path`` once it holds over ``limit_bytes``.

    Starting over is the simplest fair bound: it never needs to know which
    entries the current build still uses, and the next download refills it.
    """
    if tree_size(path, stop_after=limit_bytes) > limit_bytes:
        remove_tree(path)
    return path


def tree_size(path: Path, *, stop_after: int) -> int:
    """Bytes in the files under ``path``; stops counting past ``stop_after``."""
    total = 0
    stack = [os.fspath(path)]
    while stack and total <= stop_after:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total
