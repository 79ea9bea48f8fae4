"""Session fixtures shared by unit and end-to-end tests: a runtime mirror,
and fixture apps locked by the real package managers."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import shared
from tests.support.builds import use_index_mirror
from tests.support.fault_server import FaultServer
from tests.support.index_proxy import IndexProxy
from tests.support.lockfiles import LockedApps
from tests.support.runtime_mirror import RuntimeArchive, host_runtime_in, pack_host_runtime

# The mirror's address, for the test workers, which the controller starts.
_MIRROR_URL = "TESTS_INDEX_MIRROR_URL"
_MIRROR_KEY = pytest.StashKey[tuple[IndexProxy, Path]]()


def pytest_configure(config: pytest.Config) -> None:
    """Serve pip's index mirrored on loopback (see index_proxy) from the
    process that runs the session: with xdist the controller, which starts
    the workers after this, so that every build of the session, in any
    worker, sees the same index address (Pipenv checks its lockfile's hash
    against it)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    work = Path(tempfile.mkdtemp(prefix="index-mirror-"))
    proxy = IndexProxy(work).__enter__()
    config.stash[_MIRROR_KEY] = (proxy, work)
    os.environ[_MIRROR_URL] = proxy.url


def pytest_unconfigure(config: pytest.Config) -> None:
    if _MIRROR_KEY in config.stash:
        proxy, work = config.stash[_MIRROR_KEY]
        proxy.__exit__(None, None, None)
        shutil.rmtree(work, ignore_errors=True)
        os.environ.pop(_MIRROR_URL, None)


@pytest.fixture(scope="session", autouse=True)
def index_mirror(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of pip's index mirrored on loopback for the session: the
    index builds fetch from unless they ask for the machine's (see
    builds.build_env)."""
    url = os.environ[_MIRROR_URL]
    use_index_mirror(url + "/simple/", shared.root(tmp_path_factory))
    return url


@pytest.fixture(scope="session")
def runtime_archive(tmp_path_factory: pytest.TempPathFactory) -> RuntimeArchive:
    """The host interpreter packed once per session, with its .sha256, in a mirror dir."""
    mirror = shared.made_once(tmp_path_factory, "runtime-mirror", pack_host_runtime)
    return host_runtime_in(mirror)


@pytest.fixture(scope="session")
def mirror_url(runtime_archive: RuntimeArchive) -> Iterator[str]:
    """``http://127.0.0.1:PORT`` serving the runtime archive's directory."""
    with FaultServer(runtime_archive.dir) as server:
        yield server.url


@pytest.fixture(scope="session")
def file_mirror_url(runtime_archive: RuntimeArchive) -> str:
    """``file://`` URL of the runtime archive's directory."""
    return runtime_archive.dir.as_uri()


@pytest.fixture(scope="session")
def locked_apps(tmp_path_factory: pytest.TempPathFactory) -> LockedApps:
    """Fixture apps with lockfiles made by the real tools, once per session,
    for this interpreter's version (the one runtime_archive packs)."""
    version = ".".join(map(str, sys.version_info[:3]))
    # Shared by the workers: each lockfile and tool is made once (see LockedApps).
    return LockedApps(shared.root(tmp_path_factory) / "locked-apps", version)
