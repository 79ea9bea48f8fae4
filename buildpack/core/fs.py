"""File-system helpers every stage shares: deleting trees, telling a live build from a dead one."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
from collections.abc import Callable
from pathlib import Path


def remove_tree(path: Path) -> None:
    """Delete ``path`` and everything in it; a missing path is fine.

    A link is removed as a link, never what it points to (a link planted
    where a partial directory is expected must not get the tree it leads to
    deleted or made writable). Directories a package made read-only are made
    writable first (only inside the tree: ``rmtree`` never follows a link),
    so the delete also works when the build does not run as root.
    """

    def make_writable_and_retry(func: Callable[..., object], failed: str, _exc: object) -> None:
        parent = os.path.dirname(failed)
        try:
            if os.path.islink(parent):
                raise OSError(errno.ELOOP, "refusing to follow a link", parent)
            os.chmod(parent, os.stat(parent).st_mode | stat.S_IWUSR | stat.S_IXUSR)
            func(failed)
        except FileNotFoundError:
            pass

    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        return
    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=make_writable_and_retry)
    else:
        shutil.rmtree(path, onerror=make_writable_and_retry)


def process_alive(pid: str | int) -> bool:
    """Whether the build that owns a ``.partial-<pid>`` directory still runs."""
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    # A killed build whose parent died too stays a zombie until something
    # reaps it, and in a container that may be never: it still answers kill.
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")
