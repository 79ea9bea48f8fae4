"""pypa/installer, run under the rules of wheel_install (read that first).

installer places and writes each file; this module gives it a source that
checks each member against the wheel's RECORD while it is read, and a
destination that writes without following links, remembers what it wrote
and made (to remove it all on failure), and leaves out what the layout does
not want. Every rule that can be told from the wheel alone is checked
before anything is written, and so is whether a site-packages install would
overwrite anything.
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import hashlib
import io
import os
import stat
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, cast

import installer
from installer.destinations import SchemeDictionaryDestination
from installer.exceptions import InstallerError
from installer.records import Hash, InvalidRecordEntry, RecordEntry, parse_record_file
from installer.scripts import Script
from installer.sources import WheelContentElement, WheelFile
from installer.utils import Scheme, copyfileobj_with_hashing, parse_entrypoints

from buildpack.selfdeps.wheel_install import (
    INSTALLER_NAME,
    Layout,
    WheelError,
    check_script_name,
    entry_point,
)

_PLACED = ("purelib", "platlib", "scripts")
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# What installer and zipfile raise for a wheel that is not what it says.
_BAD_WHEEL = (
    InstallerError,
    InvalidRecordEntry,
    ValueError,
    KeyError,
    zipfile.BadZipFile,
    configparser.Error,
)


def install(wheel: Path, layout: Layout) -> list[Path]:
    """Install ``wheel`` as ``layout`` says; the files written, RECORD last."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            source = _CheckedWheel(zf)
            metadata = {"INSTALLER": f"{INSTALLER_NAME}\n".encode()}
            if layout.into_site:
                metadata["REQUESTED"] = b""
            alias, files = source.check(layout, metadata)
            destination = _Destination(layout, alias)
            if layout.into_site:
                planned = [destination.target(scheme, path) for scheme, path in files]
                _check_free([layout.root / source.dist_info_dir, *planned])
            try:
                _run(source, destination, metadata)
            except BaseException:
                destination.roll_back()
                raise
            return destination.paths
    except _BAD_WHEEL as exc:
        raise WheelError(f"{wheel.name} is not a wheel we can install: {exc}") from None


def _run(source: WheelFile, destination: _Destination, metadata: dict[str, bytes]) -> None:
    with warnings.catch_warnings():
        # installer skips a __pycache__ a wheel should not have, with a warning.
        warnings.simplefilter("ignore")
        installer.install(source, destination, metadata)


def _check_free(paths: Iterable[Path]) -> None:
    for path in paths:
        if os.path.lexists(path):
            raise WheelError(f"{path} is there already")


class _CheckedWheel(WheelFile):
    """A wheel whose members are checked against its RECORD as they are read."""

    def __init__(self, zf: zipfile.ZipFile) -> None:
        super().__init__(zf)
        self._zip = zf
        self._record: dict[str, RecordEntry] = {}

    def check(
        self, layout: Layout, metadata: dict[str, bytes]
    ) -> tuple[str, list[tuple[Scheme, str]]]:
        """Refuse what can be told before writing. Return the name of pip's
        pipX.Y launcher (if this is pip and one is wanted) and every file
        the install will write, as (scheme, path) the way installer places it."""
        names = [info.filename for info in self._zip.infolist() if not info.is_dir()]
        files = [_check_member(name, self.data_dir, layout.allow_pth) for name in names]
        if f"{self.dist_info_dir}/RECORD" not in names:
            raise WheelError("the wheel has no RECORD")
        self.validate_record(validate_contents=False)  # each member: listed, hash, size
        rows = parse_record_file(self.read_dist_info("RECORD").splitlines())
        self._record = {row[0]: RecordEntry.from_elements(*row) for row in rows}
        for path, entry in self._record.items():
            if entry.hash_ is not None and entry.hash_.name != "sha256":
                raise WheelError(f"{path} does not match the wheel's RECORD: not a sha256")
        if set(self._record) - set(names):
            raise WheelError("the wheel lacks files its RECORD lists")
        scripts = [name for name, _ in self._entry_points()]
        for name in scripts:
            check_script_name(name)
        alias = f"pip{layout.python_minor}"
        wanted = layout.python and layout.python_minor and "pip" in scripts
        if not wanted or alias in scripts or not _is_pip(self.distribution):
            alias = ""
        launchers = [*scripts, *([alias] if alias else [])] if layout.python else []
        files += [(Scheme("scripts"), name) for name in launchers]
        files += [(Scheme("purelib"), f"{self.dist_info_dir}/{name}") for name in metadata]
        # installer skips a __pycache__ (with a warning).
        return alias, [(s, p) for s, p in files if "__pycache__" not in p.split("/")[:-1]]

    def _entry_points(self) -> list[tuple[str, str]]:
        try:
            # What dist_info_filenames would say, without a pass over every member.
            text = self.read_dist_info("entry_points.txt")
        except KeyError:
            return []
        try:
            entries = list(parse_entrypoints(text))
        except (AssertionError, AttributeError, configparser.Error) as exc:
            # installer asserts on an entry it cannot parse.
            raise WheelError(f"an entry point is not module:function ({exc})") from None
        for _, module, attr, _ in entries:
            entry_point(f"{module}:{attr}")
        return [(name, f"{module}:{attr}") for name, module, attr, _ in entries]

    def get_contents(self) -> Iterator[WheelContentElement]:
        for (path, digest, size), stream, executable in super().get_contents():
            checked = _CheckedStream(stream, path, self._record.get(path))
            yield (path, digest, size), cast(BinaryIO, checked), executable


def _check_member(name: str, data_dir: str, allow_pth: frozenset[str]) -> tuple[Scheme, str]:
    """Where the member ``name`` goes, if the buildpack's rules allow it."""
    path = PurePosixPath(name)
    if not name or name.startswith("/") or "\\" in name or ".." in path.parts:
        raise WheelError(f"unsafe path in wheel: {name!r}")
    placed = path.parts
    scheme = "purelib"  # purelib and platlib are the same directory here
    if path.parts[0].endswith(".data"):
        if path.parts[0] != data_dir:
            raise WheelError(f"the wheel's {path.parts[0]} is not named like the wheel")
        if len(path.parts) < 3 or path.parts[1] not in _PLACED:
            raise WheelError(f"the wheel installs files the buildpack does not place: {name}")
        scheme, placed = path.parts[1], path.parts[2:]
    pth = scheme != "scripts" and len(placed) == 1 and placed[0].endswith(".pth")
    if pth and placed[0] not in allow_pth:
        # Code run at every interpreter start: pip's business, not ours.
        raise WheelError(f"the wheel installs a .pth file: {name}")
    return Scheme(scheme), "/".join(placed)


class _CheckedStream:
    """A member's stream that hashes what is read and checks it against the
    RECORD entry at the end (installer reads each member once, streamed;
    for a script it may go back to the start, and hashing starts over)."""

    def __init__(self, stream: BinaryIO, path: str, entry: RecordEntry | None) -> None:
        self._stream = stream
        self._path = path
        self._entry = entry
        self._restart()

    def _restart(self) -> None:
        self._digest = hashlib.sha256()
        self._size = 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (offset, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("only a rewind")
        self._restart()
        return self._stream.seek(0)

    def read(self, size: int = -1) -> bytes:
        return self._seen(self._stream.read(size), ended=size is None or size < 0)

    def readline(self, size: int = -1) -> bytes:
        return self._seen(self._stream.readline(size), ended=False)

    def _seen(self, data: bytes, *, ended: bool) -> bytes:
        if self._entry is None or self._entry.hash_ is None or self._entry.size is None:
            raise WheelError(f"{self._path} is not in the wheel's RECORD")
        self._digest.update(data)
        self._size += len(data)
        if self._size > self._entry.size:
            raise WheelError(f"{self._path} does not match the size in the wheel's RECORD")
        if ended or not data:
            if self._size != self._entry.size:
                raise WheelError(f"{self._path} does not match the size in the wheel's RECORD")
            found = base64.urlsafe_b64encode(self._digest.digest()).decode().rstrip("=")
            if found != self._entry.hash_.value:
                raise WheelError(f"{self._path} does not match the wheel's RECORD")
        return data


class _Destination(SchemeDictionaryDestination):
    """installer's file-system destination, with the buildpack's rules."""

    def __init__(self, layout: Layout, alias: str) -> None:
        root = os.path.abspath(layout.root)
        scripts = os.path.abspath(layout.scripts)
        super().__init__(
            scheme_dict={"purelib": root, "platlib": root, "scripts": scripts},
            interpreter=layout.python,
            script_kind="posix",
        )
        self.layout = layout
        self.alias = alias
        self.paths: list[Path] = []  # written: RECORD last
        self._made: list[Path] = []
        self._extra: list[RecordEntry] = []  # pip's pipX.Y launcher
        self._dropped: set[str] = set()  # launchers the layout does not want

    def write_file(
        self, scheme: Scheme, path: str | os.PathLike[str], stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        if scheme == "scripts" and not self.layout.python:
            # --target: scripts as they are (installer would point #!python at "").
            return self.write_to_fs(scheme, os.fspath(path), stream, is_executable=True)
        return super().write_file(scheme, path, stream, is_executable or scheme == "scripts")

    def write_script(self, name: str, module: str, attr: str, section: str) -> RecordEntry:
        if not self.layout.python:
            self._dropped.add(name)
            return RecordEntry(name, None, None)
        entries = []
        for script in [name, self.alias] if name == "pip" and self.alias else [name]:
            launcher = Script(script, module, attr, "gui" if section == "gui" else "console")
            filename, data = launcher.generate(self.interpreter, "posix")
            with io.BytesIO(data) as stream:
                entries.append(self.write_to_fs(Scheme("scripts"), filename, stream, True))
        self._extra += entries[1:]
        return entries[0]

    def write_to_fs(
        self, scheme: Scheme, path: str, stream: BinaryIO, is_executable: bool
    ) -> RecordEntry:
        target = self.target(scheme, path)
        if not self.layout.into_site and os.path.lexists(target):
            _remove_file(target)  # --target replaces, never writes through a link
        self._make_parents(target.parent, Path(self.scheme_dict[scheme]))
        mode = 0o755 if is_executable else 0o644
        fd = os.open(target, _OPEN_FLAGS, mode)
        self.paths.append(target)
        with os.fdopen(fd, "wb") as f:
            digest, size = copyfileobj_with_hashing(stream, f, "sha256")
            os.fchmod(f.fileno(), mode)
        return RecordEntry(path, Hash("sha256", digest), size)

    def target(self, scheme: Scheme, path: str) -> Path:
        """Where ``path`` of ``scheme`` goes; never out of the scheme's directory."""
        base = self.scheme_dict[scheme]
        target = os.path.normpath(os.path.join(base, path))
        if not target.startswith(base + os.sep):
            raise WheelError(f"unsafe path in wheel: {path!r}")
        return Path(target)

    def finalize_installation(
        self, scheme: Scheme, record_file_path: str, records: Iterable[tuple[Scheme, RecordEntry]]
    ) -> None:
        kept = [(s, r) for s, r in records if not (s == "scripts" and r.path in self._dropped)]
        kept += [(Scheme("scripts"), entry) for entry in self._extra]
        super().finalize_installation(scheme, record_file_path, kept)

    def _make_parents(self, directory: Path, base: Path) -> None:
        """Create ``directory`` and its missing parents up to ``base``,
        noting each one made. One that exists under ``base`` must be a real
        directory."""
        try:
            st = os.lstat(directory)
        except FileNotFoundError:
            # ``base`` at most, and only where its parent is: if that has gone
            # (a hook deleted CACHE_DIR under a background unpack), making it
            # again would bring back what the build was told is gone.
            if directory != base and base not in directory.parents:
                raise WheelError(f"{directory} is not there any more") from None
            if directory != base:
                self._make_parents(directory.parent, base)
            try:
                directory.mkdir()
            except FileExistsError:  # another wheel unpacking beside this one
                self._make_parents(directory, base)
                return
            except FileNotFoundError:
                raise WheelError(f"{directory.parent} is not there any more") from None
            self._made.append(directory)
            return
        if stat.S_ISDIR(st.st_mode):
            return
        if base not in directory.parents and directory.is_dir():
            return  # base itself, or above it: the caller's
        raise WheelError(f"{directory} is not a directory the install can write into")

    def roll_back(self) -> None:
        for path in self.paths:
            path.unlink(missing_ok=True)
        # The directories this install made, deepest first: shared ones stay.
        for directory in reversed(self._made):
            with contextlib.suppress(OSError):
                directory.rmdir()


def _remove_file(path: Path) -> None:
    if not path.is_symlink() and path.is_dir():
        raise WheelError(f"{path} is a directory, where the wheel has a file")
    path.unlink()


def _is_pip(distribution: str) -> bool:
    # Imported here: checking a kept venv reads every wheel's scripts, and
    # on an unchanged rebuild nothing else needs packaging.
    from packaging.utils import canonicalize_name

    return canonicalize_name(distribution) == "pip"
