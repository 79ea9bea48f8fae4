"""A directory unpacked from locked wheels, checked file by file before use.

The buildpack's own libraries live in CACHE_DIR between builds, and the
buildpack imports them: whatever an earlier build (its hooks, its
dependencies, running as root) put there would run in every later build.
So the directory keeps the wheels it was unpacked from (``.wheels/``), and
before each use:

- each wheel must be the file the lock names (its sha256, held by the
  buildpack outside CACHE_DIR, see wheel_lock);
- every file must be a member of one of them, byte for byte (the wheel's
  own RECORD, which its sha256 vouches for, gives each member's hash), or
  an installer's metadata file in a ``.dist-info`` directory;
- nothing may be missing, and nothing may be a symbolic link.

Bytecode is not allowed in: it cannot be checked without compiling the
source again, so the buildpack imports these libraries from their source
only, reading and writing none (source_only), and a planted ``.pyc`` fails
the check.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import os
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path, PurePosixPath

from buildpack.core import safe_fs
from buildpack.selfdeps import launchers, tree_scan
from buildpack.selfdeps.wheel_lock import LockedFile

WHEELS = ".wheels"
COMPLETE = ".complete"
# Written by installers into .dist-info, read by no import.
_INSTALLER_METADATA = frozenset({"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"})


class Untrusted(Exception):
    """Why a directory is not what the lock vouches for (for the log)."""


# What reading a tree or a wheel in it raises when it cannot be checked.
CHECK_ERRORS = (OSError, zipfile.BadZipFile, KeyError, ValueError, UnicodeDecodeError)


def problem(target: Path, locked: list[LockedFile]) -> str | None:
    """Why ``target`` is not exactly the unpacked ``locked`` wheels, or None."""
    try:
        _check(target, locked)
    except Untrusted as exc:
        return str(exc)
    except CHECK_ERRORS as exc:
        return f"it could not be checked ({exc})"
    return None


def sha256_file(path: Path) -> str:
    """The sha256 of the regular file at ``path``, never through a link."""
    return tree_scan.sha256_file(path)


def members(wheel: Path, opened: zipfile.ZipFile | None = None) -> Iterator[tuple[str, str]]:
    """(path where ``unpack_into_target`` puts it, sha256 hex) for every file
    of ``wheel`` (read from ``opened``, when the caller has it open), from
    its RECORD; its own RECORD left out."""
    with contextlib.nullcontext(opened) if opened is not None else zipfile.ZipFile(wheel) as zf:
        dist_info = launchers.dist_info_of(zf)
        data_dir = dist_info.removesuffix(".dist-info") + ".data"
        text = zf.read(f"{dist_info}/RECORD").decode("utf-8")
    for row in csv.reader(io.StringIO(text)):
        if not row or row[0] == f"{dist_info}/RECORD":
            continue
        path, digest = row[0], row[1] if len(row) > 1 else ""
        algorithm, _, value = digest.partition("=")
        if algorithm != "sha256":
            raise Untrusted(f"{wheel.name} lists {path} without a sha256")
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        yield _placed(path, data_dir), raw.hex()


def _placed(name: str, data_dir: str) -> str:
    if data_dir not in name:  # most members: no path to parse
        return name
    parts = PurePosixPath(name).parts
    if parts[0] != data_dir:
        return name
    if len(parts) >= 3 and parts[1] in ("purelib", "platlib"):
        return "/".join(parts[2:])
    if len(parts) >= 3 and parts[1] == "scripts":
        return "/".join(("bin", *parts[2:]))
    raise Untrusted(f"{name} is not a file the buildpack unpacks")


def _check(target: Path, locked: list[LockedFile]) -> None:
    for path in (target, target / WHEELS):
        what = safe_fs.describe(path)
        if what is not None or not os.path.lexists(path):
            raise Untrusted(f"{path.name} is {what or 'missing'}")
    expected: dict[str, str] = {}
    for lf in locked:
        wheel = target / WHEELS / lf.filename
        if sha256_file(wheel) != lf.sha256:
            raise Untrusted(f"{WHEELS}/{lf.filename} is not the wheel the buildpack locked")
        expected.update(members(wheel))
    check_tree(
        target,
        expected,
        accept=lambda rel: rel == COMPLETE or installer_metadata(rel),
        leave_out=WHEELS,
    )


def check_tree(
    root: Path,
    files: Mapping[str, str],
    *,
    made: Mapping[str, bytes] | None = None,
    links: Mapping[str, str] | None = None,
    accept: Callable[[str], bool] = lambda rel: False,
    leave_out: str = "",
    scanned: tree_scan.Begun | None = None,
) -> None:
    """Raise Untrusted unless everything under ``root`` (but its top-level
    ``leave_out``) is accounted for, and nothing of it missing: a member of
    ``files`` (relative path -> sha256 hex, from a checked wheel's RECORD),
    byte for byte; a file the buildpack writes itself (``made``: path ->
    its exact bytes); a link of ``links``, to exactly its target; or another
    regular file ``accept`` takes (given its path; it may raise Untrusted
    itself). Directories hold only what is checked. ``scanned``: the
    listing of ``root``, begun earlier (tree_scan.started), else made now."""
    made = made or {}
    links = links or {}
    seen = set()
    if scanned is None:
        entries = tree_scan.scan(root, leave_out)
    elif (scanned.root, scanned.leave_out) == (root, leave_out):
        entries = scanned.entries()
    else:
        raise ValueError(f"the scan is of {scanned.root} without {scanned.leave_out!r}")
    for entry in entries:
        rel = entry.rel
        if entry.kind == tree_scan.LINK and rel in links:
            if os.readlink(root / rel) != links[rel]:
                raise Untrusted(f"{rel} links somewhere the buildpack does not")
            seen.add(rel)
        elif entry.kind == tree_scan.LINK:
            raise Untrusted(f"{rel} is a symbolic link")
        elif entry.kind == tree_scan.DIR:
            continue
        elif entry.kind != tree_scan.FILE:
            raise Untrusted(f"{rel} is not a regular file")
        elif rel in files or rel in made:
            if entry.error is not None:
                raise entry.error
            if rel in files:
                if entry.sha256 != files[rel]:
                    raise Untrusted(f"{rel} differs from the locked wheel's")
            elif entry.sha256 != hashlib.sha256(made[rel]).hexdigest():
                raise Untrusted(f"{rel} is not what the buildpack writes there")
            seen.add(rel)
        elif not accept(rel):
            raise Untrusted(f"{rel} is in no locked wheel")
    missing = sorted({*files, *made, *links} - seen)
    if missing:
        raise Untrusted(f"{missing[0]} is missing")


def installer_metadata(rel: str) -> bool:
    """An installer's record in a ``.dist-info`` at ``rel``'s top (INSTALLER,
    RECORD...): written at install, read by no import."""
    parts = rel.split("/")
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in _INSTALLER_METADATA
