"""Keeping a mirror directory's ``runtimes.json`` (format: buildpack/runtime_manifest.py).

Each archive the tools write is added (or replaces the entry of the same
file name); entries whose archive is gone are dropped. The file is rewritten
under a temporary name and renamed, under a lock, so that a server never
serves half a manifest and two tools adding at once both get listed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from buildpack.runtime.download import parse_sha256
from buildpack.runtime.manifest import (
    MANIFEST_NAME,
    ManifestError,
    RuntimeEntry,
    encode_manifest,
    parse_manifest,
)

LOCK_NAME = f".{MANIFEST_NAME}.lock"


def read(mirror_dir: Path) -> list[RuntimeEntry]:
    """The entries of ``mirror_dir``'s manifest; none if it has no manifest."""
    path = mirror_dir / MANIFEST_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    try:
        return parse_manifest(data)
    except ManifestError as exc:
        raise ManifestError(f"{path}: {exc}") from None


def add(mirror_dir: Path, entry: RuntimeEntry) -> Path:
    path = mirror_dir / MANIFEST_NAME
    with _locked(mirror_dir):
        kept = [
            old
            for old in read(mirror_dir)
            if old.file != entry.file and (mirror_dir / old.file).is_file()
        ]
        tmp = mirror_dir / f".{MANIFEST_NAME}.tmp-{secrets.token_hex(4)}"
        try:
            tmp.write_bytes(encode_manifest([*kept, entry]))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
    return path


def problems(mirror_dir: Path) -> list[str]:
    """Where the manifest and the files beside it disagree (nothing: they agree)."""
    found = []
    for entry in read(mirror_dir):
        archive = mirror_dir / entry.file
        if not archive.is_file():
            found.append(f"{entry.file}: listed, but not in {mirror_dir}")
            continue
        if archive.stat().st_size != entry.size:
            found.append(f"{entry.file}: {archive.stat().st_size} bytes, listed as {entry.size}")
        try:
            sha256 = parse_sha256((mirror_dir / f"{entry.file}.sha256").read_text())
        except (OSError, ValueError) as exc:
            found.append(f"{entry.file}.sha256: unreadable ({exc})")
            continue
        if sha256 != entry.sha256:
            found.append(f"{entry.file}: .sha256 says {sha256}, the manifest {entry.sha256}")
    return found


@contextlib.contextmanager
def _locked(mirror_dir: Path) -> Iterator[None]:
    with open(mirror_dir / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
