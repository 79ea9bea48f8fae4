"""Installing a verified wheel without running pip: pypa/installer, with this
project's rules around it.

Two layouts, both as pip makes them:

- ``unpack_into_target``: like ``pip install --target DIR`` (the buildpack's
  own dependencies, single-binary tools such as uv): the package files at
  the top, ``*.data/scripts`` in ``DIR/bin`` as they are, an INSTALLER and a
  RECORD; no entry-point launchers (nothing runs them from there).
- ``install_into_prefix``: like ``pip install`` into a Python's own
  site-packages (pip itself, a tool's dependencies in its venv): console-
  and gui-script launchers in ``bin/`` that run a given interpreter path
  (through ``/bin/sh`` when the path has a space or is too long for a
  ``#!`` line), the wheel's own ``*.data/scripts`` with ``#!python`` pointed
  at it, ``pipX.Y`` for pip, an INSTALLER, REQUESTED and a RECORD that pip
  can later upgrade or uninstall from. Wheels may share a directory (a
  namespace package such as ``jaraco/``), never a file.

installer writes the files; the rules it leaves to its caller are kept here
(see wheel_destination): every member has a sha256 and size in the wheel's
RECORD and is checked against them as it is written (streamed); paths stay
inside their directory; no headers or data files, and no ``.pth`` but the
ones the caller names (code run at every interpreter start: in a
``--target`` directory it would silently do nothing); script names
are plain file names; every destination in a site-packages is checked free
before anything is written; on failure, whatever was written is removed
again. A wheel this cannot install the way pip would raises ``WheelError``,
and callers then run pip; so does a missing installer library (the build
could not fetch it).
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from buildpack.selfdeps import launchers

INSTALLER_NAME = "heroku-python-classic-buildpack"


class WheelError(Exception):
    pass


@dataclass(frozen=True)
class Layout:
    """Where a wheel's files go."""

    root: Path  # purelib and platlib: a site-packages, or the --target directory
    scripts: Path
    # The interpreter launchers and ``#!python`` scripts run; "" for the
    # --target layout, which gets no launchers and keeps scripts as they are.
    python: str = ""
    python_minor: str = ""  # for pip's pipX.Y launcher
    into_site: bool = False  # a real site-packages (checked free, with REQUESTED)
    # The top-level .pth files the caller expects (setuptools'
    # distutils-precedence.pth); any other is refused.
    allow_pth: frozenset[str] = frozenset()


def unpack_into_target(wheel: Path, target: Path) -> list[Path]:
    """Unpack ``wheel`` into ``target`` as ``pip install --target`` does;
    return the files written (never None: callers tell success by it)."""
    return _install(wheel, Layout(root=target, scripts=target / "bin"))


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
    ``scripts_dir`` that run ``python``; return the files written, RECORD last.
    ``allow_pth`` names the top-level .pth files the caller expects the wheel
    to have (setuptools' distutils-precedence.pth); any other is refused.

    On failure, whatever it wrote is removed again."""
    layout = Layout(site_packages, scripts_dir, python, python_minor, True, allow_pth)
    return _install(wheel, layout)


def launcher(python: str, target: str) -> str:
    """The console-script launcher installer writes for ``module:function``."""
    module, attr = entry_point(target)
    return launchers.launcher(python, module, attr).decode("utf-8")


def scripts_written(
    wheel: Path, python: str, opened: zipfile.ZipFile | None = None
) -> dict[str, bytes]:
    """What install_into_prefix writes into ``scripts_dir`` for ``wheel``
    with launchers running ``python``: name -> exact bytes (read from
    ``opened``, when the caller has the wheel open)."""
    try:
        with contextlib.nullcontext(opened) if opened is not None else zipfile.ZipFile(wheel) as zf:
            scripts = launchers.written(zf, python)
    except (launchers.Unreadable, zipfile.BadZipFile, ValueError, UnicodeDecodeError) as exc:
        raise WheelError(f"{wheel.name} is not a wheel we can install: {exc}") from None
    for name in scripts:
        check_script_name(name)
    return scripts


def entry_point(target: str) -> tuple[str, str]:
    """``module:attr`` of an entry point (extras ignored), or WheelError."""
    module, sep, attr = target.partition(":")
    module, attr = module.strip(), attr.split("[", 1)[0].strip()
    dotted = [*module.split("."), *attr.split(".")]
    if not sep or not all(part.isidentifier() for part in dotted):
        raise WheelError(f"entry point {target!r} is not module:function")
    return module, attr


def check_script_name(name: str) -> None:
    """A launcher's name is a file in bin/, never a path out of it."""
    if not name or "/" in name or name.startswith(".") or "\0" in name:
        raise WheelError(f"the wheel names a script {name!r}, which is not a plain file name")


def record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def write_record(
    record: Path,
    site_packages: Path,
    files: list[tuple[Path, bytes]],
    extra: Sequence[Path] = (),
) -> None:
    """RECORD as pip writes it, for files written without installer (the
    pip seed): paths relative to site-packages, hashed, then files without a
    hash (``extra``: bytecode), then RECORD itself."""
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


def _relative(path: Path, site_packages: Path) -> str:
    return Path(os.path.relpath(path, site_packages)).as_posix()


def _install(wheel: Path, layout: Layout) -> list[Path]:
    # wheel_destination imports installer, which the build fetches: it may
    # be missing, and then pip does the install.
    try:
        from buildpack.selfdeps.wheel_destination import install
    except ImportError as exc:
        raise _unavailable(exc) from None
    return install(wheel, layout)


def _unavailable(exc: ImportError) -> WheelError:
    return WheelError(f"the buildpack's installer library is not available ({exc})")
