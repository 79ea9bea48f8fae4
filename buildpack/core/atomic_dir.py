"""Directories that appear whole or not at all: build beside, then rename.

Everything the buildpack keeps in CACHE_DIR or BUILD_DIR that takes more than
one write (a tool, the pip seed, its own libraries, an unpacked runtime) is
built in ``.<name>.partial-<pid>`` next to its final place and renamed into
place once complete. A build killed at any instant (SIGKILL skips every
cleanup) therefore leaves at most a partial directory, which a later build
removes once the pid that made it is gone, and never a half-filled final one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from buildpack.core.fs import process_alive, remove_tree

PARTIAL = ".partial-"


def partial_for(final: Path, pid: int | None = None) -> Path:
    return final.with_name(f".{final.name}{PARTIAL}{os.getpid() if pid is None else pid}")


def reap_stale_partials(final: Path) -> None:
    """Remove partial directories of ``final`` whose build has ended.

    A live build's partial is spared: several builds may share one cache
    directory before any lock is taken.
    """
    for path in final.parent.glob(f".{final.name}{PARTIAL}*"):
        pid = path.name.rsplit(PARTIAL, 1)[-1]
        if not pid.isdigit() or not process_alive(pid):
            remove_tree(path)


def new_partial(final: Path) -> Path:
    """An empty partial directory for ``final``, stale ones removed first."""
    final.parent.mkdir(parents=True, exist_ok=True)
    reap_stale_partials(final)
    partial = partial_for(final)
    remove_tree(partial)
    partial.mkdir()
    return partial


def publish(
    partial: Path, final: Path, *, keep_existing: Callable[[Path], bool] = lambda _: False
) -> None:
    """Rename ``partial`` to ``final``, replacing what is there.

    ``keep_existing(final)`` says that what is already at ``final`` is a
    complete result of the same inputs (a concurrent build finished first): it
    is kept and ``partial`` removed. A rename that loses such a race is fine.
    """
    if keep_existing(final):
        remove_tree(partial)
        return
    remove_tree(final)
    try:
        os.replace(partial, final)
    except OSError:
        if not final.is_dir():
            raise
        remove_tree(partial)


@contextlib.contextmanager
def building(
    final: Path, *, keep_existing: Callable[[Path], bool] = lambda _: False
) -> Iterator[Path]:
    """``with building(final) as partial:`` fill ``partial``; it becomes
    ``final`` when the block ends normally and is removed when it does not."""
    partial = new_partial(final)
    try:
        yield partial
        publish(partial, final, keep_existing=keep_existing)
    finally:
        remove_tree(partial)
