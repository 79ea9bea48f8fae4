"""A misbehaving runtime mirror, end to end through bin/compile.

Each test runs a real build in a mount namespace against its own FaultServer
over the packed runtime (so faults never leak into other tests), then checks
the outcome the user sees (exit status, message, retry lines, no traceback)
and what is left behind: the app's files in BUILD_DIR byte-identical, no
half-extracted runtime, nothing written outside the build's directories.

Timeouts and retries are made small with BUILDPACK_DOWNLOAD_* variables, so
the stalled transfer is measured against the configured read timeout, not
against this machine's speed. download.py's unit tests cover the same faults
for both transports and both zstd decompressors.

The builds start from a warm cache (the buildpack's own libraries are there,
so the download uses them), and the stall, reset and corrupt cases also from
a cold one: a first build on a pip-less host, whose python3 can import
neither requests nor zstandard, downloads with urllib and the zstd tool
while it fetches those libraries.
"""

from __future__ import annotations

import hashlib
import socket
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.archives import add_dir, add_file, add_symlink, tar_bytes, zstd
from tests.support.builds import BuildResult, assert_clean_failure, read_report
from tests.support.fault_server import Fault, FaultServer
from tests.support.runtime_mirror import RuntimeArchive
from tests.support.sandbox import CHECK_AND_FINGERPRINT, FINGERPRINT, Sandbox

pytestmark = pytest.mark.e2e

# Quick retries; a read timeout short enough to wait for, long enough for loopback.
FAST_RETRIES = {
    "BUILDPACK_DOWNLOAD_RETRIES": "3",
    "BUILDPACK_DOWNLOAD_BACKOFF": "0.05",
    "BUILDPACK_DOWNLOAD_READ_TIMEOUT": "5",
}


@pytest.fixture
def mirror(runtime_archive: RuntimeArchive) -> Iterator[FaultServer]:
    """This test's own mirror over the packed runtime; its faults end with the test."""
    with FaultServer(runtime_archive.dir) as server:
        yield server


@pytest.fixture
def cache_kind() -> str:
    """The cache a build starts from; BOTH_CACHES runs a test with each."""
    return "warm"


# Cold and warm: the two ways the runtime is downloaded and decompressed.
BOTH_CACHES = pytest.mark.parametrize("cache_kind", ["cold", "warm"])
# How each downloads the runtime (the report's python_download_transport).
TRANSPORT = {"cold": "urllib", "warm": "requests"}


@pytest.fixture
def box(
    tmp_path: Path,
    runtime_archive: RuntimeArchive,
    request: pytest.FixtureRequest,
    cache_kind: str,
) -> Sandbox:
    """The build's directories, on a warm cache or an empty one."""
    cache_from = request.getfixturevalue("warm_cache") if cache_kind == "warm" else None
    box = Sandbox.create(tmp_path, python_version=runtime_archive.version, cache_from=cache_from)
    has_deps = bool(list(box.cache.glob(".heroku/buildpack-deps/*/.complete")))
    assert has_deps == (cache_kind == "warm")
    return box


def archive_path(runtime_archive: RuntimeArchive) -> str:
    return "/" + runtime_archive.name


def retry_lines(result: BuildResult) -> list[str]:
    return [line for line in result.stdout.splitlines() if "retrying in" in line]


def serve_instead(server: FaultServer, runtime_archive: RuntimeArchive, data: bytes) -> None:
    """The mirror serves ``data`` as the archive, with a .sha256 that matches it."""
    path = archive_path(runtime_archive)
    digest = hashlib.sha256(data).hexdigest()
    server.add(path, Fault("body", body=data, times=None))
    server.add(
        path + ".sha256",
        Fault("body", body=f"{digest}  {runtime_archive.name}\n".encode(), times=None),
    )


def assert_failed_cleanly(box: Sandbox, result: BuildResult, message: str) -> None:
    assert result.returncode == 1, result.log
    assert_clean_failure(result, message)
    box.assert_app_untouched()
    box.assert_no_runtime_left()
    box.assert_nothing_written_outside()


# --- faults the build survives ------------------------------------------------------


def test_two_503s_then_200_builds_an_app_that_serves(
    box: Sandbox, mirror: FaultServer, runtime_archive: RuntimeArchive
) -> None:
    path = archive_path(runtime_archive)
    mirror.add(path, Fault("status", status=503, times=2))
    result = box.build(
        box.env(BUILDPACK_S3_BASE_URL=mirror.url, **FAST_RETRIES), CHECK_AND_FINGERPRINT
    )
    assert result.returncode == 0, result.log
    lines = retry_lines(result)
    assert len(lines) == 2, result.log
    assert all("the server answered HTTP 503" in line for line in lines), lines
    assert mirror.hits[path] == 3
    assert read_report(box.cache)["python_download_transport"] == "requests"
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert "Traceback" not in result.log
    box.assert_relocated_app_untouched(result)
    box.assert_nothing_written_outside()


@BOTH_CACHES
def test_connection_reset_mid_body_is_retried(
    box: Sandbox, mirror: FaultServer, runtime_archive: RuntimeArchive, cache_kind: str
) -> None:
    path = archive_path(runtime_archive)
    mirror.add(path, Fault("reset", after=4 * 1024 * 1024))
    result = box.build(box.env(BUILDPACK_S3_BASE_URL=mirror.url, **FAST_RETRIES), FINGERPRINT)
    assert result.returncode == 0, result.log
    lines = retry_lines(result)
    assert len(lines) == 1, result.log
    assert "connection" in lines[0], lines
    assert mirror.hits[path] == 2
    assert read_report(box.cache)["python_download_transport"] == TRANSPORT[cache_kind]
    assert "Traceback" not in result.log
    box.assert_relocated_app_untouched(result)
    box.assert_nothing_written_outside()


def test_a_moved_mirror_is_followed_through_redirects(
    box: Sandbox, mirror: FaultServer, runtime_archive: RuntimeArchive
) -> None:
    path = archive_path(runtime_archive)
    for name in (path, path + ".sha256"):
        mirror.add("/old" + name, Fault("redirect", status=301, location=name, times=None))
    env = box.env(BUILDPACK_S3_BASE_URL=mirror.url + "/old", **FAST_RETRIES)
    result = box.build(env, FINGERPRINT)
    assert result.returncode == 0, result.log
    assert mirror.hits["/old" + path] == 1
    assert mirror.hits[path] == 1
    assert mirror.hits[path + ".sha256"] == 1
    assert "Traceback" not in result.log
    box.assert_relocated_app_untouched(result)


# --- faults that end the build, cleanly ---------------------------------------------------


@BOTH_CACHES
def test_stalled_transfer_fails_after_the_configured_read_timeout(
    box: Sandbox, mirror: FaultServer, runtime_archive: RuntimeArchive
) -> None:
    path = archive_path(runtime_archive)
    # The server stalls until the test ends. With one retry there are two
    # requests whatever the machine's load, and the last one timed out.
    mirror.add(path, Fault("stall", after=1024 * 1024, times=None))
    env = box.env(
        BUILDPACK_S3_BASE_URL=mirror.url,
        BUILDPACK_DOWNLOAD_READ_TIMEOUT="1",
        BUILDPACK_DOWNLOAD_RETRIES="1",
        BUILDPACK_DOWNLOAD_BACKOFF="0.05",
    )
    result = box.compile(env)
    assert_failed_cleanly(box, result, "Could not download the Python runtime")
    assert "no data arrived for 1 seconds (tried 2 times)" in result.stderr, result.log
    assert len(retry_lines(result)) == 1
    assert mirror.hits[path] == 2


def test_unreachable_mirror(box: Sandbox, runtime_archive: RuntimeArchive) -> None:
    # Bound and never listening, held for the whole build: connecting is
    # refused, and no other process can take the port meanwhile.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        env = box.env(BUILDPACK_S3_BASE_URL=f"http://127.0.0.1:{port}", **FAST_RETRIES)
        result = box.compile(env)
    assert_failed_cleanly(box, result, "Could not download the Python runtime")
    assert "connection refused (tried 4 times)" in result.stderr, result.log
    assert len(retry_lines(result)) == 3


@pytest.mark.parametrize("status", [403, 404])
def test_missing_archive_is_reported_as_an_unavailable_version(
    box: Sandbox, mirror: FaultServer, runtime_archive: RuntimeArchive, status: int
) -> None:
    path = archive_path(runtime_archive)
    mirror.add(path, Fault("status", status=status, times=None))
    result = box.compile(box.env(BUILDPACK_S3_BASE_URL=mirror.url, **FAST_RETRIES))
    assert_failed_cleanly(box, result, f"Python {runtime_archive.version} is not available")
    assert f"HTTP {status}" in result.stderr
    assert "network" not in result.stderr.lower()
    assert retry_lines(result) == []
    assert mirror.hits[path] == 1


def test_truncated_archive(
    box: Sandbox, mirror: FaultServer, runtime_archive: RuntimeArchive
) -> None:
    # A bad upload: the file is cut, its Content-Length and .sha256 agree with the cut.
    data = runtime_archive.path.read_bytes()
    serve_instead(mirror, runtime_archive, data[: len(data) // 2])
    result = box.compile(box.env(BUILDPACK_S3_BASE_URL=mirror.url, **FAST_RETRIES))
    assert_failed_cleanly(box, result, "The Python runtime archive is invalid")
    assert retry_lines(result) == []


@BOTH_CACHES
def test_corrupt_zstd_frame(
    box: Sandbox, mirror: FaultServer, runtime_archive: RuntimeArchive
) -> None:
    data = bytearray(runtime_archive.path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    serve_instead(mirror, runtime_archive, bytes(data))
    result = box.compile(box.env(BUILDPACK_S3_BASE_URL=mirror.url, **FAST_RETRIES))
    assert_failed_cleanly(box, result, "The Python runtime archive is invalid")
    assert "zstd data is corrupt" in result.stderr, result.log


def test_wrong_sha256(box: Sandbox, mirror: FaultServer, runtime_archive: RuntimeArchive) -> None:
    path = archive_path(runtime_archive)
    mirror.add(path + ".sha256", Fault("body", body=b"0" * 64 + b"\n", times=None))
    result = box.compile(box.env(BUILDPACK_S3_BASE_URL=mirror.url, **FAST_RETRIES))
    assert_failed_cleanly(box, result, "The Python runtime archive failed its checksum")
    assert "0" * 64 in result.stderr
    assert mirror.hits[path] == 1  # a mismatch is not retried


def _hostile_archive(kind: str, outside: Path) -> bytes:
    def build(tf: tarfile.TarFile) -> None:
        add_dir(tf, "bin")
        add_file(tf, "bin/python", b"#!/bin/sh\n", mode=0o755)
        if kind == "dotdot":
            # From BUILD_DIR/.heroku/.python.partial-X, three levels up is the
            # directory holding BUILD_DIR: where the file would land.
            add_file(tf, "../../../escaped.txt", b"escaped")
        elif kind == "absolute":
            add_file(tf, str(outside / "escaped.txt"), b"escaped")
        else:  # a link out of the archive, then a file written through it
            add_symlink(tf, "lib", "../../..")
            add_file(tf, "lib/escaped.txt", b"escaped")

    return zstd(tar_bytes(build))


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("dotdot", "has a '..' component"),
        ("absolute", "has the absolute path"),
        ("symlink", "is a link pointing outside the archive"),
    ],
    ids=["dotdot", "absolute", "symlink"],
)
def test_archive_with_a_path_traversal_entry_is_refused(
    box: Sandbox,
    mirror: FaultServer,
    runtime_archive: RuntimeArchive,
    kind: str,
    problem: str,
) -> None:
    serve_instead(mirror, runtime_archive, _hostile_archive(kind, box.root))
    result = box.compile(box.env(BUILDPACK_S3_BASE_URL=mirror.url, **FAST_RETRIES))
    assert_failed_cleanly(box, result, "The Python runtime archive is unsafe")
    assert problem in result.stderr, result.log
    assert "Nothing from it was installed" in result.stderr
    assert not (box.root / "escaped.txt").exists()
    assert not list(box.root.rglob("escaped.txt"))


# --- a mirror or an index that trickles ---------------------------------------------------
# Headers, then a byte every half second: within the read timeout, so only the
# time budget ends the download. The test releases the trickle when the build
# is over, so no server thread is left waiting on a client that is gone.


def test_a_trickling_mirror_fails_within_the_configured_budget(
    box: Sandbox, mirror: FaultServer, runtime_archive: RuntimeArchive
) -> None:
    path = archive_path(runtime_archive)
    trickle = Fault("trickle", after=64 * 1024, interval=0.5, times=None)
    mirror.add(path, trickle)
    # As a Heroku app sets it: 1.5 s an attempt, no retry after 1.5 s.
    (box.env_dir / "CURL_TIMEOUT").write_text("1.5")
    try:
        result = box.compile(box.env(BUILDPACK_S3_BASE_URL=mirror.url, **FAST_RETRIES))
    finally:
        trickle.release.set()
    assert_failed_cleanly(box, result, "The runtime mirror is too slow")
    assert "the mirror is too slow: the download did not finish in the time allowed" in (
        result.stderr
    ), result.log
    assert "(1.5 seconds per attempt, 3 seconds in all; tried 2 times)" in result.stderr
    assert len(retry_lines(result)) == 1
    assert mirror.hits[path] == 2
    assert read_report(box.cache)["failure_reason"] == "install-python::too-slow"


def test_a_trickling_index_fails_the_build_within_the_budget(
    box: Sandbox, tmp_path_factory: pytest.TempPathFactory, file_mirror_url: str
) -> None:
    """The pinned pip's index page trickles. pip, the usual fallback when the
    index cannot be used, would wait on the same index: the build stops."""
    page = "/simple/pip/"
    trickle = Fault("trickle", body=b"<html>" + b" " * 10_000, after=10, interval=0.5, times=None)
    with FaultServer(tmp_path_factory.mktemp("trickling-index")) as index:
        index.add(page, trickle)
        env = box.env(
            # A file:// mirror for the runtime: only the index is slow.
            BUILDPACK_S3_BASE_URL=file_mirror_url,
            PIP_INDEX_URL=index.url + "/simple",
            BUILDPACK_DOWNLOAD_TIMEOUT="1.5",
            BUILDPACK_DOWNLOAD_TOTAL_TIMEOUT="1.5",
        )
        try:
            result = box.compile(env)
        finally:
            trickle.release.set()
    assert result.returncode == 1, result.log
    assert_clean_failure(result, "The package index is too slow")
    assert page in result.stderr and "the mirror is too slow" in result.stderr, result.log
    assert "using the bundled pip" not in result.stdout
    assert index.hits[page] == 1
    assert read_report(box.cache)["failure_reason"] == "install-package-manager::index-too-slow"
    box.assert_app_untouched()
    box.assert_nothing_written_outside()
