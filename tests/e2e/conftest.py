"""Session fixtures for end-to-end builds."""

from __future__ import annotations

import pytest

from tests.support.lockfiles import LockedApps
from tests.support.runtime_mirror import RuntimeArchive


@pytest.fixture(scope="session")
def locked_apps(
    tmp_path_factory: pytest.TempPathFactory, runtime_archive: RuntimeArchive
) -> LockedApps:
    """Fixture apps with lockfiles made by the real tools, once per session."""
    return LockedApps(tmp_path_factory.mktemp("locked-apps"), runtime_archive.version)
