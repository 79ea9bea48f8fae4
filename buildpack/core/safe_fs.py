"""Writing, locking and deleting without following links the buildpack did not make.

CACHE_DIR is written by earlier builds, whose hooks and dependencies ran as
root, and BUILD_DIR holds whatever the app committed: either can hold a
symbolic link where the buildpack expects its own file or directory, to make
a write, a truncate, a chmod or a delete land outside. Every write there goes
through these helpers:

- ``open_nofollow`` opens a file and fails (ELOOP) on a link, so a lock or
  a read never goes through one;
- ``read_small`` reads a small file an earlier build left, refusing a link,
  a fifo (which would block) or a device, and reading no more than a bound;
- ``write_atomic`` writes a fresh, exclusively created temporary file and
  renames it over the destination, which replaces a link instead of writing
  through it;
- ``real_dir`` makes sure every directory from a root down to a path is a
  real directory, removing a link (not what it points to) found on the way;
- ``fs.remove_tree`` deletes a link as a link, never what it points to.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from pathlib import Path


def open_nofollow(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that refuses a symbolic link as the last component (OSError ELOOP)."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


def read_small(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path``, which holds at most ``limit``.

    What an earlier build left can be anything: a link is refused (ELOOP), a
    fifo is neither opened blocking nor read, a device not opened at all
    (EINVAL "not a regular file"), and a larger file is not read whole
    (EFBIG "too large").
    """
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    with open(open_nofollow(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
        # Checked again on what was opened: the name may have been replaced.
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        data = f.read(limit + 1)
    if len(data) > limit:
        raise OSError(errno.EFBIG, "too large", str(path))
    return data


def is_link_error(exc: OSError) -> bool:
    """Whether ``exc`` is O_NOFOLLOW refusing a link."""
    return exc.errno == errno.ELOOP


def write_atomic(path: Path, data: bytes | str, *, mode: int = 0o644, durable: bool = True) -> None:
    """Replace ``path`` with a file holding ``data``.

    A link at ``path`` is replaced, not followed; the temporary name is
    random and created exclusively, so nothing planted there is written to.
    ``durable=False`` skips the fsync, for files whose only reader comes
    after this process ends normally (the slug's files, the build report):
    a machine that crashes first fails the build anyway, and each fsync
    waits for the disk (tens of milliseconds on a busy one).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp-{os.urandom(6).hex()}")
    fd = open_nofollow(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        try:
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)  # the umask must not decide a script's mode
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def describe(path: Path) -> str | None:
    """What is at ``path`` if it is not a real directory: "a symbolic link to
    X", "a file", ...; None for a directory or nothing at all."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return None
    if stat.S_ISLNK(st.st_mode):
        try:
            return f"a symbolic link to {os.readlink(path)}"
        except OSError:
            return "a symbolic link"
    return "a file" if stat.S_ISREG(st.st_mode) else "not a directory"


def real_dir(root: Path, rel: Path | str) -> list[str]:
    """Make ``root/rel`` and every directory between a real directory.

    Anything else in the way (a link, a file) is removed, never followed.
    Returns what was removed, as "PATH was a symbolic link to X", for the log.
    ``root`` itself is taken as it is: the platform chose it.
    """
    removed = []
    current = root
    for part in Path(rel).parts:
        current = current / part
        what = describe(current)
        if what is not None:
            os.unlink(current)
            removed.append(f"{current} was {what}")
        with contextlib.suppress(FileExistsError):
            os.mkdir(current, 0o755)
        # Whatever raced in between (another build's mkdir) must be a directory too.
        if not stat.S_ISDIR(os.lstat(current).st_mode):
            raise OSError(errno.ENOTDIR, "not a directory", str(current))
    return removed


def resolves_inside(root: Path, path: Path) -> bool:
    """Whether ``path``, with every link resolved, is ``root`` or below it."""
    top = os.path.realpath(root)
    target = os.path.realpath(path)
    return target == top or target.startswith(top.rstrip(os.sep) + os.sep)
