"""CACHE_DIR is not trusted: what the build checks before and after using it.

Earlier builds wrote CACHE_DIR, and their hooks and dependencies ran as root,
so anything in it may have been planted. Before anything reads or writes
there, ``check_links`` looks at every entry the buildpack owns at the top of
the cache: one that is a symbolic link (the buildpack never makes one there)
or of the wrong kind is removed, never followed, with a reason for the log
and the report. A linked ``cache.lock`` also discards the cached Python
tree: whoever planted the link could have changed the tree too. Deeper
entries are checked where they are used (``safe_fs``; the buildpack's own
libraries and pip are verified against hashes shipped with the buildpack).

A hook may also delete or replace CACHE_DIR during the build (one of
Heroku's own test apps runs ``rm -rf "$CACHE_DIR"``). ``CacheDirStamp`` tells
the end of the build that it happened, so that nothing is saved into a
directory that is no longer the cache.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from buildpack.core import fs, safe_fs
from buildpack.core.output import Output
from buildpack.core.report import Report

# Top-level entries the buildpack owns, and whether each is a directory.
_TOP = {".heroku": True, "build-data": True}
_IN_HEROKU = {
    "python": True,
    "cache.json": False,
    "cache.lock": False,
    "pip-cache": True,
    "pip-seeds": True,
    "buildpack-deps": True,
    "tools": True,
}
REPORT_FIELD = "cache_untrusted"


def check_links(cache_dir: Path) -> list[str]:
    """Remove what the buildpack would otherwise follow out of CACHE_DIR;
    returns why, one reason per entry removed."""
    reasons = []
    for name, is_dir in _TOP.items():
        reasons += _remove_if_wrong(cache_dir, name, is_dir)
    heroku = cache_dir / ".heroku"
    lock_was_wrong = False
    for name, is_dir in _IN_HEROKU.items():
        found = _remove_if_wrong(cache_dir, f".heroku/{name}", is_dir)
        lock_was_wrong |= bool(found) and name == "cache.lock"
        reasons += found
    if lock_was_wrong and any(os.path.lexists(heroku / n) for n in ("cache.json", "python")):
        for name in ("cache.json", "python"):
            fs.remove_tree(heroku / name)
        reasons.append("the cached Python tree was discarded with it: removed")
    return reasons


def _remove_if_wrong(cache_dir: Path, rel: str, is_dir: bool) -> list[str]:
    path = cache_dir / rel
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return []  # its parent was not a directory, and is gone by now
    if stat.S_ISLNK(st.st_mode):
        what = safe_fs.describe(path)
    elif is_dir and not stat.S_ISDIR(st.st_mode):
        what = "not a directory"
    elif not is_dir and not stat.S_ISREG(st.st_mode):
        what = "not a regular file"
    else:
        return []
    fs.remove_tree(path)
    return [f"CACHE_DIR/{rel} was {what}: removed, not followed"]


def say_untrusted(out: Output, report: Report, reasons: list[str]) -> None:
    """Tell the log and the report what in CACHE_DIR was not trusted."""
    if not reasons:
        return
    out.step("Not trusting parts of the build cache:")
    for reason in reasons:
        out.info(f"- {reason}")
    previous = report.fields.get(REPORT_FIELD, [])
    report.set(REPORT_FIELD, [*previous, *reasons])


class CacheDirStamp:
    """Which directories CACHE_DIR (and its .heroku, once the build has
    made it) were: a hook that deletes, empties or replaces them is noticed.

    Each directory is held open: a deleted directory's inode stays taken
    while it is, so a new directory made in its place cannot have its number.
    """

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._held: dict[Path, int] = {}
        self.watch(cache_dir)

    def watch(self, path: Path) -> None:
        if path in self._held:
            return
        with contextlib.suppress(OSError):  # not there yet: nothing to lose
            self._held[path] = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def problem(self) -> str | None:
        """Why CACHE_DIR can no longer take this build's cache, or None."""
        for path, fd in self._held.items():
            name = "CACHE_DIR" if path == self.cache_dir else f"CACHE_DIR/{path.name}"
            held = os.fstat(fd)
            try:
                now = os.stat(path)
            except OSError:
                return f"{name} was deleted during the build"
            if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
                return f"{name} was replaced by another directory during the build"
        return None

    def close(self) -> None:
        for fd in self._held.values():
            os.close(fd)
        self._held.clear()

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            self.close()
