"""tools/build-runtime's failures, each clear and early: a bad version, a
remote source without a checksum, a checksum mismatch, a tarball of another
version, a missing build dependency, a failing configure. The sources are
small made-up CPython trees (a real build is the end-to-end suite's, see
tests/support/source_runtime.py); remote ones come from a loopback server."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.support.builds import ROOT, require_namespaces
from tests.support.fault_server import FaultServer

TOOL = ROOT / "tools" / "build-runtime"


def fake_source(dest: Path, version: str, *, configure: str = "exit 0") -> Path:
    """Python-X.Y.Z.tar.xz holding Include/patchlevel.h and a configure script."""
    tarball = dest / f"Python-{version}.tar.xz"
    with tarfile.open(tarball, "w:xz") as tf:
        for name, data, mode in (
            ("Include/patchlevel.h", f'#define PY_VERSION "{version}"\n', 0o644),
            ("configure", f"#!/bin/sh\necho checking the fake\n{configure}\n", 0o755),
        ):
            info = tarfile.TarInfo(f"Python-{version}/{name}")
            info.size, info.mode = len(data), mode
            tf.addfile(info, io.BytesIO(data.encode()))
    return tarball


def build(*args: str, cwd: Path, env: dict[str, str] | None = None, prefix: list[str] = ()):
    return subprocess.run(
        [*prefix, str(TOOL), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def assert_clear_error(result: subprocess.CompletedProcess[str], text: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "build-runtime: error: " in result.stderr
    assert text in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("3.13", "'3.13' is not a full Python release version such as 3.13.1"),
        ("3.13.0rc1", "is not a full Python release version"),
        ("3.9.18", "Python 3.9 is not one of the minors this tool knows"),
    ],
)
def test_unknown_version_formats(tmp_path: Path, version: str, message: str) -> None:
    result = build(version, "--source", "x.tgz", "--dest", "mirror", cwd=tmp_path)
    assert_clear_error(result, message)
    assert result.stdout == ""  # refused before any phase


def test_a_remote_source_needs_its_checksum(tmp_path: Path) -> None:
    result = build(
        "3.13.15",
        "--source",
        "https://example.invalid/Python-3.13.15.tgz",
        "--dest",
        "m",
        cwd=tmp_path,
    )
    assert_clear_error(result, "give its SHA-256 with --sha256")


def test_a_local_source_with_the_wrong_checksum(tmp_path: Path) -> None:
    tarball = fake_source(tmp_path, "3.13.15")
    result = build(
        "3.13.15", "--source", str(tarball), "--sha256", "0" * 64, "--dest", "m", cwd=tmp_path
    )
    actual = hashlib.sha256(tarball.read_bytes()).hexdigest()
    assert_clear_error(result, f"has SHA-256 {actual}, not the {'0' * 64} given with --sha256")
    assert "-----> Getting the source" in result.stdout
    assert not (tmp_path / "m").exists()


def test_a_remote_source_is_downloaded_checked_and_unpacked(tmp_path: Path) -> None:
    """Served on loopback: the right checksum passes, and the tree is then
    found to be another release than asked for."""
    served = tmp_path / "served"
    served.mkdir()
    tarball = fake_source(served, "3.13.14")
    digest = hashlib.sha256(tarball.read_bytes()).hexdigest()
    work = tmp_path / "work"
    work.mkdir()
    with FaultServer(served) as server:
        url = f"{server.url}/{tarball.name}"
        wrong = build(
            "3.13.15",
            "--source",
            url,
            "--sha256",
            "f" * 64,
            "--dest",
            "m",
            "--work-dir",
            str(work),
            cwd=tmp_path,
        )
        right = build(
            "3.13.15",
            "--source",
            url,
            "--sha256",
            digest.upper(),
            "--dest",
            "m",
            "--work-dir",
            str(work),
            cwd=tmp_path,
        )
        assert server.hits[f"/{tarball.name}"] == 2
    assert_clear_error(wrong, f"has SHA-256 {digest}")
    assert_clear_error(right, "is the source of Python 3.13.14, not 3.13.15")
    # Each phase is printed with its duration.
    assert "-----> Getting the source\n" in right.stdout
    assert "       Getting the source: " in right.stdout
    assert "-----> Unpacking the source\n" in right.stdout
    assert list(work.iterdir()) == []  # nothing built, nothing kept


def test_a_failing_configure_shows_its_last_lines_and_keeps_the_log(tmp_path: Path) -> None:
    tarball = fake_source(
        tmp_path, "3.13.15", configure="echo 'configure: error: no C compiler'; exit 77"
    )
    work = tmp_path / "work"
    work.mkdir()
    result = build(
        "3.13.15", "--source", str(tarball), "--dest", "m", "--work-dir", str(work), cwd=tmp_path
    )
    assert_clear_error(result, "configure failed with exit status 77")
    assert "configure: error: no C compiler" in result.stderr
    [kept] = work.iterdir()
    assert "configure: error: no C compiler" in (kept / "build.log").read_text()
    assert f"The work directory is kept for a look: {kept}" in result.stdout


def test_no_compiler_names_the_packages(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "nothing-here"), "HOME": str(tmp_path)}
    result = build(
        "3.13.15",
        "--source",
        "x.tgz",
        "--dest",
        "m",
        cwd=tmp_path,
        env=env,
        prefix=[sys.executable],
    )
    assert_clear_error(result, "the machine lacks what building CPython needs. Install it with:")
    assert "apt-get install build-essential pkg-config dpkg-dev libssl-dev" in result.stderr


def test_a_missing_header_names_its_package(tmp_path: Path) -> None:
    """OpenSSL's headers hidden by an empty tmpfs in a private mount namespace."""
    require_namespaces()
    if not Path("/usr/include/openssl").is_dir():
        pytest.skip("OpenSSL's headers are not installed here")
    script = f'mount -t tmpfs tmpfs /usr/include/openssl && exec "{TOOL}" "$@"'
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
         "3.13.15", "--source", "x.tgz", "--dest", "m"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert_clear_error(result, "Install it with:\n  apt-get install libssl-dev\n")
