"""Session fixtures for end-to-end builds."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildpack.runtime.extract import extract_tar_stream
from buildpack.runtime.zstd_stream import open_zstd_reader
from tests.support import sandbox, shared
from tests.support.builds import require_namespaces, use_pipless_python
from tests.support.fault_server import FaultServer
from tests.support.loopback_index import build_requirements, locked_requirements, make_index
from tests.support.runtime_mirror import RuntimeArchive
from tests.support.source_runtime import SourceRuntime
from tests.support.source_runtime import source_runtime as cached_source_runtime


@pytest.fixture(scope="session", autouse=True)
def pipless_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python3 every build runs bin/* with unless it says otherwise: a
    venv of the host Python without pip (see tests/support/builds.py)."""
    return use_pipless_python(tmp_path_factory.mktemp("pipless-python"))


@pytest.fixture(autouse=True)
def _namespaces() -> None:
    """Every end-to-end build runs in a mount namespace with a tmpfs on /app."""
    require_namespaces()


@pytest.fixture(scope="module")
def warm_cache(
    tmp_path_factory: pytest.TempPathFactory, runtime_archive: RuntimeArchive, mirror_url: str
) -> Path:
    """A cache with the buildpack's libraries but no runtime (see sandbox.warm_cache)."""
    require_namespaces()
    return sandbox.warm_cache(tmp_path_factory, runtime_archive.version, mirror_url)


@pytest.fixture(scope="module")
def good_cache(
    tmp_path_factory: pytest.TempPathFactory, runtime_archive: RuntimeArchive, mirror_url: str
) -> Path:
    """The cache of one successful build of pip_app: runtime tree, metadata,
    dependencies (made once per session, see sandbox.good_cache). Copy it
    before building on it."""
    require_namespaces()
    return sandbox.good_cache(tmp_path_factory, runtime_archive.version, mirror_url)


@pytest.fixture(scope="session")
def source_runtime(request: pytest.FixtureRequest) -> SourceRuntime:
    """CPython 3.13 built from source by tools/build-runtime, cached outside
    the clone (see tests/support/source_runtime.py); says which it was."""
    runtime = cached_source_runtime()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(runtime.log_line())
    return runtime


@pytest.fixture(scope="session")
def source_mirror_url(source_runtime: SourceRuntime) -> Iterator[str]:
    """A loopback mirror of the from-source runtime, with its runtimes.json."""
    with FaultServer(source_runtime.archive.dir) as server:
        yield server.url


@pytest.fixture(scope="session")
def installed_313(tmp_path_factory: pytest.TempPathFactory, source_runtime: SourceRuntime) -> Path:
    """The from-source 3.13 unpacked as an installed Python (``python/``), and a
    venv of it without pip (``venv/``). Like Heroku's runtimes it has a shared libpython
    and no RPATH, so LD_LIBRARY_PATH names its lib/ (a distribution's python3
    finds its libpython in the system's library path)."""
    root = tmp_path_factory.mktemp("host-313")
    with open(source_runtime.archive.path, "rb") as raw, open_zstd_reader(raw) as reader:
        extract_tar_stream(reader, root / "python", source="test")
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(root / "python/lib")}
    venv = root / "venv"
    subprocess.run(
        [str(root / "python/bin/python3"), "-m", "venv", "--without-pip", str(venv)],
        env=env,
        check=True,
    )
    probe = subprocess.run(
        [str(venv / "bin/python3"), "-c", "import sys; import pip"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert "No module named 'pip'" in probe.stderr, probe.stderr
    return root


@pytest.fixture(scope="session")
def loopback_index(
    tmp_path_factory: pytest.TempPathFactory, index_mirror: str
) -> Iterator[FaultServer]:
    """A package index on loopback (see tests/support/loopback_index.py) with
    what the example builds fetch through pip's index: pip, the buildpack's
    own libraries, uv, Poetry and Pipenv with their dependencies (and every
    file of their locks for this interpreter), and the apps' own. Tests
    call ``clear()`` before counting its ``hits``."""
    wanted = [*build_requirements("uv", "poetry", "pipenv"), "iniconfig==2.1.0"]
    exact = locked_requirements("poetry", "pipenv")
    # Through the session's mirror of pip's index: what earlier builds
    # fetched is not asked of the network again.
    root = shared.made_once(
        tmp_path_factory,
        "loopback-index",
        lambda root: make_index(root, wanted, exact, source=index_mirror + "/simple/"),
    )
    with FaultServer(root) as server:
        yield server
