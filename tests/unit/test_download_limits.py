"""Time budgets and the size cap of downloads, against a real loopback server.

The trickling mirror sends its headers, then one byte every 0.2 seconds: far
within the read timeout, so only the attempt's deadline can end the
transfer. Each trickle is released by the test when it is done, so no
server thread outlives the test. Budgets are a second or so, so that the
tests take seconds; what they check is which limit ended the download and
what the user is told, never how long it took.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildpack.core import errors
from buildpack.runtime import download_settings, limits
from buildpack.runtime.transports import TransientError
from buildpack.selfdeps import package_index
from buildpack.selfdeps.wheel_choice import Interpreter
from tests.support.archives import small_runtime_tar, write_with_sha256, zstd
from tests.support.fault_server import Fault, FaultServer
from tests.unit.ctx_factory import make_ctx
from tests.unit.test_download import (
    NAME,
    PATH,
    PAYLOAD,
    Log,
    assert_installed,
    assert_nothing_installed,
    fetch,
)

TRICKLE_SECONDS = 0.2


@pytest.fixture
def mirror(tmp_path: Path) -> Path:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    write_with_sha256(mirror / NAME, zstd(small_runtime_tar(os.urandom(PAYLOAD))))
    return mirror


@pytest.fixture
def trickle() -> Iterator[Fault]:
    """A trickle the test adds to its server; released when the test ends."""
    fault = Fault("trickle", after=1000, interval=TRICKLE_SECONDS, times=None)
    try:
        yield fault
    finally:
        fault.release.set()


@pytest.fixture
def server(mirror: Path, trickle: Fault) -> Iterator[FaultServer]:
    with FaultServer(mirror) as server:
        yield server
        trickle.release.set()  # before the server joins its threads


@pytest.fixture(params=["requests", "urllib"])
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    parent = tmp_path / "build" / ".heroku"
    parent.mkdir(parents=True)
    return parent / "python"


# --- a trickling mirror ---------------------------------------------------------------


@pytest.mark.parametrize("zstd_path", ["module", "tool"])
def test_a_trickling_archive_is_too_slow(
    server: FaultServer, trickle: Fault, dest: Path, transport: str, zstd_path: str
) -> None:
    """One attempt's deadline is the whole budget: no retry fits after it."""
    server.add(PATH, trickle)
    log = Log()
    with pytest.raises(errors.BuildError) as info:
        fetch(
            server.url + PATH,
            dest,
            log,
            transport=transport,
            force_zstd_tool=zstd_path == "tool",
            budget=limits.Budget(attempt=1, total=1),
        )
    err = info.value
    assert err.reason == "install-python::too-slow"
    assert err.title == "The runtime mirror is too slow"
    assert "the mirror is too slow" in err.cause
    assert "(1 seconds per attempt, 1 seconds in all; tried once)" in err.cause
    assert "CURL_TIMEOUT" in err.action
    assert server.hits[PATH] == 1
    assert log.retry_lines() == []
    assert_nothing_installed(dest)


def test_a_too_slow_attempt_is_retried_while_the_budget_lasts(
    server: FaultServer, trickle: Fault, dest: Path, transport: str
) -> None:
    server.add(PATH, trickle)
    log = Log()
    with pytest.raises(errors.BuildError) as info:
        fetch(
            server.url + PATH,
            dest,
            log,
            transport=transport,
            retries=1,
            budget=limits.Budget(attempt=0.5, total=30),
        )
    assert info.value.reason == "install-python::too-slow"
    assert "tried 2 times" in info.value.cause
    assert server.hits[PATH] == 2
    [line] = log.retry_lines()
    assert "the mirror is too slow: the download did not finish within 0.5 seconds" in line
    assert_nothing_installed(dest)


def test_a_trickle_once_then_a_good_transfer_installs(
    server: FaultServer, trickle: Fault, dest: Path
) -> None:
    trickle.times = 1
    server.add(PATH, trickle)
    fetch(server.url + PATH, dest, budget=limits.Budget(attempt=0.5, total=30))
    assert_installed(dest)
    assert server.hits[PATH] == 2


def test_a_trickling_checksum_file_is_too_slow(
    server: FaultServer, trickle: Fault, dest: Path
) -> None:
    trickle.after = 10
    server.add(PATH + ".sha256", trickle)
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest, budget=limits.Budget(attempt=0.5, total=0.5))
    assert info.value.reason == "install-python::too-slow"
    assert NAME + ".sha256" in info.value.cause
    assert server.hits[PATH] == 0
    assert_nothing_installed(dest)


def test_a_download_without_a_budget_waits_for_the_read_timeout_only(
    server: FaultServer, dest: Path
) -> None:
    """What the budget adds: a stall (no bytes at all) is the read timeout's."""
    server.add(PATH, Fault("stall", after=1000, times=None))
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest, read_timeout=0.5, retries=0)
    assert info.value.reason == "install-python::download"
    assert "no data arrived for 0.5 seconds" in info.value.cause


# --- the budget across retries, on a clock the test moves -------------------------------


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_clock_gives_each_attempt_its_time_but_never_past_the_budget() -> None:
    time = FakeTime()
    clock = limits.Clock(limits.Budget(attempt=60, total=100), now=time)
    assert clock.attempt_left() == 60
    time.now += 59
    clock.start_attempt()
    assert clock.attempt_left() == 41  # 100 - 59: the budget, not the attempt, ends it
    time.now += 50
    assert clock.attempt_left() == 0


def test_no_retry_starts_once_the_budget_would_be_spent() -> None:
    time = FakeTime()
    clock = limits.Clock(limits.Budget(attempt=10, total=10), now=time)
    failure = TransientError("http://m/a", "the server answered HTTP 503")
    assert limits.final_error(failure, clock, tries="once", delay=1, last=False) is None
    time.now += 9.5
    final = limits.final_error(failure, clock, tries="2 times", delay=1, last=False)
    assert final is not None and not isinstance(final, TransientError)
    assert final.problem == (
        "the server answered HTTP 503 (tried 2 times; the 10 seconds allowed are up)"
    )
    too_slow = limits.final_error(
        limits.TooSlow("http://m/a", 10), clock, tries="2 times", delay=1, last=False
    )
    assert isinstance(too_slow, limits.MirrorTooSlow)


def test_without_a_budget_only_the_retries_end_a_download() -> None:
    failure = TransientError("http://m/a", "reset")
    assert limits.final_error(failure, None, tries="once", delay=1e9, last=False) is None
    final = limits.final_error(failure, None, tries="3 times", delay=1, last=True)
    assert final is not None and final.problem == "reset (tried 3 times)"


# --- the size cap ---------------------------------------------------------------------


def test_an_archive_past_the_size_cap_is_refused(server: FaultServer, dest: Path) -> None:
    with pytest.raises(errors.BuildError) as info:
        fetch(server.url + PATH, dest, max_bytes=50_000)
    assert info.value.reason == "install-python::download"
    assert "larger than 50000 bytes" in info.value.cause
    assert server.hits[PATH] == 1  # not retried: it would be as large again
    assert_nothing_installed(dest)


def test_an_archive_within_the_cap_installs(server: FaultServer, dest: Path) -> None:
    fetch(server.url + PATH, dest, max_bytes=10 * 1024 * 1024)
    assert_installed(dest)


# --- a trickling package index ----------------------------------------------------------


def test_a_trickling_index_page_is_too_slow_and_pip_is_not_tried(
    server: FaultServer, trickle: Fault, tmp_path: Path
) -> None:
    trickle.body = b"<html>" + b"x" * 10_000
    trickle.after = 10
    server.add("/simple/pip/", trickle)
    index = package_index.IndexSettings(
        server.url + "/simple", budget=limits.Budget(attempt=0.5, total=0.5)
    )
    with pytest.raises(errors.BuildError) as info:
        package_index.fetch_pinned(
            index, [package_index.Pin("pip", "26.3")], Interpreter.runtime("3.13"), tmp_path
        )
    err = info.value
    assert err.reason == "install-package-manager::index-too-slow"
    assert err.title == "The package index is too slow"
    assert "/simple/pip/" in err.cause and "the mirror is too slow" in err.cause
    assert server.hits["/simple/pip/"] == 1


def test_the_index_budget_comes_from_the_download_settings(tmp_path: Path) -> None:
    env = {"CURL_TIMEOUT": "7", "PIP_INDEX_URL": "https://index.invalid/simple"}
    assert package_index.index_settings(env, default_url=None).budget == limits.Budget(7, 14)
    # An invalid value was already an error for the runtime download; here, the default.
    settings = make_ctx(tmp_path).ctx.settings
    bad = download_settings.download_budget({"CURL_TIMEOUT": "soon"})
    assert bad == limits.Budget(settings.attempt_timeout, settings.total_timeout)


# --- the settings -----------------------------------------------------------------------


def test_download_budget_defaults_are_close_to_herokus_curl(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, environ={}).ctx
    tuning = download_settings.download_settings(ctx)
    assert tuning.budget == limits.Budget(60, 120)
    assert tuning.max_bytes == 512 * 1024 * 1024


def test_curl_settings_as_on_heroku(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path, config={"CURL_TIMEOUT": "30", "CURL_CONNECT_TIMEOUT": "2"}).ctx
    tuning = download_settings.download_settings(ctx)
    # --max-time 30 --retry-max-time 30: 30 s an attempt, no retry after 30 s.
    assert tuning.budget == limits.Budget(30, 60)
    assert tuning.connect_timeout == 2


def test_buildpack_settings_win_over_curl_ones(tmp_path: Path) -> None:
    ctx = make_ctx(
        tmp_path,
        environ={"BUILDPACK_DOWNLOAD_TIMEOUT": "5", "BUILDPACK_DOWNLOAD_CONNECT_TIMEOUT": "1"},
        config={
            "CURL_TIMEOUT": "30",
            "CURL_CONNECT_TIMEOUT": "2",
            "BUILDPACK_DOWNLOAD_TOTAL_TIMEOUT": "8",
        },
    ).ctx
    tuning = download_settings.download_settings(ctx)
    assert tuning.budget == limits.Budget(5, 8)
    assert tuning.connect_timeout == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CURL_TIMEOUT", "0"),
        ("CURL_TIMEOUT", "a minute"),
        ("CURL_CONNECT_TIMEOUT", "-3"),
        ("BUILDPACK_DOWNLOAD_TIMEOUT", "inf"),
        ("BUILDPACK_DOWNLOAD_TOTAL_TIMEOUT", "601"),
    ],
)
def test_bad_time_settings_are_clear_errors(tmp_path: Path, name: str, value: str) -> None:
    ctx = make_ctx(tmp_path, config={name: value}).ctx
    with pytest.raises(errors.BuildError) as info:
        download_settings.download_settings(ctx)
    assert info.value.reason == "install-python::invalid-download-setting"
    assert name in info.value.title
