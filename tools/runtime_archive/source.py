"""Getting CPython's source: a local or remote release tarball, checked and unpacked."""

from __future__ import annotations

import re
import tarfile
import urllib.parse
from pathlib import Path

from buildpack.runtime import download
from tools.runtime_archive.writer import sha256_file

_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_PY_VERSION = re.compile(rb'#define\s+PY_VERSION\s+"([^"]+)"')
_MAX_SOURCE_BYTES = 512 * 1024 * 1024


class SourceError(Exception):
    """The source cannot be used; the message says why."""


def is_remote(source: str) -> bool:
    return urllib.parse.urlsplit(source).scheme.lower() in ("http", "https")


def check_sha256_arg(source: str, sha256: str | None) -> str | None:
    """The expected checksum, lower case; a remote source must have one."""
    if sha256 is None:
        if is_remote(source):
            raise SourceError(
                f"{source} is remote: give its SHA-256 with --sha256, so that what is "
                "built is what you meant (python.org lists it beside each release)"
            )
        return None
    if not _SHA256.match(sha256.lower()):
        raise SourceError(f"--sha256 '{sha256}' is not a SHA-256 checksum (64 hex digits)")
    return sha256.lower()


def obtain(source: str, sha256: str | None, work: Path) -> Path:
    """The tarball as a local file (downloaded into ``work`` if remote), checked."""
    if is_remote(source):
        name = Path(urllib.parse.urlsplit(source).path).name or "source.tar"
        path = work / name
        _download(source, path)
    else:
        parts = urllib.parse.urlsplit(source)
        path = Path(urllib.parse.unquote(parts.path) if parts.scheme == "file" else source)
        if not path.is_file():
            raise SourceError(f"{path} is not a file")
    if sha256 is not None:
        actual = sha256_file(path)
        if actual != sha256:
            raise SourceError(
                f"{source} has SHA-256 {actual}, not the {sha256} given with --sha256: "
                "the download is damaged or is not the release you meant"
            )
    return path


def unpack(tarball: Path, dest: Path, version: str) -> Path:
    """Unpack ``tarball`` (.tgz or .tar.xz) into ``dest``; return the source tree,
    after checking that it is CPython ``version``."""
    if not hasattr(tarfile, "data_filter"):
        raise SourceError("unpacking safely needs Python 3.10.12, 3.11.4 or newer to run this tool")
    try:
        with tarfile.open(tarball, "r:*") as tf:
            tops = {name.split("/", 1)[0] for name in tf.getnames()}
            if len(tops) != 1:
                raise SourceError(f"{tarball} does not hold one source directory: {sorted(tops)}")
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise SourceError(f"{tarball} is not a readable .tgz or .tar.xz ({exc})") from None
    tree = dest / tops.pop()
    patchlevel = tree / "Include" / "patchlevel.h"
    try:
        found = _PY_VERSION.search(patchlevel.read_bytes())
    except OSError:
        found = None
    if found is None:
        raise SourceError(f"{tarball} is not CPython's source (no PY_VERSION in {patchlevel})")
    actual = found[1].decode("ascii", "replace")
    if actual != version:
        raise SourceError(f"{tarball} is the source of Python {actual}, not {version}")
    return tree


def _download(url: str, path: Path) -> None:
    try:
        with (
            download.fetch_stream(
                url, connect_timeout=10, read_timeout=60, retries=3, backoff=1
            ) as response,
            open(path, "wb") as f,
        ):
            size = 0
            while chunk := response.raw.read(1024 * 1024):
                size += len(chunk)
                if size > _MAX_SOURCE_BYTES:
                    raise SourceError(f"{url} is larger than any CPython source tarball")
                f.write(chunk)
    except download.DownloadError as exc:
        raise SourceError(f"could not download {exc.url}: {exc.problem}") from None
