"""Poetry apps: built in /tmp/build_*, relocated to /app, serving a request."""

from __future__ import annotations

import pytest

from buildpack.selfdeps import wheel_install
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
    assert_app_compiled,
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
def poetry_build(tmp_path_factory, locked_apps, mirror_url) -> Built:
    """One build of the Poetry app; its cache (with Poetry in it) is reused below."""
    require_namespaces()
    work = tmp_path_factory.mktemp("poetry-build")
    return build_locked_app(locked_apps, work, "poetry", mirror_url)


def test_poetry_app_relocates_and_serves(poetry_build, locked_apps):
    result = poetry_build.result
    assert result.returncode == 0, result.log
    version = locked_apps.settings.tools["poetry"]
    assert f"Installing Poetry {version}" in result.stdout
    assert "Installing dependencies using 'poetry sync --only main'" in result.stdout
    assert "Skipping virtualenv creation" not in result.stdout
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    # In the runtime's site-packages, not in the venv Poetry runs from.
    assert_installed_into_runtime(result.stdout)
    assert "Traceback" not in result.log
    fields = report(poetry_build.cache)
    assert fields["package_manager"] == "poetry"
    assert fields["poetry_version"] == version
    tool_dir = assert_tool_outside_runtime(poetry_build.cache, "poetry", version)
    assert (tool_dir / "bin" / "poetry").is_file()
    # Poetry and its dependencies came from the buildpack's lock, unpacked
    # by the buildpack's wheel installer: no pip ran, none is in the venv.
    assert fields["poetry_install_source"] == "index", result.log
    site = next(tool_dir.glob("venv/lib/python3*/site-packages"))
    [dist] = site.glob("poetry-*.dist-info")
    assert (dist / "INSTALLER").read_text() == f"{wheel_install.INSTALLER_NAME}\n"
    assert not list(site.glob("pip-*.dist-info"))
    # The bytecode Poetry wrote into its venv by running is not kept.
    assert fields["poetry_bytecode_dropped"] > 0
    assert not list(site.rglob("*.pyc"))
    # --compile compiled the app's packages.
    assert_app_compiled(result.stdout)


def test_unchanged_rebuild_skips_the_install(poetry_build, locked_apps, mirror_url):
    """Before the tests below change the module's cache: the same app again."""
    again = rebuild_unchanged(locked_apps, poetry_build, mirror_url)
    # The venv the first build made (and Poetry ran from) is checked in
    # place and run again, not made again from its wheels.
    version = locked_apps.settings.tools["poetry"]
    assert f"Using cached Poetry {version} (checked against the buildpack's lock)" in again.stdout
    assert "Not trusting parts of the build cache" not in again.stdout, again.log
    assert_install_skipped(again, poetry_build.cache, "poetry")
    fields = report(poetry_build.cache)
    assert "cache_untrusted" not in fields
    # The build runs no other thread then, so a child process read the venv,
    # begun when the build had the cache (kept_venv.read_ahead).
    assert fields["poetry_venv_scan"] == "process", again.log
    assert fields["poetry_venv_read_ahead"] is True, again.log


def test_stale_poetry_lock_fails_clearly(tmp_path, poetry_build, locked_apps, mirror_url):
    """Also a second build with the first one's cache: Poetry is not installed again."""
    app = locked_apps.app("poetry_app", tmp_path, "poetry")
    make_lock_stale(app, "poetry")
    result = build_and_run(
        app,
        poetry_build.cache,
        tmp_path / "env",
        env=locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        # A failed build leaves its directory: keep it in tmp_path.
        build_dir=tmp_path / "build",
    )
    version = locked_apps.settings.tools["poetry"]
    assert f"Using cached Poetry {version}" in result.stdout, result.log
    assert result.returncode == 1, result.log
    assert_clean_failure(result, "poetry.lock is out of date")
    # Poetry's own words, then the buildpack's explanation and the fix.
    assert "pyproject.toml changed significantly since poetry.lock" in result.stdout, result.log
    assert "does not match pyproject.toml" in result.stderr
    assert "Run 'poetry lock'" in result.stderr
    assert report(poetry_build.cache)["failure_reason"] == "install-dependencies::poetry"


def test_ci_installs_the_dev_dependencies(tmp_path, poetry_build, locked_apps, mirror_url):
    app = locked_apps.app("poetry_app", tmp_path, "poetry")
    result = run_staged(
        app,
        poetry_build.cache,
        tmp_path / "env",
        TEST_COMPILE,
        env=locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url),
    )
    assert result.returncode == 0, result.log
    assert "Installing dependencies using 'poetry sync'" in result.stdout
    assert_dev_group_installed(result.stdout)
