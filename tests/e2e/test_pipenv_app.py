"""Pipenv apps: built in /tmp/build_*, relocated to /app, serving a request."""

from __future__ import annotations

import pytest

from tests.e2e.staging import run_staged
from tests.support.builds import (
    assert_clean_failure,
    build_and_run,
    require_namespaces,
)
from tests.support.lockfiles import make_lock_stale
from tests.support.slug_checks import (
    TEST_COMPILE,
    Built,
    assert_dev_group_installed,
    assert_install_skipped,
    assert_installed_into_runtime,
    assert_tool_outside_runtime,
    build_locked_app,
    rebuild_unchanged,
    report,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pipenv_build(tmp_path_factory, locked_apps, mirror_url) -> Built:
    """One build of the Pipenv app; its cache (with Pipenv in it) is reused below."""
    require_namespaces()
    work = tmp_path_factory.mktemp("pipenv-build")
    return build_locked_app(locked_apps, work, "pipenv", mirror_url)


def test_pipenv_app_relocates_and_serves(pipenv_build, locked_apps):
    result = pipenv_build.result
    assert result.returncode == 0, result.log
    version = locked_apps.settings.tools["pipenv"]
    assert f"Installing Pipenv {version}" in result.stdout
    assert "Installing dependencies using 'pipenv install --deploy --system'" in result.stdout
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    # In the runtime's site-packages, not in the venv Pipenv runs from.
    assert_installed_into_runtime(result.stdout)
    assert "Traceback" not in result.log
    fields = report(pipenv_build.cache)
    assert fields["package_manager"] == "pipenv"
    assert fields["pipenv_version"] == version
    assert_tool_outside_runtime(pipenv_build.cache, "pipenv", version)


def test_unchanged_rebuild_skips_the_install(pipenv_build, locked_apps, mirror_url):
    """Before the tests below change the module's cache: the same app again."""
    again = rebuild_unchanged(locked_apps, pipenv_build, mirror_url)
    assert f"Using cached Pipenv {locked_apps.settings.tools['pipenv']}" in again.stdout
    assert_install_skipped(again, pipenv_build.cache, "pipenv")


def test_stale_pipfile_lock_fails_clearly(tmp_path, pipenv_build, locked_apps, mirror_url):
    """Also a second build with the first one's cache: Pipenv is not installed again."""
    app = locked_apps.app("pipenv_app", tmp_path, "pipenv")
    make_lock_stale(app, "pipenv")
    result = build_and_run(
        app,
        pipenv_build.cache,
        tmp_path / "env",
        env=locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        # A failed build leaves its directory: keep it in tmp_path.
        build_dir=tmp_path / "build",
    )
    version = locked_apps.settings.tools["pipenv"]
    assert f"Using cached Pipenv {version}" in result.stdout, result.log
    assert result.returncode == 1, result.log
    assert_clean_failure(result, "Pipfile.lock is out of date")
    # Pipenv's own words (without its stack frames), then ours and the fix.
    assert "is out of date" in result.stdout and "Expected:" in result.stdout, result.log
    assert "[DeployException]" not in result.stdout
    assert "does not match Pipfile" in result.stderr
    assert "Run 'pipenv lock'" in result.stderr
    assert report(pipenv_build.cache)["failure_reason"] == "install-dependencies::pipenv"


def test_ci_installs_the_dev_dependencies(tmp_path, pipenv_build, locked_apps, mirror_url):
    app = locked_apps.app("pipenv_app", tmp_path, "pipenv")
    result = run_staged(
        app,
        pipenv_build.cache,
        tmp_path / "env",
        TEST_COMPILE,
        env=locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url),
    )
    assert result.returncode == 0, result.log
    assert "Installing dependencies using 'pipenv install --deploy --system --dev'" in result.stdout
    assert_dev_group_installed(result.stdout)
