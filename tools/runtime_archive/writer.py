"""Writing a runtime archive into a mirror directory: the one packing code path.

Both tools/pack-runtime and tools/build-runtime end here: a pax tar with the
entries in the order given (sorted names), compressed with zstd, written
under a temporary name and renamed into place, then its ``.sha256`` the same
way, then the mirror's ``runtimes.json`` updated (see manifest.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from buildpack.runtime.manifest import RuntimeEntry
from buildpack.runtime.zstd_stream import zstandard_module
from tools.runtime_archive import manifest
from tools.runtime_archive.layout import Entry

# zstd's --long default: a 128 MiB window, the most a decoder accepts
# without being told to allow more (the buildpack accepts no more).
LONG_WINDOW_LOG = 27


class WriteError(Exception):
    """The archive could not be written; the message says why."""


@dataclass(frozen=True)
class Compression:
    level: int = 3
    # zstd --long=N (long-distance matching with a 2**N window), as Heroku's
    # archives are made; None for a plain frame.
    window_log: int | None = None
    # The zstd tool even when the zstandard module is importable.
    force_tool: bool = False

    def tool_args(self) -> list[str]:
        args = ["zstd", f"-{self.level}", "-T0", "-q", "-c"]
        if self.level > 19:
            args.insert(1, "--ultra")
        if self.window_log is not None:
            args.append(f"--long={self.window_log}")
        return args


@dataclass(frozen=True)
class Written:
    path: Path
    sha256: str
    size: int


def write_runtime_archive(
    entries: list[Entry],
    out_dir: Path,
    *,
    name: str,
    version: str,
    stack: str,
    arch: str,
    compression: Compression,
    list_in_manifest: bool = True,
) -> Written:
    """Write the archive ``name`` and its ``.sha256`` into ``out_dir``, and
    list it in the directory's manifest (unless told not to)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    archive = out_dir / name
    tmp = out_dir / f".{name}.tmp-{secrets.token_hex(4)}"
    try:
        with open(tmp, "wb") as raw, _compressor(raw, compression) as stream:
            _write_tar(stream, entries)
        digest = sha256_file(tmp)
        os.replace(tmp, archive)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    write_atomically(out_dir / f"{name}.sha256", f"{digest}  {name}\n".encode())
    written = Written(archive, digest, archive.stat().st_size)
    if list_in_manifest:
        manifest.add(out_dir, RuntimeEntry(name, version, stack, arch, written.size, digest))
    return written


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _write_tar(stream: BinaryIO, entries: list[Entry]) -> None:
    with tarfile.open(fileobj=stream, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for entry in entries:
            if entry.data is not None:
                tf.addfile(entry.info, io.BytesIO(entry.data))
            elif entry.source is not None:
                with open(entry.source, "rb") as f:
                    tf.addfile(entry.info, f)
            else:
                tf.addfile(entry.info)


@contextlib.contextmanager
def _compressor(raw: BinaryIO, compression: Compression) -> Iterator[BinaryIO]:
    zstandard = None if compression.force_tool else zstandard_module()
    if zstandard is not None:
        params = zstandard.ZstdCompressionParameters.from_level(
            compression.level,
            threads=-1,
            write_checksum=True,
            **(
                {"window_log": compression.window_log, "enable_ldm": True}
                if compression.window_log is not None
                else {}
            ),
        )
        cctx = zstandard.ZstdCompressor(compression_params=params)
        with cctx.stream_writer(raw, closefd=False) as writer:
            yield writer  # type: ignore[misc]
        return
    # Not proc.run(): the tool reads the tar from a pipe we write to.
    try:
        proc = subprocess.Popen(compression.tool_args(), stdin=subprocess.PIPE, stdout=raw)
    except FileNotFoundError:
        raise WriteError("neither the zstandard module nor the zstd tool is installed") from None
    assert proc.stdin is not None
    try:
        yield proc.stdin  # type: ignore[misc]
        proc.stdin.close()
    except BaseException:
        proc.kill()
        raise
    finally:
        returncode = proc.wait()
    if returncode != 0:
        raise WriteError(f"zstd failed with exit status {returncode}")
