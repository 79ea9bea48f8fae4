"""Runtime downloads against a real loopback server that misbehaves on purpose."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildpack.core import errors
from buildpack.core.output import Output
from buildpack.core.report import Report
from buildpack.runtime import download, transport_policy
from tests.support.archives import small_runtime_tar, write_with_sha256, zstd
from tests.support.fault_server import Fault, FaultServer
from tests.support.tls import self_signed_cert

NAME = "python-3.13.1-ubuntu-24.04-amd64.tar.zst"
PATH = f"/{NAME}"
# Big enough that "mid-body" faults happen with most of the body unsent.
PAYLOAD = 400_000


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write_with_sha256(mirror / NAME, zstd(small_runtime_tar(os.urandom(PAYLOAD))))
    return mirror


@pytest.fixture
def server(mirror: Path) -> Iterator[FaultServer]:
    with FaultServer(mirror) as server:
        yield server


@pytest.fixture(params=["requests", "urllib"])
def transport(request: pytest.FixtureRequest) -> str:
    """Both transports: requests, and urllib for hosts where requests is not installed yet."""
    return request.param


class Log:
    def __init__(self) -> None:
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.out = Output(self.stdout, self.stderr)

    def retry_lines(self) -> list[str]:
        return [line for line in self.stdout.getvalue().splitlines() if "retrying in" in line]


def fetch(
    url: str, dest: Path, log: Log | None = None, *, read_timeout: float = 5, **kwargs: object
) -> None:
    options: dict[str, object] = {
        "connect_timeout": 2,
        "read_timeout": read_timeout,
        "retries": 3,
        "backoff": 0.01,
        "out": (log or Log()).out,
    }
    options.update(kwargs)
    download.download_and_extract(url, dest, **options)  # type: ignore[arg-type]


def assert_installed(dest: Path) -> None:
    assert (dest / "bin/python3").read_bytes().startswith(b"#!/bin/sh")
    assert (dest / "lib/payload.bin").stat().st_size == PAYLOAD


def assert_nothing_installed(dest: Path) -> None:
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir()] == []


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    parent = tmp_path / "build" / ".heroku"
    parent.mkdir(parents=True)
    return parent / "python"


# --- retries -------------------------------------------------------------------------------


def test_two_503s_then_success(server: FaultServer, dest: Path, transport: str) -> None:
    server.add(PATH, Fault("status", status=503, times=2))
    log = Log()
    fetch(server.url + PATH, dest, log, transport=transport)
    assert_installed(dest)
    assert server.hits[PATH] == 3
    lines = log.retry_lines()
    assert len(lines) == 2
    assert all("HTTP 503" in line for line in lines)
    assert lines[0].startswith("       Download failed")


def test_429_and_500_are_retried(server: FaultServer, dest: Path) -> None:
    server.add(PATH, Fault("status", status=429))
    server.add(PATH, Fault("status", status=500))
    fetch(server.url + PATH, dest)
    assert_installed(dest)
    assert server.hits[PATH] == 3


def test_permanent_500_gives_up_after_the_retries(server: FaultServer, dest: Path) -> None:
    server.add(PATH, Fault("status", status=500, times=None))
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest, retries=2)
    assert info.value.reason == "install-python::download"
    assert "HTTP 500" in info.value.cause
    assert "tried 3 times" in info.value.cause
    assert server.hits[PATH] == 3
    assert_nothing_installed(dest)


@pytest.mark.parametrize("zstd_path", ["module", "tool"])
def test_reset_mid_body_is_retried_from_scratch(
    server: FaultServer, dest: Path, transport: str, zstd_path: str
) -> None:
    server.add(PATH, Fault("reset", after=100_000))
    log = Log()
    fetch(server.url + PATH, dest, log, transport=transport, force_zstd_tool=zstd_path == "tool")
    assert_installed(dest)
    assert server.hits[PATH] == 2
    assert len(log.retry_lines()) == 1
    assert [p.name for p in dest.parent.iterdir()] == ["python"]


def test_short_body_is_retried(server: FaultServer, dest: Path, transport: str) -> None:
    # The connection closes normally, but before Content-Length bytes arrived.
    server.add(PATH, Fault("truncate", after=100_000))
    log = Log()
    fetch(server.url + PATH, dest, log, transport=transport)
    assert_installed(dest)
    assert server.hits[PATH] == 2
    assert len(log.retry_lines()) == 1


@pytest.mark.parametrize("zstd_path", ["module", "tool"])
def test_stall_mid_body_fails_with_a_clear_error(
    server: FaultServer, dest: Path, transport: str, zstd_path: str
) -> None:
    # The server stalls until the test ends. With one retry there are two
    # requests whatever the machine's load, and the last one timed out.
    server.add(PATH, Fault("stall", after=100_000, times=None))
    log = Log()
    with pytest.raises(errors.BuildError) as info:
        fetch(
            server.url + PATH,
            dest,
            log,
            read_timeout=0.5,
            retries=1,
            transport=transport,
            force_zstd_tool=zstd_path == "tool",
        )
    assert info.value.reason == "install-python::download"
    assert "no data arrived for 0.5 seconds" in info.value.cause
    assert server.hits[PATH] == 2
    assert len(log.retry_lines()) == 1
    assert_nothing_installed(dest)


def test_stall_once_then_success(server: FaultServer, dest: Path) -> None:
    server.add(PATH, Fault("stall", after=100_000))
    log = Log()
    # Long enough that the request after the stall cannot time out on a loaded machine.
    fetch(server.url + PATH, dest, log, read_timeout=3)
    assert_installed(dest)
    assert server.hits[PATH] == 2
    [retry] = log.retry_lines()
    assert "no data arrived for 3 seconds" in retry, retry


def test_unreachable_port(dest: Path, transport: str) -> None:
    log = Log()
    # Bound and never listening, held for the whole download: connecting is
    # refused, and no other process can take the port meanwhile.
    with socket.socket() as sock, pytest.raises(errors.BuildError) as info:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        fetch(f"http://127.0.0.1:{port}{PATH}", dest, log, retries=1, transport=transport)
    assert info.value.reason == "install-python::download"
    assert "connection refused" in info.value.cause
    assert len(log.retry_lines()) == 1
    assert_nothing_installed(dest)


# --- missing archives ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404])
def test_missing_archive_is_not_available_and_not_retried(
    server: FaultServer, dest: Path, transport: str, status: int
) -> None:
    server.add(PATH, Fault("status", status=status, times=None))
    with pytest.raises(download.NotFound) as info:
        fetch(server.url + PATH, dest, transport=transport)
    assert info.value.status == status
    assert server.hits[PATH] == 1
    assert_nothing_installed(dest)


def test_missing_file_on_the_server(server: FaultServer, dest: Path) -> None:
    with pytest.raises(download.NotFound) as info:
        fetch(server.url + "/python-3.99.0-ubuntu-24.04-amd64.tar.zst", dest)
    assert info.value.status == 404


# --- checksums --------------------------------------------------------------------------------


def test_wrong_sha256_fails_and_installs_nothing(
    mirror: Path, server: FaultServer, dest: Path
) -> None:
    write_with_sha256(mirror / NAME, (mirror / NAME).read_bytes(), sha256="0" * 64)
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest)
    assert info.value.reason == "install-python::checksum-mismatch"
    assert "0" * 64 in info.value.cause
    assert server.hits[PATH] == 1  # a mismatch is not retried
    assert_nothing_installed(dest)


def test_wrong_sha256_served_by_the_mirror(server: FaultServer, dest: Path) -> None:
    server.add(PATH + ".sha256", Fault("body", body=b"f" * 64 + b"\n"))
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest)
    assert info.value.reason == "install-python::checksum-mismatch"
    assert_nothing_installed(dest)


def test_trailing_bytes_after_the_archive_count_in_the_checksum(
    mirror: Path, server: FaultServer, dest: Path
) -> None:
    good = (mirror / NAME).read_bytes()
    # The .sha256 says "good"; the mirror serves good + a zstd skippable frame,
    # which decompressors pass over: only the checksum notices the extra bytes.
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"junk"
    server.add(PATH, Fault("body", body=good + skippable, times=None))
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest)
    assert info.value.reason == "install-python::checksum-mismatch"
    assert_nothing_installed(dest)


def test_no_sha256_on_the_mirror_means_no_verification(
    mirror: Path, server: FaultServer, dest: Path
) -> None:
    (mirror / (NAME + ".sha256")).unlink()
    fetch(server.url + PATH, dest)
    assert_installed(dest)


def test_sha256_answering_403_means_no_verification(server: FaultServer, dest: Path) -> None:
    # S3 answers 403 for a missing key; Heroku's bucket publishes no checksums.
    server.add(PATH + ".sha256", Fault("status", status=403))
    fetch(server.url + PATH, dest)
    assert_installed(dest)


def test_sha256_file_errors_are_retried(server: FaultServer, dest: Path) -> None:
    server.add(PATH + ".sha256", Fault("status", status=503))
    log = Log()
    fetch(server.url + PATH, dest, log)
    assert_installed(dest)
    assert server.hits[PATH + ".sha256"] == 2
    assert len(log.retry_lines()) == 1


def test_unreadable_sha256_file(server: FaultServer, dest: Path) -> None:
    server.add(PATH + ".sha256", Fault("body", body=b"<html>oops</html>"))
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest)
    assert info.value.reason == "install-python::invalid-checksum-file"
    assert_nothing_installed(dest)


def test_verification_can_be_turned_off(server: FaultServer, dest: Path) -> None:
    server.add(PATH + ".sha256", Fault("body", body=b"f" * 64, times=None))
    fetch(server.url + PATH, dest, verify_sha256=False)
    assert_installed(dest)
    assert server.hits[PATH + ".sha256"] == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ab" * 32, "ab" * 32),
        ("AB" * 32 + "\n", "ab" * 32),
        ("ab" * 32 + "  python-3.13.1-ubuntu-24.04-amd64.tar.zst\n", "ab" * 32),
    ],
)
def test_parse_sha256(text: str, expected: str) -> None:
    assert download.parse_sha256(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "zz" * 32, "<html>" + "ab" * 32])
def test_parse_sha256_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        download.parse_sha256(text)


# --- corrupt archives, redirects, file:// -------------------------------------------------------


def test_corrupt_archive_is_invalid_and_not_retried(
    mirror: Path, server: FaultServer, dest: Path
) -> None:
    data = bytearray((mirror / NAME).read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    write_with_sha256(mirror / NAME, bytes(data))
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest)
    assert info.value.reason == "install-python::invalid-archive"
    assert server.hits[PATH] == 1
    assert_nothing_installed(dest)


def test_truncated_archive_file_is_invalid(mirror: Path, server: FaultServer, dest: Path) -> None:
    # The mirror serves a cut file with a matching Content-Length (a bad upload).
    data = (mirror / NAME).read_bytes()
    write_with_sha256(mirror / NAME, data[: len(data) // 2])
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest)
    assert info.value.reason == "install-python::invalid-archive"
    assert_nothing_installed(dest)


def test_redirect_is_followed(
    mirror: Path, server: FaultServer, dest: Path, transport: str
) -> None:
    (mirror / "moved").mkdir()
    (mirror / NAME).rename(mirror / "moved" / NAME)
    server.add(PATH, Fault("redirect", location=f"/moved/{NAME}", times=None))
    fetch(server.url + PATH, dest, transport=transport)
    assert_installed(dest)
    assert server.hits[f"/moved/{NAME}"] == 1


def test_file_url(mirror: Path, dest: Path) -> None:
    fetch((mirror / NAME).as_uri(), dest)
    assert_installed(dest)


def test_file_url_checks_the_sha256(mirror: Path, dest: Path) -> None:
    write_with_sha256(mirror / NAME, (mirror / NAME).read_bytes(), sha256="0" * 64)
    with pytest.raises(errors.BuildError) as info:
        fetch((mirror / NAME).as_uri(), dest)
    assert info.value.reason == "install-python::checksum-mismatch"
    assert_nothing_installed(dest)


def test_missing_file_url_is_not_available(mirror: Path, dest: Path) -> None:
    with pytest.raises(download.NotFound) as info:
        fetch((mirror / "python-3.99.0-ubuntu-24.04-amd64.tar.zst").as_uri(), dest)
    assert info.value.status == 404
    assert_nothing_installed(dest)


def test_unsupported_scheme(dest: Path) -> None:
    with pytest.raises(errors.BuildError) as info:
        fetch(f"ftp://127.0.0.1{PATH}", dest)
    assert info.value.reason == "install-python::invalid-url"


# --- fetch_stream ----------------------------------------------------------------------


def test_fetch_stream_reads_the_body(mirror: Path, server: FaultServer, transport: str) -> None:
    server.add(PATH, Fault("status", status=503))
    log = Log()
    with download.fetch_stream(
        server.url + PATH,
        connect_timeout=2,
        read_timeout=5,
        retries=2,
        backoff=0.01,
        out=log.out,
        transport=transport,  # type: ignore[arg-type]
    ) as response:
        assert response.status == 200
        response.raw.drain()
        assert response.raw.bytes_read == (mirror / NAME).stat().st_size
    assert len(log.retry_lines()) == 1


def test_fetch_stream_not_found(server: FaultServer) -> None:
    with (
        pytest.raises(download.NotFound),
        download.fetch_stream(
            server.url + "/nothing", connect_timeout=2, read_timeout=5, retries=2, backoff=0.01
        ),
    ):
        pass
    assert server.hits["/nothing"] == 1


# --- credentials and the transport policy ------------------------------------------------


def test_credentials_in_the_url_are_sent_as_basic_auth_and_never_printed(
    mirror: Path, dest: Path, transport: str
) -> None:
    """urllib read "user:password@host" as a host with a bad port; requests
    sent the credentials. Both must, and the log must not show them."""
    with FaultServer(mirror, credentials=("deploy", "s3cr@t/pw")) as server:
        server.add(PATH, Fault("status", status=503))
        host = server.url.removeprefix("http://")
        log = Log()
        fetch(f"http://deploy:s3cr%40t%2Fpw@{host}{PATH}", dest, log, transport=transport)
    assert_installed(dest)
    assert server.authorizations and set(server.authorizations) == {
        "Basic " + base64.b64encode(b"deploy:s3cr@t/pw").decode()
    }
    text = log.stdout.getvalue() + log.stderr.getvalue()
    assert "retrying" in text and "s3cr" not in text


def test_a_failure_with_credentials_shows_them_masked(mirror: Path, dest: Path) -> None:
    with FaultServer(mirror, credentials=("deploy", "hunter2")) as server:
        server.add(PATH, Fault("status", status=500, times=None))
        url = server.url.replace("http://", "http://deploy:hunter2@") + PATH
        log = Log()
        with pytest.raises(errors.BuildError) as info:
            fetch(url, dest, log, retries=1)
    log.out.error(info.value)
    report = Report()
    report.set("failure_detail", f"{info.value.cause} {info.value.detail}")
    shown = log.stdout.getvalue() + log.stderr.getvalue() + json.dumps(report.fields)
    assert "http://****@127.0.0.1:" in shown
    assert "hunter2" not in shown and "deploy:" not in shown


def test_credentials_are_not_sent_on_to_another_host(
    mirror: Path, dest: Path, transport: str
) -> None:
    with FaultServer(mirror) as elsewhere, FaultServer(mirror, credentials=("u", "pw")) as origin:
        origin.add(PATH, Fault("redirect", location=elsewhere.url + PATH))
        fetch(origin.url.replace("://", "://u:pw@") + PATH, dest, transport=transport)
    assert_installed(dest)
    assert origin.authorizations and not elsewhere.authorizations


@pytest.fixture
def https_mirror(mirror: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The mirror over https, its certificate trusted by both transports."""
    cert, key = self_signed_cert(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # urllib (OpenSSL's default paths)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    with FaultServer(mirror, tls=(cert, key)) as server:
        yield server


def test_an_https_mirror_works(https_mirror: FaultServer, dest: Path, transport: str) -> None:
    fetch(https_mirror.url + PATH, dest, transport=transport)
    assert_installed(dest)


def test_a_redirect_from_https_to_http_is_refused(
    https_mirror: FaultServer, mirror: Path, dest: Path, transport: str
) -> None:
    with FaultServer(mirror) as plain:
        https_mirror.add(PATH, Fault("redirect", location=plain.url + PATH, times=None))
        log = Log()
        with pytest.raises(errors.BuildError) as info:
            fetch(https_mirror.url + PATH, dest, log, transport=transport)
    assert info.value.reason == "install-python::download"
    assert "redirected from https to plain http" in info.value.cause
    assert plain.hits[PATH] == 0 and https_mirror.hits[PATH] == 1  # refused, not retried
    assert log.retry_lines() == []
    assert_nothing_installed(dest)


def test_a_redirect_to_another_scheme_is_refused(
    server: FaultServer, dest: Path, transport: str
) -> None:
    server.add(PATH, Fault("redirect", location=f"ftp://127.0.0.1{PATH}", times=None))
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest, transport=transport)
    assert "redirected to ftp://127.0.0.1" in info.value.cause
    assert "not an http(s) address" in info.value.cause
    assert_nothing_installed(dest)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LOCALHOST", True),
        ("127.0.0.1", True),
        ("127.255.3.4", True),
        ("::1", True),
        ("[::1]", True),
        ("127.evil.example", False),
        ("127.0.0.1.evil.example", False),
        ("localhost.evil.example", False),
        ("128.0.0.1", False),
        ("::2", False),
        ("", False),
    ],
)
def test_loopback_is_pips_rule_not_a_prefix(host: str, loopback: bool) -> None:
    assert transport_policy.is_loopback(host) is loopback


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        ("https://a.example/x", "https://b.example/y", True),
        ("https://a.example/x", "/y", True),
        ("http://a.example/x", "https://b.example/y", True),
        ("http://a.example/x", "http://b.example/y", True),
        ("https://a.example/x", "http://a.example/y", False),
        ("https://a.example/x", "//b.example/y", True),
        ("http://a.example/x", "ftp://a.example/y", False),
        ("http://a.example/x", "file:///etc/passwd", False),
    ],
)
def test_redirect_policy(source: str, target: str, allowed: bool) -> None:
    assert (transport_policy.redirect_problem(source, target) is None) is allowed


def test_split_credentials() -> None:
    bare, auth = transport_policy.split_credentials("https://u%40x:p%3Aw@h.example:8/s?q")
    assert bare == "https://h.example:8/s?q"
    assert auth == "Basic " + base64.b64encode(b"u@x:p:w").decode()
    assert transport_policy.split_credentials("https://h.example/s") == (
        "https://h.example/s",
        None,
    )
