"""Safe, streaming, atomic extraction of runtime archives (.tar.zst).

The runtime archive comes from a mirror the user may not control, and the
build often runs as root, so every member is checked by hand instead of
trusting ``tarfile``'s extraction filters (which differ between the Python
versions we support). Members are written into a fresh directory beside the
target, which only replaces the target once everything is in place: a failed
or interrupted extraction never leaves a half-installed runtime behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

from buildpack.core import atomic_dir, errors
from buildpack.core.fs import remove_tree
from buildpack.runtime.forward_file import ForwardFile
from buildpack.runtime.tar_headers import (
    ArchiveInvalid,
    CheckedTarInfo,
    check_fields,
    how_headers_ended,
    shown,
)

if TYPE_CHECKING:
    from buildpack.runtime.zstd_stream import Reader

# Far above any CPython runtime (about 100 MB unpacked, a few thousand files),
# low enough that a decompression bomb stops long before the disk fills.
MAX_TOTAL_BYTES = 4 * 1024**3
MAX_MEMBERS = 200_000
# The largest zstd window decoded: 128 MiB, what `zstd --long` uses and
# Heroku's archives have. Decoding needs that much memory; zstd refuses more
# unless told, and so does the buildpack.
MAX_WINDOW_LOG = 27
WINDOW_TOO_LARGE = (
    "it was compressed with a zstd window larger than 128 MiB, the most the "
    "buildpack decodes (zstd --long=27, which plain --long means); compress it "
    "again with --long or --long=27"
)

# Permission bits we keep: setuid, setgid and sticky bits have no business in
# a language runtime, nor group or other write: in a root-owned slug, any of
# them would let another user change or take over the runtime.
_MODE_MASK = 0o755


class ArchiveDataError(Exception):
    """The compressed data is corrupt or truncated (raised by the readers below)."""


class _Unsafe(Exception):
    def __init__(self, member: str, problem: str) -> None:
        super().__init__(f"{member}: {problem}")
        self.member = member
        self.problem = problem


def extract_tar_stream(
    stream: Reader,
    dest: Path,
    *,
    source: str,
    replace: bool = False,
    max_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
    before_commit: Callable[[], None] | None = None,
) -> None:
    """Extract the uncompressed tar ``stream`` to ``dest``, all or nothing.

    ``dest`` must not exist unless ``replace`` is true, in which case the old
    directory is swapped out only after the new one is complete.
    ``before_commit`` runs after the last member is written and before the
    rename (the download uses it to verify the checksum); if it raises,
    nothing is installed. Hostile members raise ``runtime_archive_unsafe``,
    corrupt data ``runtime_archive_invalid``; any other exception (a broken
    network stream) propagates unchanged so that the caller can retry.
    """
    if os.path.lexists(dest) and not replace:
        raise FileExistsError(f"{dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    # A build killed mid-swap (SIGKILL skips our cleanup) leaves this.
    for stale in dest.parent.glob(f".{dest.name}.old-*"):
        remove_tree(stale)
    tmp = atomic_dir.new_partial(dest)
    try:
        try:
            _Extractor(tmp, max_bytes=max_bytes, max_members=max_members).run(stream)
        except _Unsafe as exc:
            raise errors.runtime_archive_unsafe(source, exc.member, exc.problem) from None
        except ArchiveInvalid as exc:
            raise errors.runtime_archive_invalid(source, str(exc)) from None
        except _data_errors() as exc:
            raise errors.runtime_archive_invalid(source, _describe_data_error(exc)) from None
        if before_commit is not None:
            before_commit()
        _commit(tmp, dest, replace=replace)
    except BaseException:
        remove_tree(tmp)
        raise


def _commit(tmp: Path, dest: Path, *, replace: bool) -> None:
    if not os.path.lexists(dest):
        os.rename(tmp, dest)
        return
    if not replace:
        raise FileExistsError(f"{dest} already exists")
    old = dest.parent / f".{dest.name}.old-{os.urandom(4).hex()}"
    os.rename(dest, old)
    try:
        os.rename(tmp, dest)
    except BaseException:
        os.rename(old, dest)
        raise
    remove_tree(old)


# --- the member-by-member extraction ------------------------------------------


class _Extractor:
    def __init__(self, root: Path, *, max_bytes: int, max_members: int) -> None:
        self.root = str(root)
        self.max_bytes = max_bytes
        self.max_members = max_members
        self.total_bytes = 0
        self.members = 0
        # Directories known to be real directories inside root: a directory is
        # never replaced by anything else, so the answer stays true.
        self.real_dirs: set[str] = {""}
        self.files: set[str] = set()
        self.symlinks: list[tuple[str, str]] = []
        self.dir_attrs: dict[str, tuple[int, float]] = {}

    def run(self, stream: Reader) -> None:
        source = ForwardFile(stream)
        fileobj = cast(IO[bytes], source)
        with tarfile.open(fileobj=fileobj, mode="r:", tarinfo=CheckedTarInfo) as tf:
            for member in tf:
                self._count(member)
                check_fields(member)
                name = _member_path(member.name, member.name)
                if member.issparse():
                    raise ArchiveInvalid(f"'{shown(member.name)}' is a sparse file")
                if member.isreg():
                    self._file(source, member, name)
                elif member.isdir():
                    self._dir(member, name)
                elif member.issym():
                    self._symlink(member, name)
                elif member.islnk():
                    self._hardlink(member, name)
                elif member.ischr() or member.isblk():
                    raise _Unsafe(member.name, "is a device file")
                elif member.isfifo():
                    raise _Unsafe(member.name, "is a FIFO (named pipe)")
                else:
                    raise ArchiveInvalid(f"'{shown(member.name)}' has an unknown tar member type")
            end = how_headers_ended(tf)
            if end != "marker":
                raise ArchiveInvalid(end or "the data ends before the end-of-archive marker")
        self._drain(source)
        self._check_symlinks()
        self._apply_dir_attrs()

    def _count(self, member: tarfile.TarInfo) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise _Unsafe(member.name, f"is beyond the limit of {self.max_members} members")
        if member.isreg():
            self.total_bytes += member.size
            if self.total_bytes > self.max_bytes:
                raise _Unsafe(
                    member.name, f"would make the unpacked size exceed {self.max_bytes} bytes"
                )

    def _drain(self, source: ForwardFile) -> None:
        # The tar format pads its end with zeros; reading them to the end of the
        # stream makes a corrupt or truncated compressed tail show up now.
        for chunk in source.chunks(None):
            self.total_bytes += len(chunk)
            if self.total_bytes > self.max_bytes:
                raise _Unsafe("(end of archive)", f"exceeds {self.max_bytes} bytes unpacked")

    # Paths are handled as strings relative to root with "/" separators.

    def _abs(self, rel: str) -> str:
        return os.path.join(self.root, rel) if rel else self.root

    def _parent_dir(self, member: str, rel: str) -> None:
        """Make sure every directory above ``rel`` is a real directory in root."""
        parent = rel.rpartition("/")[0]
        if parent in self.real_dirs:
            return
        current = ""
        for part in parent.split("/"):
            current = f"{current}/{part}" if current else part
            if current in self.real_dirs:
                continue
            path = self._abs(current)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                os.mkdir(path, 0o755)
            else:
                if stat.S_ISLNK(st.st_mode):
                    raise _Unsafe(member, f"would be written through the symbolic link '{current}'")
                if not stat.S_ISDIR(st.st_mode):
                    raise _Unsafe(member, f"would be written inside the file '{current}'")
            self.real_dirs.add(current)

    def _make_room(self, member: str, rel: str, *, for_dir: bool) -> bool:
        """Clear ``rel`` for a new member; True when it is already a directory.

        A later member replacing an earlier file or link is normal tar
        behaviour. A type change to or from a directory is not something a
        runtime archive needs, and allowing it would undo the parent checks.
        """
        if not rel:
            if not for_dir:
                raise _Unsafe(member, "replaces the archive's top directory")
            return True
        try:
            st = os.lstat(self._abs(rel))
        except FileNotFoundError:
            return False
        if stat.S_ISDIR(st.st_mode):
            if for_dir:
                return True
            raise _Unsafe(member, "replaces a directory of the same name")
        if for_dir:
            raise _Unsafe(member, "replaces a file or link of the same name with a directory")
        os.unlink(self._abs(rel))
        self.files.discard(rel)
        return False

    def _file(self, source: ForwardFile, member: tarfile.TarInfo, rel: str) -> None:
        self._parent_dir(member.name, rel)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self._abs(rel), flags, 0o600)
        except FileExistsError:
            # Rare (a member written twice): looked at only then, saving an
            # lstat per file.
            self._make_room(member.name, rel, for_dir=False)
            fd = os.open(self._abs(rel), flags, 0o600)
        try:
            # The data sits right after the header tarfile just read.
            if source.tell() != member.offset_data:
                raise ArchiveInvalid(f"'{shown(member.name)}' is not where its header says")
            remaining = member.size
            for view in source.chunks(member.size):
                remaining -= len(view)
                # Plain os.write: a Python file object costs more syscalls per
                # file than the write itself for the stdlib's small files.
                while view:
                    view = view[os.write(fd, view) :]
            if remaining:
                raise ArchiveInvalid(f"the data ends inside '{member.name}'")
            os.fchmod(fd, member.mode & _MODE_MASK)
            os.utime(fd, (member.mtime, member.mtime))
        finally:
            os.close(fd)
        self.files.add(rel)

    def _dir(self, member: tarfile.TarInfo, rel: str) -> None:
        if rel:
            self._parent_dir(member.name, rel)
            if not self._make_room(member.name, rel, for_dir=True):
                os.mkdir(self._abs(rel), 0o700)
            self.real_dirs.add(rel)
        # Applied at the end: a read-only directory must still receive its files.
        self.dir_attrs[rel] = (member.mode & _MODE_MASK, member.mtime)

    def _symlink(self, member: tarfile.TarInfo, rel: str) -> None:
        target = member.linkname
        if not rel:
            raise _Unsafe(member.name, "replaces the archive's top directory")
        if target.startswith("/"):
            raise _Unsafe(member.name, f"is a link to the absolute path '{target}'")
        # A lexical first check for a clear message; _check_symlinks later
        # resolves every link for real, which also catches chains of links.
        joined = os.path.normpath(os.path.join(os.path.dirname(rel), target))
        if joined == ".." or joined.startswith("../"):
            raise _Unsafe(member.name, f"is a link pointing outside the archive ('{target}')")
        self._parent_dir(member.name, rel)
        self._make_room(member.name, rel, for_dir=False)
        path = self._abs(rel)
        os.symlink(target, path)
        with contextlib.suppress(OSError):
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
        self.symlinks.append((member.name, path))

    def _hardlink(self, member: tarfile.TarInfo, rel: str) -> None:
        target = _member_path(member.name, member.linkname)
        if target not in self.files or target == rel:
            raise _Unsafe(
                member.name,
                f"is a hard link to '{member.linkname}', which is not an earlier file "
                "in the archive",
            )
        self._parent_dir(member.name, rel)
        self._make_room(member.name, rel, for_dir=False)
        os.link(self._abs(target), self._abs(rel), follow_symlinks=False)
        self.files.add(rel)

    def _check_symlinks(self) -> None:
        root = os.path.realpath(self.root)
        for name, path in self.symlinks:
            resolved = os.path.realpath(path)
            if resolved != root and not resolved.startswith(root + os.sep):
                target = os.readlink(path)
                raise _Unsafe(name, f"is a link that resolves outside the archive ('{target}')")

    def _apply_dir_attrs(self) -> None:
        # Deepest first, so that making a parent read-only cannot block a child.
        for rel in sorted(self.dir_attrs, key=lambda r: r.count("/") + bool(r), reverse=True):
            mode, mtime = self.dir_attrs[rel]
            path = self._abs(rel)
            if rel:
                os.chmod(path, mode)
            os.utime(path, (mtime, mtime))
        # The partial directory's own mode must not become the runtime's.
        if "" not in self.dir_attrs:
            os.chmod(self.root, 0o755)
        else:
            os.chmod(self.root, self.dir_attrs[""][0] | 0o700)


def _member_path(member: str, name: str) -> str:
    """``name`` as a clean relative path, or _Unsafe if it could leave the root."""
    if name.startswith("/"):
        raise _Unsafe(member, f"has the absolute path '{name}'")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _Unsafe(member, f"has a '..' component in '{name}'")
    return "/".join(parts)


def _data_errors() -> tuple[type[BaseException], ...]:
    found: tuple[type[BaseException], ...] = (tarfile.TarError, EOFError, ArchiveDataError)
    try:
        import zstandard
    except ImportError:
        return found
    return (*found, zstandard.ZstdError)


def _describe_data_error(exc: BaseException) -> str:
    if isinstance(exc, tarfile.TarError):
        return f"it is not a valid tar archive ({exc})"
    if isinstance(exc, ArchiveDataError):
        return str(exc)
    if "too much memory" in str(exc):
        return WINDOW_TOO_LARGE
    return f"the zstd data is corrupt ({exc})"
