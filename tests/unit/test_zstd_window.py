"""Archives compressed like Heroku's (zstd --long: a 128 MiB window) unpack,
on both decompression paths; a larger window is refused with a clear message.

The zstd tool reads the tar from a pipe, so it cannot shrink the window to
the input's size: the frame really declares the window asked for.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
import zstandard

from buildpack.core.errors import BuildError
from buildpack.core.output import Output
from buildpack.runtime import download
from buildpack.runtime.extract import MAX_WINDOW_LOG
from tests.support.archives import small_runtime_tar, write_with_sha256

NAME = "python-3.13.1-ubuntu-24.04-amd64.tar.zst"


def compressed(*args: str) -> bytes:
    tar = small_runtime_tar(b"payload " * 10_000)
    return subprocess.run(
        ["zstd", "-q", "-c", *args], input=tar, capture_output=True, check=True
    ).stdout


def install(data: bytes, tmp_path: Path, zstd_path: str) -> Path:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write_with_sha256(mirror / NAME, data)
    dest = tmp_path / "build" / ".heroku" / "python"
    dest.parent.mkdir(parents=True)
    download.download_and_extract(
        f"{mirror.as_uri()}/{NAME}",
        dest,
        connect_timeout=2,
        read_timeout=5,
        retries=0,
        backoff=0,
        out=Output(io.StringIO(), io.StringIO()),
        force_zstd_tool=zstd_path == "tool",
    )
    return dest


@pytest.mark.parametrize("zstd_path", ["module", "tool"])
def test_heroku_style_long_window_is_accepted(tmp_path: Path, zstd_path: str) -> None:
    data = compressed("-19", "--long")
    assert zstandard.get_frame_parameters(data).window_size == 2**MAX_WINDOW_LOG == 128 * 2**20
    dest = install(data, tmp_path, zstd_path)
    assert (dest / "bin" / "python3").is_file()


@pytest.mark.parametrize("zstd_path", ["module", "tool"])
@pytest.mark.parametrize("window_log", [28, 30])
def test_a_larger_window_is_refused_clearly(
    tmp_path: Path, zstd_path: str, window_log: int
) -> None:
    data = compressed("-19", f"--long={window_log}")
    assert zstandard.get_frame_parameters(data).window_size == 2**window_log
    with pytest.raises(BuildError) as raised:
        install(data, tmp_path, zstd_path)
    error = raised.value
    assert error.reason == "install-python::invalid-archive"
    assert "zstd window larger than 128 MiB" in error.cause
    assert "--long=27" in error.cause
    assert not (tmp_path / "build" / ".heroku" / "python").exists()
