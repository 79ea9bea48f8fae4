"""Safe, streaming, atomic extraction of .tar.zst runtime archives."""

from __future__ import annotations

import fcntl
import io
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard

from buildpack.core import errors
from buildpack.runtime.extract import extract_tar_stream
from buildpack.runtime.zstd_stream import open_zstd_reader
from tests.support.archives import (
    MTIME,
    add_dir,
    add_file,
    add_hardlink,
    add_special,
    add_symlink,
    small_runtime_tar,
    tar_bytes,
    zstd,
)
from tests.support.tree import tree_digest

SOURCE = "test://python.tar.zst"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["module", "tool"])
def zstd_path(request: pytest.FixtureRequest) -> str:
    """Both decompressors: the zstandard module and the zstd tool fallback."""
    return request.param


def extract(data: bytes, dest: Path, zstd_path: str = "module", **kwargs: object) -> None:
    with open_zstd_reader(io.BytesIO(data), force_tool=zstd_path == "tool") as reader:
        extract_tar_stream(reader, dest, source=SOURCE, **kwargs)  # type: ignore[arg-type]


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir())


# --- archives that must extract ------------------------------------------------------


def test_extracts_files_links_modes_and_mtimes(tmp_path: Path, zstd_path: str) -> None:
    def build(tf: tarfile.TarFile) -> None:
        add_dir(tf, "bin")
        add_file(tf, "bin/python3", b"#!/bin/sh\n", mode=0o755)
        add_symlink(tf, "bin/python", "python3")
        add_dir(tf, "lib/python3.13", mode=0o755)  # parent "lib" is implicit
        add_file(tf, "lib/python3.13/os.py", b"# os\n", mode=0o644)
        add_hardlink(tf, "lib/python3.13/os2.py", "lib/python3.13/os.py")
        add_symlink(tf, "lib/libpython.so", "python3.13/os.py")

    dest = tmp_path / "python"
    extract(zstd(tar_bytes(build)), dest, zstd_path)

    assert (dest / "bin/python3").read_bytes() == b"#!/bin/sh\n"
    assert stat.S_IMODE((dest / "bin/python3").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "lib/python3.13/os.py").stat().st_mode) == 0o644
    assert (dest / "bin/python3").stat().st_mtime == MTIME
    assert (dest / "bin").stat().st_mtime == MTIME
    assert os.readlink(dest / "bin/python") == "python3"
    assert (dest / "lib/python3.13/os2.py").stat().st_ino == (
        dest / "lib/python3.13/os.py"
    ).stat().st_ino
    assert (dest / "lib/libpython.so").read_bytes() == b"# os\n"
    assert leftovers(tmp_path) == ["python"]


def test_dot_slash_names_like_gnu_tar_makes(tmp_path: Path) -> None:
    def build(tf: tarfile.TarFile) -> None:
        add_dir(tf, ".", mode=0o755)
        add_file(tf, "./bin/python3", b"x", mode=0o755)

    extract(zstd(tar_bytes(build)), tmp_path / "python")
    assert (tmp_path / "python/bin/python3").read_bytes() == b"x"


def test_setuid_setgid_sticky_and_group_other_write_are_stripped(
    tmp_path: Path, zstd_path: str
) -> None:
    def build(tf: tarfile.TarFile) -> None:
        add_dir(tf, "shared", mode=0o3777)
        add_file(tf, "shared/su", b"x", mode=0o4755)
        add_file(tf, "shared/sg", b"x", mode=0o2755)
        add_file(tf, "shared/everyone", b"x", mode=0o777)
        add_file(tf, "shared/rw", b"x", mode=0o666)

    dest = tmp_path / "python"
    extract(zstd(tar_bytes(build)), dest, zstd_path)
    assert stat.S_IMODE((dest / "shared/su").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "shared/sg").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "shared/everyone").stat().st_mode) == 0o755
    assert stat.S_IMODE((dest / "shared/rw").stat().st_mode) == 0o644
    assert stat.S_IMODE((dest / "shared").stat().st_mode) == 0o755


def test_read_only_directory_still_gets_its_files(tmp_path: Path) -> None:
    def build(tf: tarfile.TarFile) -> None:
        add_dir(tf, "ro", mode=0o555)
        add_file(tf, "ro/f", b"data", mode=0o444)

    dest = tmp_path / "python"
    extract(zstd(tar_bytes(build)), dest)
    assert (dest / "ro/f").read_bytes() == b"data"
    assert stat.S_IMODE((dest / "ro").stat().st_mode) == 0o555


def test_later_member_replaces_earlier_file(tmp_path: Path) -> None:
    def build(tf: tarfile.TarFile) -> None:
        add_file(tf, "f", b"old")
        add_file(tf, "f", b"new")

    extract(zstd(tar_bytes(build)), tmp_path / "python")
    assert (tmp_path / "python/f").read_bytes() == b"new"


def test_multiple_zstd_frames_are_read(tmp_path: Path, zstd_path: str) -> None:
    tar = small_runtime_tar(os.urandom(50_000))
    data = zstd(tar[:20_000]) + zstd(tar[20_000:])
    extract(data, tmp_path / "python", zstd_path)
    assert (tmp_path / "python/lib/payload.bin").stat().st_size == 50_000


# --- the target directory --------------------------------------------------------------


def test_existing_dest_is_refused_unless_replace(tmp_path: Path) -> None:
    dest = tmp_path / "python"
    dest.mkdir()
    (dest / "old").write_text("old")
    data = zstd(small_runtime_tar())
    with pytest.raises(FileExistsError):
        extract(data, dest)
    assert (dest / "old").exists()
    assert leftovers(tmp_path) == ["python"]

    extract(data, dest, replace=True)
    assert not (dest / "old").exists()
    assert (dest / "bin/python3").exists()
    assert leftovers(tmp_path) == ["python"]


def test_failed_replace_keeps_the_old_directory(tmp_path: Path) -> None:
    dest = tmp_path / "python"
    dest.mkdir()
    (dest / "old").write_text("old")
    data = zstd(tar_bytes(lambda tf: add_file(tf, "../evil", b"x")))
    with pytest.raises(errors.BuildError):
        extract(data, dest, replace=True)
    assert (dest / "old").read_text() == "old"
    assert leftovers(tmp_path) == ["python"]


def test_leftovers_of_a_killed_extraction_are_removed(tmp_path: Path) -> None:
    stale = tmp_path / ".python.partial-abc123"
    (stale / "bin").mkdir(parents=True)
    (stale / "bin").chmod(0o555)
    (tmp_path / ".python.old-abc123").mkdir()
    (tmp_path / "app.py").write_text("keep me")
    extract(zstd(small_runtime_tar()), tmp_path / "python")
    assert leftovers(tmp_path) == ["app.py", "python"]


def test_a_linked_leftover_is_removed_as_a_link_not_walked(tmp_path: Path) -> None:
    """A committed .heroku/.python.partial-x link must not make the cleanup
    chmod or delete what it points to."""
    box = tmp_path / "box"
    outside = box / "outside"
    (outside / "sub").mkdir(parents=True)
    (outside / "sub" / "file").write_text("keep")
    os.chmod(outside / "sub", 0o751)
    os.chmod(outside, 0o711)
    before = tree_digest(box)
    parent = tmp_path / "app" / ".heroku"
    parent.mkdir(parents=True)
    (parent / ".python.partial-x").symlink_to(outside)
    (parent / ".python.old-y").symlink_to(outside / "sub")
    extract(zstd(small_runtime_tar()), parent / "python")
    assert leftovers(parent) == ["python"]
    assert tree_digest(box) == before


def test_before_commit_failure_installs_nothing(tmp_path: Path) -> None:
    def refuse() -> None:
        raise errors.runtime_checksum_mismatch(SOURCE, "a" * 64, "b" * 64)

    with pytest.raises(errors.BuildError) as info:
        extract(zstd(small_runtime_tar()), tmp_path / "python", before_commit=refuse)
    assert info.value.reason == "install-python::checksum-mismatch"
    assert leftovers(tmp_path) == []


# --- hostile archives ---------------------------------------------------------------------


def _absolute(tf: tarfile.TarFile, outside: str) -> None:
    add_file(tf, f"{outside}/evil", b"x")


def _dotdot(tf: tarfile.TarFile, outside: str) -> None:
    add_dir(tf, "lib")
    add_file(tf, "lib/../../evil", b"x")


def _symlink_outside(tf: tarfile.TarFile, outside: str) -> None:
    add_symlink(tf, "lib/link", "../../outside")


def _symlink_absolute(tf: tarfile.TarFile, outside: str) -> None:
    add_symlink(tf, "link", outside)


def _symlink_chain(tf: tarfile.TarFile, outside: str) -> None:
    # Each link looks harmless on its own: a/up -> ".." is the root, and
    # "a/up/.." is "a" on paper, but the kernel resolves it to root/..
    add_dir(tf, "a")
    add_symlink(tf, "escape", "a/up/..")
    add_symlink(tf, "a/up", "..")


def _hardlink_absolute(tf: tarfile.TarFile, outside: str) -> None:
    add_hardlink(tf, "h", f"{outside}/secret")


def _hardlink_dotdot(tf: tarfile.TarFile, outside: str) -> None:
    add_hardlink(tf, "h", "../outside/secret")


def _hardlink_forward(tf: tarfile.TarFile, outside: str) -> None:
    add_hardlink(tf, "h", "later")
    add_file(tf, "later", b"x")


def _hardlink_through_symlink(tf: tarfile.TarFile, outside: str) -> None:
    add_symlink(tf, "up", ".")
    add_file(tf, "f", b"x")
    add_hardlink(tf, "h", "up/f")


def _file_through_symlink(tf: tarfile.TarFile, outside: str) -> None:
    add_dir(tf, "real")
    add_symlink(tf, "lib", "real")
    add_file(tf, "lib/evil", b"x")


def _dir_replaces_symlink(tf: tarfile.TarFile, outside: str) -> None:
    add_symlink(tf, "lib", ".")
    add_dir(tf, "lib")


def _file_replaces_dir(tf: tarfile.TarFile, outside: str) -> None:
    add_dir(tf, "lib")
    add_file(tf, "lib", b"x")


def _char_device(tf: tarfile.TarFile, outside: str) -> None:
    add_special(tf, "dev/null", tarfile.CHRTYPE)


def _block_device(tf: tarfile.TarFile, outside: str) -> None:
    add_special(tf, "dev/sda", tarfile.BLKTYPE)


def _fifo(tf: tarfile.TarFile, outside: str) -> None:
    add_special(tf, "fifo", tarfile.FIFOTYPE)


HOSTILE = {
    "absolute-path": (_absolute, "absolute path"),
    "dotdot": (_dotdot, "'..' component"),
    "symlink-outside": (_symlink_outside, "pointing outside"),
    "symlink-absolute": (_symlink_absolute, "absolute path"),
    "symlink-chain": (_symlink_chain, "resolves outside"),
    "hardlink-absolute": (_hardlink_absolute, "absolute path"),
    "hardlink-dotdot": (_hardlink_dotdot, "'..' component"),
    "hardlink-not-extracted-yet": (_hardlink_forward, "not an earlier file"),
    "hardlink-through-symlink": (_hardlink_through_symlink, "not an earlier file"),
    "file-through-symlink": (_file_through_symlink, "through the symbolic link 'lib'"),
    "dir-replaces-symlink": (_dir_replaces_symlink, "with a directory"),
    "file-replaces-dir": (_file_replaces_dir, "replaces a directory"),
    "char-device": (_char_device, "device file"),
    "block-device": (_block_device, "device file"),
    "fifo": (_fifo, "FIFO"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_member_is_refused_and_nothing_is_written(
    tmp_path: Path, zstd_path: str, case: str
) -> None:
    build, problem = HOSTILE[case]
    root = tmp_path / "target-parent"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("secret")

    def build_with_paths(tf: tarfile.TarFile) -> None:
        add_file(tf, "bin/python3", b"ok", mode=0o755)
        build(tf, str(outside))

    with pytest.raises(errors.BuildError) as info:
        extract(zstd(tar_bytes(build_with_paths)), root / "python", zstd_path)

    assert info.value.reason == "install-python::unsafe-archive"
    assert problem in info.value.cause
    assert leftovers(root) == []
    assert leftovers(outside) == ["secret"]
    assert (outside / "secret").read_text() == "secret"
    assert not (tmp_path / "evil").exists()


def test_decompression_bomb_stops_at_the_byte_limit(tmp_path: Path, zstd_path: str) -> None:
    # 64 MiB of zeros compress to a few kilobytes.
    bomb = zstd(tar_bytes(lambda tf: add_file(tf, "zeros", bytes(64 * 1024 * 1024))))
    assert len(bomb) < 64 * 1024
    with pytest.raises(errors.BuildError) as info:
        extract(bomb, tmp_path / "python", zstd_path, max_bytes=1024 * 1024)
    assert info.value.reason == "install-python::unsafe-archive"
    assert "exceed 1048576 bytes" in info.value.cause
    assert leftovers(tmp_path) == []


def test_enormous_size_in_a_header_is_refused_before_reading(tmp_path: Path) -> None:
    # A header claiming 1 TiB, with no data behind it: the default limit stops
    # it at once instead of trying to read (or write) that much.
    header = tarfile.TarInfo("huge")
    header.size = 1024**4
    data = zstd(header.tobuf(format=tarfile.PAX_FORMAT) + bytes(1024))
    with pytest.raises(errors.BuildError) as info:
        extract(data, tmp_path / "python")
    assert info.value.reason == "install-python::unsafe-archive"
    assert "'huge'" in info.value.cause
    assert leftovers(tmp_path) == []


def test_member_count_limit(tmp_path: Path) -> None:
    def build(tf: tarfile.TarFile) -> None:
        for i in range(20):
            add_file(tf, f"f{i}", b"")

    with pytest.raises(errors.BuildError) as info:
        extract(zstd(tar_bytes(build)), tmp_path / "python", max_members=10)
    assert "limit of 10 members" in info.value.cause
    assert leftovers(tmp_path) == []


# --- corrupt data ------------------------------------------------------------------------------


def _assert_invalid(tmp_path: Path, data: bytes, zstd_path: str) -> errors.BuildError:
    with pytest.raises(errors.BuildError) as info:
        extract(data, tmp_path / "python", zstd_path)
    assert info.value.reason == "install-python::invalid-archive", info.value.cause
    assert leftovers(tmp_path) == []
    return info.value


def test_corrupt_zstd_frame(tmp_path: Path, zstd_path: str) -> None:
    data = bytearray(zstd(small_runtime_tar(os.urandom(200_000))))
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(16)
    _assert_invalid(tmp_path, bytes(data), zstd_path)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_archive(tmp_path: Path, zstd_path: str, fraction: float) -> None:
    data = zstd(small_runtime_tar(os.urandom(200_000)))
    _assert_invalid(tmp_path, data[: int(len(data) * fraction)], zstd_path)


def test_tar_cut_at_a_member_boundary_is_incomplete(tmp_path: Path, zstd_path: str) -> None:
    # tarfile itself ends quietly when the data stops between two members;
    # without the end-of-archive marker the runtime may be missing files.
    def build(tf: tarfile.TarFile) -> None:
        add_file(tf, "a", b"x" * 512)
        add_file(tf, "b", b"y" * 512)

    tar = tar_bytes(build)
    cut = tar[: 512 + 512]  # header and data of "a" only
    error = _assert_invalid(tmp_path, zstd(cut), zstd_path)
    assert "end-of-archive marker" in error.cause


def test_not_a_zstd_file(tmp_path: Path, zstd_path: str) -> None:
    _assert_invalid(tmp_path, b"<html>Not Found</html>" * 10, zstd_path)


def test_zstd_but_not_tar(tmp_path: Path, zstd_path: str) -> None:
    _assert_invalid(tmp_path, zstd(os.urandom(4096)), zstd_path)


def test_empty_file(tmp_path: Path, zstd_path: str) -> None:
    _assert_invalid(tmp_path, b"", zstd_path)


# --- errors from the network are not "invalid archive" -----------------------------------


class BreakingStream(io.RawIOBase):
    """A source that fails like a dropped connection after ``limit`` bytes."""

    def __init__(self, data: bytes, limit: int) -> None:
        self._data = io.BytesIO(data)
        self._limit = limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._data.tell() >= self._limit:
            raise ConnectionResetError("connection reset by peer")
        return self._data.read(min(size if size >= 0 else self._limit, 4096))


def test_source_errors_propagate_unchanged(tmp_path: Path, zstd_path: str) -> None:
    data = zstd(small_runtime_tar(os.urandom(200_000)))
    stream = BreakingStream(data, limit=len(data) // 2)
    with (
        pytest.raises(ConnectionResetError),
        open_zstd_reader(
            stream,  # type: ignore[arg-type]
            force_tool=zstd_path == "tool",
        ) as reader,
    ):
        extract_tar_stream(reader, tmp_path / "python", source=SOURCE)
    assert leftovers(tmp_path) == []


# --- odd headers: invalid, never a traceback or a memory blow-up -------------------------


def _raw_member(name: str, kind: bytes, size: int, *, fmt: int = tarfile.GNU_FORMAT) -> bytes:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = size
    info.mtime = MTIME
    return info.tobuf(format=fmt)


def _pax_member(headers: dict[str, str], data: bytes = b"x") -> bytes:
    info = tarfile.TarInfo("f")
    info.size = len(data)
    info.mtime = MTIME
    info.pax_headers = headers
    pad = -len(data) % tarfile.BLOCKSIZE
    return info.tobuf(format=tarfile.PAX_FORMAT) + data + bytes(pad)


def _end() -> bytes:
    return bytes(2 * tarfile.BLOCKSIZE)


def _long_header_archive(kind: bytes) -> bytes:
    # A header record declaring 2 MiB with 2 MiB behind it (zeros compress to nothing).
    size = 2 * 1024 * 1024
    return _raw_member("././@LongLink", kind, size) + bytes(size) + _pax_member({}) + _end()


@pytest.mark.parametrize(
    ("case", "tar", "problem"),
    [
        pytest.param(*case, id=case[0])
        for case in [
            ("long-name", _long_header_archive(tarfile.GNUTYPE_LONGNAME), "a long-name header"),
            ("long-link", _long_header_archive(tarfile.GNUTYPE_LONGLINK), "a long-link header"),
            ("pax", _long_header_archive(tarfile.XHDTYPE), "a pax header"),
            ("pax-global", _long_header_archive(tarfile.XGLTYPE), "a pax global header"),
            ("pax-chain", _raw_member("p", tarfile.XGLTYPE, 0) * 20 + _end(), "header records"),
            ("mtime-1e30", _pax_member({"mtime": "1e30"}) + _end(), "impossible modification time"),
            ("mtime-nan", _pax_member({"mtime": "nan"}) + _end(), "impossible modification time"),
            (
                "mtime-negative",
                _pax_member({"mtime": "-5"}) + _end(),
                "impossible modification time",
            ),
            ("name-300", _pax_member({"path": "n" * 300}) + _end(), "longer than file names"),
            ("path-5000", _pax_member({"path": "d/" * 2500 + "f"}) + _end(), "longer than paths"),
            ("link-300", _pax_member({"linkpath": "l" * 300}) + _end(), "longer than file names"),
            ("unknown-type", _raw_member("odd", b"Z", 0) + _end(), "unknown tar member type"),
        ]
    ],
)
def test_odd_headers_are_an_invalid_archive(
    tmp_path: Path, case: str, tar: bytes, problem: str
) -> None:
    error = _assert_invalid(tmp_path, zstd(tar), "module")
    assert problem in error.cause, error.cause
    assert error.title == "The Python runtime archive is invalid"


_EXTRACT_AND_REPORT = """
import resource, subprocess, sys
extract = '''
import sys
from pathlib import Path
from buildpack.core import errors
from buildpack.runtime.extract import extract_tar_stream
from buildpack.runtime.zstd_stream import open_zstd_reader
with open(sys.argv[1], "rb") as f, open_zstd_reader(f) as reader:
    try:
        extract_tar_stream(reader, Path(sys.argv[2]), source="test")
    except errors.BuildError as exc:
        print(exc.reason, exc.cause)
'''
child = subprocess.run(
    [sys.executable, "-c", extract, *sys.argv[1:]], capture_output=True, text=True
)
print(child.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(child.stdout + child.stderr)
"""


def test_a_512_mib_long_name_fails_without_reading_it(tmp_path: Path) -> None:
    """tarfile would read the whole declared name into memory (and decode it):
    gigabytes from an archive of a few kilobytes."""
    size = 512 * 1024 * 1024
    archive = tmp_path / "bomb.tar.zst"
    compressor = zstandard.ZstdCompressor(level=1)
    with open(archive, "wb") as f, compressor.stream_writer(f, closefd=False) as w:
        w.write(_raw_member("././@LongLink", tarfile.GNUTYPE_LONGNAME, size))
        chunk = bytes(8 * 1024 * 1024)
        for _ in range(size // len(chunk)):
            w.write(chunk)
        w.write(_pax_member({}) + _end())
    assert archive.stat().st_size < 256 * 1024
    # Run in a process of its own, so that its peak memory is its alone.
    result = subprocess.run(
        [sys.executable, "-c", _EXTRACT_AND_REPORT, str(archive), str(tmp_path / "python")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    returncode, max_rss_kib, output = result.stdout.split("\n", 2)
    assert returncode == "0", output
    assert "install-python::invalid-archive" in output
    assert "a long-name header declares 536870912 bytes" in output
    assert int(max_rss_kib) < 200 * 1024, f"peak memory {int(max_rss_kib) // 1024} MiB"
    assert leftovers(tmp_path) == ["bomb.tar.zst"]


def test_the_zstd_tools_output_pipe_holds_a_megabyte() -> None:
    """So that the tool decompresses ahead while files are written
    (zstd_stream._widen; its input pipe, closed as soon as this small
    archive is fed, is widened the same way)."""
    allowed = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    with open_zstd_reader(io.BytesIO(zstd(small_runtime_tar())), force_tool=True) as reader:
        stdout = reader._source._proc.stdout  # type: ignore[attr-defined]
        size = fcntl.fcntl(stdout.fileno(), fcntl.F_GETPIPE_SZ)
        reader.read()
    assert size == min(1024 * 1024, allowed)
