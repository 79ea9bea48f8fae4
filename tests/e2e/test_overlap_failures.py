"""The package manager's files are fetched while the runtime installs; when
any one of those parallel fetches fails, the build fails as it did before
the overlap: the same message, exit status 1, no traceback, and nothing
half-made left behind (no runtime or tool directory in the making, nothing
in TMPDIR, HOME or beside BUILD_DIR).

Each build uses a loopback package index (its requests counted, so the test
sees that the tool's files were being fetched beside the runtime) and its
own runtime mirror, either of which misbehaves on purpose.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.builds import BuildResult, assert_clean_failure
from tests.support.fault_server import Fault, FaultServer
from tests.support.lockfiles import LOCKFILES, LockedApps, add_poetry_source
from tests.support.loopback_index import only_this_index
from tests.support.runtime_mirror import RuntimeArchive
from tests.support.sandbox import Sandbox
from tests.support.slug_checks import report

pytestmark = pytest.mark.e2e

FAST = {"BUILDPACK_DOWNLOAD_RETRIES": "1", "BUILDPACK_DOWNLOAD_BACKOFF": "0.05"}
NO_PIP_CONFIG = "no-pip-config"


@pytest.fixture
def index(loopback_index: FaultServer) -> Iterator[FaultServer]:
    """The session's loopback index, its counts cleared, its faults removed after."""
    loopback_index.clear()
    yield loopback_index
    loopback_index.clear()


@pytest.fixture
def mirror(runtime_archive: RuntimeArchive) -> Iterator[FaultServer]:
    with FaultServer(runtime_archive.dir) as server:
        yield server


def _box(tmp_path: Path, warm_cache: Path, locked_apps: LockedApps, manager: str) -> Sandbox:
    """A sandbox of the manager's example app with its lockfile, on a cache
    with the buildpack's own libraries and nothing else."""
    version = locked_apps.python_version
    box = Sandbox.create(
        tmp_path, python_version=version, fixture=f"{manager}_app", cache_from=warm_cache
    )
    if manager == "poetry":
        add_poetry_source(box.app)
    if manager in LOCKFILES:
        tool_version = locked_apps.settings.tools[manager]
        lockfile = locked_apps.lockfile(f"{manager}_app", manager, tool_version)
        (box.app / LOCKFILES[manager]).write_bytes(lockfile.read_bytes())
    (box.root / NO_PIP_CONFIG).mkdir()
    box.record()
    return box


def _compile(box: Sandbox, mirror: FaultServer, index: FaultServer, **extra: str) -> BuildResult:
    """bin/compile with ``index`` as pip's only index; its hits were cleared
    (and its faults added) by the test."""
    env = box.env(BUILDPACK_S3_BASE_URL=mirror.url, **{**FAST, **extra})
    return box.compile(only_this_index(env, index.url + "/simple/", box.root / NO_PIP_CONFIG))


def _assert_failed_cleanly(
    box: Sandbox, result: BuildResult, message: str, tool: str, *, runtime_failed: bool = True
) -> None:
    assert result.returncode == 1, result.log
    assert_clean_failure(result, message)
    box.assert_app_untouched()
    if runtime_failed:
        box.assert_no_runtime_left()
    else:  # the complete runtime stays, as after any later failure; nothing half-made
        heroku = sorted(p.name for p in (box.build_dir / ".heroku").iterdir())
        assert heroku == ["python"], heroku
    box.assert_nothing_written_outside()
    tools = box.cache / ".heroku" / "tools"
    left = sorted(p.name for p in tools.iterdir()) if tools.is_dir() else []
    assert not [name for name in left if name.startswith((".", tool))], left


def _fetched(index: FaultServer, project: str) -> int:
    return sum(n for path, n in index.hits.items() if path.startswith(f"/files/{project}-"))


def test_a_stalled_mirror_fails_the_build_while_uv_is_being_fetched(
    tmp_path, warm_cache, locked_apps, mirror, index, runtime_archive
):
    box = _box(tmp_path, warm_cache, locked_apps, "uv")
    # The archive stalls after its first megabyte, past the read timeout, twice.
    mirror.add(f"/{runtime_archive.name}", Fault("stall", after=1 << 20, times=None))
    result = _compile(box, mirror, index, BUILDPACK_DOWNLOAD_READ_TIMEOUT="2")
    _assert_failed_cleanly(box, result, "Could not download the Python runtime", "uv")
    assert "no data arrived for 2 seconds (tried 2 times)" in result.stderr, result.log
    # uv's wheel was fetched meanwhile (and thrown away with the build's TMPDIR).
    assert _fetched(index, "uv") == 1, dict(index.hits)
    assert report(box.cache)["package_manager_fetch_overlapped"] is True


def test_an_unreachable_mirror_fails_the_build_while_pip_is_being_fetched(
    tmp_path, warm_cache, locked_apps, index
):
    box = _box(tmp_path, warm_cache, locked_apps, "pip")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Closed again: nothing listens there, so connecting is refused.
    env = box.env(BUILDPACK_S3_BASE_URL=f"http://127.0.0.1:{port}", **FAST)
    result = box.compile(only_this_index(env, index.url + "/simple/", box.root / NO_PIP_CONFIG))
    _assert_failed_cleanly(box, result, "Could not download the Python runtime", "pip")
    assert "connection refused (tried 2 times)" in result.stderr, result.log
    # The pinned pip's fetch had begun beside it.
    assert report(box.cache)["package_manager_fetch_overlapped"] is True


def test_a_runtime_checksum_mismatch_fails_the_build_while_poetry_is_being_fetched(
    tmp_path, warm_cache, locked_apps, mirror, index, runtime_archive
):
    box = _box(tmp_path, warm_cache, locked_apps, "poetry")
    mirror.add(f"/{runtime_archive.name}.sha256", Fault("body", body=b"0" * 64 + b"\n", times=None))
    result = _compile(box, mirror, index)
    _assert_failed_cleanly(box, result, "The Python runtime archive failed its checksum", "poetry")
    fields = report(box.cache)
    assert fields["failure_reason"] == "install-python::checksum-mismatch"
    # Poetry's locked files were being fetched beside it (how far the niced
    # fetch got by then depends on the machine).
    assert fields["package_manager_fetch_overlapped"] is True


def test_uv_missing_from_the_index_fails_as_it_did_without_the_overlap(
    tmp_path, warm_cache, locked_apps, mirror, index
):
    """The fetch beside the runtime gets a 404; after the runtime is in
    place the build says so and lets pip try, which fails the same way."""
    box = _box(tmp_path, warm_cache, locked_apps, "uv")
    index.add("/simple/uv/", Fault("status", status=404, times=None))
    result = _compile(box, mirror, index)
    version = locked_apps.settings.tools["uv"]
    _assert_failed_cleanly(
        box, result, f"Could not install uv {version}", "uv", runtime_failed=False
    )
    assert "Fetching uv from the index did not work (" in result.stdout, result.log
    assert "HTTP 404" in result.stdout, result.log
    assert report(box.cache)["failure_reason"] == "install-package-manager::uv"


def test_a_locked_file_with_other_bytes_fails_poetrys_install_cleanly(
    tmp_path, warm_cache, locked_apps, mirror, index
):
    """One of Poetry's locked wheels comes with bytes that do not match its
    sha256: the lock install says so, and pip, which checks the index's
    sha256 of the same file, refuses it too."""
    box = _box(tmp_path, warm_cache, locked_apps, "poetry")
    [cleo] = [p for p in (index.root / "files").glob("cleo-*.whl")]
    index.add(f"/files/{cleo.name}", Fault("body", body=b"not a wheel", times=None))
    result = _compile(box, mirror, index)
    version = locked_apps.settings.tools["poetry"]
    _assert_failed_cleanly(
        box, result, f"Could not install poetry {version}", "poetry", runtime_failed=False
    )
    assert (
        f"Installing Poetry {version} from the buildpack's lock did not work "
        f"({cleo.name} does not match the sha256 it should have); using pip"
    ) in result.stdout, result.log
    assert "THESE PACKAGES DO NOT MATCH THE HASHES" in result.stdout, result.log
    # One step for the whole install, the lock's and then pip's.
    assert result.stdout.count(f"-----> Installing Poetry {version}\n") == 1, result.log
