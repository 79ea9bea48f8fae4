"""The extractor reads member data straight from the decompressor's chunks
(buildpack/runtime/forward_file.py): every boundary between chunks, members
and padding must give the same bytes, and every cut must be refused."""

from __future__ import annotations

import io
import os
import random
import tarfile
from pathlib import Path

import pytest

from buildpack.core import errors
from buildpack.runtime.extract import extract_tar_stream
from buildpack.runtime.forward_file import ForwardFile
from tests.support.archives import MTIME, add_dir, add_file, add_symlink, tar_bytes

MIB = 1024 * 1024
# Sizes on either side of the 512-byte blocks and of the 1 MiB chunks.
SIZES = [0, 1, 511, 512, 513, 10_240, MIB - 1, MIB, MIB + 1, 3 * MIB + 700]


class Dribble:
    """A decompressed stream that hands out pieces of random, small sizes."""

    def __init__(self, data: bytes, seed: int, largest: int) -> None:
        self._data = io.BytesIO(data)
        self._random = random.Random(seed)
        self._largest = largest

    def read(self, size: int = -1, /) -> bytes:
        wanted = self._random.randint(1, self._largest)
        return self._data.read(wanted if size < 0 else min(size, wanted))


def payloads() -> dict[str, bytes]:
    rng = random.Random(7)
    return {f"lib/f{size}.bin": rng.randbytes(size) for size in SIZES}


def runtime_like_tar() -> bytes:
    def build(tf: tarfile.TarFile) -> None:
        add_dir(tf, "lib")
        for name, data in payloads().items():
            add_file(tf, name, data)
        add_symlink(tf, "lib/last", "f0.bin")

    return tar_bytes(build)


@pytest.mark.parametrize(("seed", "largest"), [(1, 7), (2, 4096), (3, 3 * MIB)])
def test_every_member_is_byte_exact_whatever_the_chunk_sizes(
    tmp_path: Path, seed: int, largest: int
) -> None:
    dest = tmp_path / "python"
    extract_tar_stream(Dribble(runtime_like_tar(), seed, largest), dest, source="test://x")

    for name, data in payloads().items():
        assert (dest / name).read_bytes() == data, name
        assert (dest / name).stat().st_mtime == MTIME
    assert os.readlink(dest / "lib/last") == "f0.bin"


def _member_offsets(tar: bytes) -> list[tuple[str, int, int]]:
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        return [(m.name, m.offset_data, m.size) for m in tf if m.isreg() and m.size]


def _cuts(tar: bytes) -> list[int]:
    """Cuts inside a member's data, at its end, and inside its padding."""
    cuts = []
    for _name, start, size in _member_offsets(tar):
        end = start + size
        cuts += [start + size // 2, end]
        if size % 512:
            cuts.append(end + 1)
    return sorted({c for c in cuts if c < len(tar) - 1024})


def test_a_cut_anywhere_is_an_invalid_archive_and_leaves_nothing(tmp_path: Path) -> None:
    tar = runtime_like_tar()
    cuts = _cuts(tar)
    assert len(cuts) > 20
    for cut in cuts:
        dest = tmp_path / f"python-{cut}"
        with pytest.raises(errors.BuildError) as info:
            extract_tar_stream(Dribble(tar[:cut], cut, 5000), dest, source="test://x")
        assert info.value.reason == "install-python::invalid-archive", (cut, info.value.cause)
        assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_sparse_member_is_refused(tmp_path: Path) -> None:
    # CPython runtimes have no sparse files; their data would need expanding,
    # which writing the stored bytes straight to disk does not do.
    def build(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("lib/holes.bin")
        info.type = tarfile.GNUTYPE_SPARSE
        info.size = 512
        info.mtime = MTIME
        tf.addfile(info, io.BytesIO(bytes(512)))

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tf:
        build(tf)
    dest = tmp_path / "python"
    with pytest.raises(errors.BuildError) as info:
        extract_tar_stream(Dribble(buf.getvalue(), 1, 4096), dest, source="test://x")
    assert info.value.reason == "install-python::invalid-archive"
    assert "sparse" in info.value.cause
    assert not dest.exists()


def test_the_forward_file_reads_across_chunks_and_never_seeks_back() -> None:
    data = bytes(range(256)) * 20
    forward = ForwardFile(Dribble(data, 5, 3))
    assert forward.read(10) == data[:10]
    assert forward.seek(700) == 700
    assert forward.read(300) == data[700:1000]
    assert b"".join(bytes(v) for v in forward.chunks(1000)) == data[1000:2000]
    with pytest.raises(io.UnsupportedOperation):
        forward.seek(5)
    assert forward.read() == data[2000:]
    assert forward.read(1) == b""
    assert forward.tell() == len(data)
