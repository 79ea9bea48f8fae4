"""The core promise, end to end: a pip app built in /tmp/build_* runs at /app."""

from __future__ import annotations

import pytest

from tests.support.builds import (
    assert_clean_failure,
    build_and_run,
    build_env,
    copy_fixture,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("mirror", ["http", "file"])
def test_pip_app_relocates_and_serves(
    tmp_path, runtime_archive, mirror_url, file_mirror_url, mirror
):
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    base = mirror_url if mirror == "http" else file_mirror_url
    result = build_and_run(
        app, tmp_path / "cache", tmp_path / "env", env=build_env(BUILDPACK_S3_BASE_URL=base)
    )
    assert result.returncode == 0, result.log
    assert f"Installing Python {runtime_archive.version}" in result.stdout
    assert "entrypoints with /app shebangs:" in result.stdout
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert "Traceback" not in result.log


def test_missing_version_is_not_a_network_error(tmp_path, mirror_url):
    app = copy_fixture("pip_app", tmp_path, python_version="3.12.99")
    result = build_and_run(
        app, tmp_path / "cache", tmp_path / "env", env=build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    )
    assert_clean_failure(result, "Python 3.12.99 is not available")
