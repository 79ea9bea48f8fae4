"""Checks on the app files that the build hands to installers.

The buildpack runs as root on a build machine that holds other things than the
app. An app is free to contain symbolic links, but one named like a file the
build reads (requirements.txt -> /etc/shadow) would make the installer read a
file from outside the app and quote it in the build log. These checks run
before any installer sees the files. Version files have their own checks in
python_version.py.

Not covered, by design: what installers and the app's own code read once they
run (``-r /path`` lines inside requirements.txt, setup.py, hooks). That code is
the app's, and runs with the build's privileges.
"""

from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path

from buildpack.core import errors, safe_fs

# The files each package manager's tools read from the app's root.
MANAGER_FILES = {
    "pip": ("requirements.txt",),
    "pipenv": ("Pipfile", "Pipfile.lock"),
    "poetry": ("pyproject.toml", "poetry.lock"),
    "uv": ("pyproject.toml", "uv.lock"),
}
# Read by pip with its own decoding, which raises a traceback on bad input.
PIP_TEXT_FILES = frozenset({"requirements.txt", "requirements-test.txt"})
# Lockfiles with every hash of every package can be big, but not this big.
MAX_TEXT_BYTES = 16 * 1024 * 1024

# pip honours these byte order marks, and a PEP 263 style coding line.
_BOMS: tuple[bytes, ...] = (
    codecs.BOM_UTF8,
    codecs.BOM_UTF16_BE,
    codecs.BOM_UTF16_LE,
    codecs.BOM_UTF32_BE,
)
_BOMS += (codecs.BOM_UTF32_LE,)
_CODING_LINE = re.compile(rb"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+", re.MULTILINE)


def check_package_manager_files(app_dir: Path, manager: str, *, install_dev: bool) -> None:
    """Refuse the files ``manager`` will read if they are not the app's own text."""
    names = list(MANAGER_FILES.get(manager, ()))
    if manager == "pip" and install_dev:
        names.append("requirements-test.txt")
    for name in names:
        path = app_dir / name
        if not os.path.lexists(path):
            continue  # a missing optional file is the package manager's business
        check_inside_app(app_dir, name)
        if name in PIP_TEXT_FILES:
            check_pip_text(path, name)


def check_inside_app(app_dir: Path, name: str) -> None:
    """``app_dir/name`` must be a regular file, after links that stay inside the app."""
    path = app_dir / name
    root = os.path.realpath(app_dir)
    target = os.path.realpath(path)
    if os.path.commonpath([root, target]) != root:
        raise errors.app_file_outside_app(name, os.readlink(path) if path.is_symlink() else target)
    try:
        info = os.stat(target)
    except FileNotFoundError:
        raise errors.app_file_not_regular(
            name, "it is a symbolic link to a file that does not exist"
        ) from None
    except OSError as exc:
        raise errors.app_file_not_regular(name, exc.strerror or str(exc)) from exc
    if not stat.S_ISREG(info.st_mode):
        kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise errors.app_file_not_regular(name, f"it is {kind}")


def dir_for_writing(app_dir: Path, name: str) -> Path:
    """``app_dir/name`` as a directory the build may write into, made if missing.

    A link the app committed there is followed only when it stays inside
    the app; one that leads out is refused, naming it (the build would
    otherwise write its files wherever the link points).
    """
    path = app_dir / name
    if path.is_symlink() and not safe_fs.resolves_inside(app_dir, path):
        raise errors.app_dir_outside_app(name, os.readlink(path))
    if os.path.lexists(path) and not path.is_dir():
        raise errors.app_file_not_regular(name, "it is not a directory")
    path.mkdir(exist_ok=True)
    return path


def check_pip_text(path: Path, name: str) -> None:
    """pip must be able to decode ``path``; refuse what would crash it."""
    try:
        with path.open("rb") as f:
            # One byte past the limit: st_size can lie (files that grow).
            data = f.read(MAX_TEXT_BYTES + 1)
    except OSError as exc:
        raise errors.app_file_not_regular(name, exc.strerror or str(exc)) from exc
    if len(data) > MAX_TEXT_BYTES:
        raise errors.app_file_too_large(name, MAX_TEXT_BYTES)
    problem = text_problem(data)
    if problem:
        raise errors.app_file_invalid_encoding(name, problem)


def text_problem(data: bytes) -> str:
    """Why pip could not decode ``data`` as a requirements file; "" when it can."""
    if data.startswith(_BOMS):
        return ""  # pip decodes by the byte order mark
    if _CODING_LINE.search(b"\n".join(data.splitlines()[:2])):
        return ""  # pip decodes by the declared encoding
    if b"\x00" in data:
        return "contains NUL bytes: it is binary, or UTF-16 text without a byte order mark"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return f"is not valid UTF-8 (line {line}, byte {exc.start} is invalid)"
    return ""
