"""Unpacking a verified wheel without running pip.

Two layouts, both as pip makes them:

- ``unpack_into_target``: like ``pip install --target DIR`` (the buildpack's
  own dependencies, single-binary tools such as uv): the package files at
  the top, ``*.data/scripts`` in ``DIR/bin``.
- ``install_into_prefix``: like ``pip install`` into a Python's own
  site-packages (pip itself, a tool's dependencies in its venv):
  console-script launchers in ``bin/`` that run a given interpreter path
  (and the wheel's own ``*.data/scripts``, a ``#!python`` line pointed at
  it), an INSTALLER and a RECORD that pip can later upgrade or uninstall from.
  Wheels may share a directory (a namespace package such as ``jaraco/``),
  never a file.

Every member is checked against the wheel's own RECORD (sha256 and size)
and must stay inside its destination. A wheel this cannot install the way
pip would (headers, data files, a .pth the caller does not expect)
raises ``WheelError``; callers then run pip.
"""

from __future__ import annotations

import base64
import configparser
import contextlib
import csv
import hashlib
import io
import os
import stat
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

INSTALLER_NAME = "heroku-python-classic-buildpack"
_SCRIPT_MODE = 0o755


class WheelError(Exception):
    pass


@dataclass(frozen=True)
class _Member:
    info: zipfile.ZipInfo
    # Where it goes: "purelib", "platlib" or "scripts", and the path under it.
    scheme: str
    path: PurePosixPath


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def unpack_into_target(wheel: Path, target: Path) -> list[Path]:
    """Unpack ``wheel`` into ``target`` as ``pip install --target`` does;
    return the files written (never None: callers tell success by it)."""
    written = []
    with _reading(wheel) as zf:
        for member, data in _verified_members(zf):
            if member.scheme == "scripts":
                dest, mode = target / "bin" / member.path, _SCRIPT_MODE
            else:
                dest, mode = target / member.path, _mode(member.info)
            _write(dest, data, mode)
            written.append(dest)
    return written


@contextlib.contextmanager
def _reading(wheel: Path) -> Iterator[zipfile.ZipFile]:
    """Open ``wheel``; whatever is wrong with its contents is a WheelError."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            yield zf
    except (KeyError, ValueError, zipfile.BadZipFile, configparser.Error) as exc:
        # KeyError: a member it must have; ValueError: bad text or numbers.
        raise WheelError(f"{wheel.name} is not a wheel we can install: {exc}") from None


def install_into_prefix(
    wheel: Path,
    *,
    site_packages: Path,
    scripts_dir: Path,
    python: str,
    python_minor: str,
    allow_pth: frozenset[str] = frozenset(),
) -> list[Path]:
    """Install ``wheel`` into ``site_packages`` with launchers in
    ``scripts_dir`` that run ``python``; return the files written.
    ``allow_pth`` names the top-level .pth files the caller expects the wheel
    to have (setuptools' distutils-precedence.pth); any other is refused.

    On failure, whatever it wrote is removed again."""
    written: list[tuple[Path, bytes]] = []
    made: list[Path] = []
    try:
        _install_into_prefix(
            wheel, site_packages, scripts_dir, python, python_minor, written, made, allow_pth
        )
    except BaseException:
        for path, _ in written:
            path.unlink(missing_ok=True)
        # The directories this install made, deepest first: shared ones stay.
        for directory in reversed(made):
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise
    return [path for path, _ in written]


def _install_into_prefix(
    wheel: Path,
    site_packages: Path,
    scripts_dir: Path,
    python: str,
    python_minor: str,
    written: list[tuple[Path, bytes]],
    made: list[Path],
    allow_pth: frozenset[str] = frozenset(),
) -> None:
    with _reading(wheel) as zf:
        dist_info = _dist_info_dir(zf)
        members = list(_verified_members(zf, allow_pth))
        entry_points = _console_scripts(zf, dist_info)
    project = dist_info.split("-", 1)[0]
    if project.lower() == "pip":
        # pip gives itself pipX.Y launchers for the Python it is installed into.
        target = entry_points.get("pip")
        if target:
            entry_points[f"pip{python_minor}"] = target
    launchers = [
        (scripts_dir / name, launcher(python, target).encode())
        for name, target in sorted(entry_points.items())
    ]
    files = [
        (scripts_dir / member.path, _script(data, python), _SCRIPT_MODE)
        if member.scheme == "scripts"
        else (site_packages / member.path, data, _mode(member.info))
        for member, data in members
    ]
    files += [(dest, data, _SCRIPT_MODE) for dest, data in launchers]
    # Where nothing is yet: on failure, exactly what was written is removed.
    if os.path.lexists(site_packages / dist_info):
        raise WheelError(f"{site_packages / dist_info} is there already")
    for dest, _, _ in files:
        if os.path.lexists(dest):
            raise WheelError(f"{dest} is there already")
    for dest, data, mode in files:
        _make_parents(dest.parent, made)
        written.append((dest, data))
        _write(dest, data, mode)
    meta = site_packages / dist_info
    for name, data in (("INSTALLER", f"{INSTALLER_NAME}\n".encode()), ("REQUESTED", b"")):
        written.append((meta / name, data))
        _write(meta / name, data, 0o644)
    write_record(meta / "RECORD", site_packages, written)
    written.append((meta / "RECORD", b""))


def _script(data: bytes, python: str) -> bytes:
    """A script of the wheel's own: ``#!python`` names the interpreter (the
    wheel format's rule, as pip applies it)."""
    first, newline, rest = data.partition(b"\n")
    if first.rstrip(b"\r") in (b"#!python", b"#!pythonw"):
        return b"#!" + python.encode() + newline + rest
    return data


def write_record(
    record: Path,
    site_packages: Path,
    files: list[tuple[Path, bytes]],
    extra: Sequence[Path] = (),
) -> None:
    """RECORD as pip writes it: paths relative to site-packages, hashed,
    then files without a hash (``extra``: bytecode), then RECORD itself."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for path, data in files:
        writer.writerow((_relative(path, site_packages), record_hash(data), len(data)))
    for path in extra:
        writer.writerow((_relative(path, site_packages), "", ""))
    writer.writerow((_relative(record, site_packages), "", ""))
    record.write_text(out.getvalue(), encoding="utf-8")


def add_to_record(record: Path, site_packages: Path, paths: list[Path]) -> None:
    """List files written after the install (bytecode) in RECORD, unhashed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for path in paths:
        writer.writerow((_relative(path, site_packages), "", ""))
    with open(record, "a", encoding="utf-8") as f:
        f.write(out.getvalue())


def launcher(python: str, target: str) -> str:
    """A console-script launcher, the same text pip writes."""
    module, _, attr = target.partition(":")
    module, attr = module.strip(), attr.strip()
    dotted = [*module.split("."), *attr.split(".")]
    if not module or not attr or not all(part.isidentifier() for part in dotted):
        raise WheelError(f"entry point {target!r} is not module:function")
    func = attr.split(".")[0]
    return (
        f"#!{python}\n"
        "# -*- coding: utf-8 -*-\n"
        "import re\n"
        "import sys\n"
        f"from {module} import {func}\n"
        "if __name__ == '__main__':\n"
        "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
        f"    sys.exit({attr}())\n"
    )


# --- reading the wheel --------------------------------------------------------------------


def _dist_info_dir(zf: zipfile.ZipFile) -> str:
    tops = {name.split("/", 1)[0] for name in zf.namelist()}
    found = [top for top in tops if top.endswith(".dist-info")]
    if len(found) != 1:
        raise WheelError("the wheel does not have exactly one .dist-info directory")
    return found[0]


def _record(zf: zipfile.ZipFile, dist_info: str) -> dict[str, tuple[str, str]]:
    try:
        text = zf.read(f"{dist_info}/RECORD").decode("utf-8")
    except KeyError:
        raise WheelError("the wheel has no RECORD") from None
    rows = {}
    for row in csv.reader(io.StringIO(text)):
        if row:
            path, digest, size = [*row, "", ""][:3]
            rows[path] = (digest, size)
    return rows


def _verified_members(
    zf: zipfile.ZipFile, allow_pth: frozenset[str] = frozenset()
) -> Iterator[tuple[_Member, bytes]]:
    dist_info = _dist_info_dir(zf)
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    record = _record(zf, dist_info)
    wheel_meta = zf.read(f"{dist_info}/WHEEL").decode("utf-8", "replace")
    root_is_purelib = "root-is-purelib: true" in wheel_meta.lower()
    seen = set()
    for info in zf.infolist():
        if info.is_dir():
            continue
        name = info.filename
        scheme, path = _place(name, data_dir, root_is_purelib, allow_pth)
        seen.add(name)
        if name == f"{dist_info}/RECORD":
            continue  # the installer writes its own
        data = zf.read(info)
        digest, size = record.get(name, ("", ""))
        if not digest.startswith("sha256=") or record_hash(data) != digest:
            raise WheelError(f"{name} does not match the wheel's RECORD")
        if size and size != str(len(data)):
            raise WheelError(f"{name} does not match the size in the wheel's RECORD")
        yield _Member(info, scheme, path), data
    missing = set(record) - seen - {f"{dist_info}/RECORD"}
    if any(not path.endswith("/") for path in missing):
        raise WheelError("the wheel lacks files its RECORD lists")


def _place(
    name: str, data_dir: str, root_is_purelib: bool, allow_pth: frozenset[str] = frozenset()
) -> tuple[str, PurePosixPath]:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or "\\" in name or not path.parts:
        raise WheelError(f"unsafe path in wheel: {name!r}")
    if path.parts[0] != data_dir:
        scheme, placed = ("purelib" if root_is_purelib else "platlib"), path
    elif len(path.parts) < 3 or path.parts[1] not in ("purelib", "platlib", "scripts"):
        raise WheelError(f"the wheel installs {path.parts[1]} files: {name}")
    else:
        scheme, placed = path.parts[1], PurePosixPath(*path.parts[2:])
    if (
        scheme != "scripts"
        and placed.suffix == ".pth"
        and len(placed.parts) == 1
        and placed.name not in allow_pth
    ):
        # Code run at every interpreter start: pip's business, not ours.
        raise WheelError("the wheel installs a .pth file")
    return scheme, placed


def _console_scripts(zf: zipfile.ZipFile, dist_info: str) -> dict[str, str]:
    try:
        text = zf.read(f"{dist_info}/entry_points.txt").decode("utf-8")
    except KeyError:
        return {}
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    if not parser.has_section("console_scripts"):
        return {}
    return dict(parser.items("console_scripts"))


def _mode(info: zipfile.ZipInfo) -> int:
    # Keep a member's executable bit (zip keeps Unix modes in the top 16 bits).
    unix = info.external_attr >> 16
    return 0o755 if unix & stat.S_IXUSR else 0o644


def _make_parents(directory: Path, made: list[Path]) -> None:
    """Create ``directory`` and its missing parents, noting each one made."""
    if directory.is_dir():
        return
    _make_parents(directory.parent, made)
    directory.mkdir()
    made.append(directory)


def _write(dest: Path, data: bytes, mode: int) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_symlink() or dest.exists():
        dest.unlink()
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(dest, mode)


def _relative(path: Path, site_packages: Path) -> str:
    return Path(os.path.relpath(path, site_packages)).as_posix()
