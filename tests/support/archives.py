"""Building small (and hostile) .tar.zst archives in tests, with tarfile and zstandard."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import zstandard

MTIME = 1_700_000_000


def tar_bytes(build: Callable[[tarfile.TarFile], None]) -> bytes:
    """An uncompressed tar whose members ``build`` adds (see the add_* helpers)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        build(tf)
    return buf.getvalue()


def zstd(data: bytes, *, checksum: bool = True) -> bytes:
    return zstandard.ZstdCompressor(level=3, write_checksum=checksum).compress(data)


def add_file(tf: tarfile.TarFile, name: str, data: bytes = b"", *, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = MTIME
    tf.addfile(info, io.BytesIO(data))


def add_dir(tf: tarfile.TarFile, name: str, *, mode: int = 0o755) -> None:
    add_special(tf, name, tarfile.DIRTYPE, mode=mode)


def add_symlink(tf: tarfile.TarFile, name: str, target: str) -> None:
    add_special(tf, name, tarfile.SYMTYPE, linkname=target, mode=0o777)


def add_hardlink(tf: tarfile.TarFile, name: str, target: str) -> None:
    add_special(tf, name, tarfile.LNKTYPE, linkname=target)


def add_special(
    tf: tarfile.TarFile, name: str, kind: bytes, *, linkname: str = "", mode: int = 0o644
) -> None:
    """A member without data: directory, link, device node, FIFO..."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = mode
    info.mtime = MTIME
    tf.addfile(info)


def small_runtime_tar(payload: bytes = b"") -> bytes:
    """A tiny stand-in for a runtime: bin/python3 script, a link, a data file."""

    def build(tf: tarfile.TarFile) -> None:
        add_dir(tf, "bin")
        add_file(tf, "bin/python3", b"#!/bin/sh\necho fake python\n", mode=0o755)
        add_symlink(tf, "bin/python", "python3")
        add_dir(tf, "lib")
        add_file(tf, "lib/payload.bin", payload)

    return tar_bytes(build)


def write_with_sha256(path: Path, data: bytes, *, sha256: str | None = None) -> Path:
    """Write ``data`` to ``path`` and ``<path>.sha256`` as sha256sum would (or ``sha256``)."""
    path.write_bytes(data)
    digest = sha256 or hashlib.sha256(data).hexdigest()
    path.with_name(path.name + ".sha256").write_text(f"{digest}  {path.name}\n")
    return path


def tar_members(archive: Path) -> dict[str, tarfile.TarInfo]:
    """The members of a .tar.zst, by name."""
    with (
        open(archive, "rb") as raw,
        zstandard.ZstdDecompressor().stream_reader(raw) as reader,
        tarfile.open(fileobj=reader, mode="r|") as tf,
    ):
        return {m.name: m for m in tf}
