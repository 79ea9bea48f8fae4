"""Session fixtures for end-to-end builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import sandbox
from tests.support.builds import require_namespaces, use_pipless_python
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
