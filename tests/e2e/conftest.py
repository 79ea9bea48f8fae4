"""Session fixtures for end-to-end builds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import sandbox
from tests.support.builds import require_namespaces, use_pipless_python
from tests.support.fault_server import FaultServer
from tests.support.loopback_index import build_requirements, locked_requirements, make_index
from tests.support.runtime_mirror import RuntimeArchive


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


@pytest.fixture(scope="session")
def loopback_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    """A package index on loopback (see tests/support/loopback_index.py) with
    what the example builds fetch through pip's index: pip, the buildpack's
    own libraries, uv, Poetry and Pipenv with their dependencies (and every
    file of their locks for this interpreter), and the apps' own. Tests
    call ``clear()`` before counting its ``hits``."""
    wanted = [*build_requirements("uv", "poetry", "pipenv"), "iniconfig==2.1.0"]
    exact = locked_requirements("poetry", "pipenv")
    root = make_index(tmp_path_factory.mktemp("loopback-index"), wanted, exact)
    with FaultServer(root) as server:
        yield server
