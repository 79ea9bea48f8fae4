"""Pipenv apps: built in /tmp/build_*, relocated to /app, serving a request."""

from __future__ import annotations

import pytest

from tests.e2e.staging import run_staged
from tests.support.builds import (
    ROOT,
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
    build_locked_app,
    check_command,
    rebuild_unchanged,
    report,
)

pytestmark = pytest.mark.e2e

RUN_PROCFILE_WEB = ROOT / "tests" / "support" / "run-procfile-web"


# After check_command(): the Procfile's `web: pipenv run gunicorn app:app`, as
# a dyno starts it, and where Pipenv and its venv are.
_PIPENV_AT_RUN_TIME = r"""
echo "PIPENV_BYTECODE: $(find /app/.heroku/python/pipenv -name '*.pyc' | wc -l)"
"$2"
echo "PIPENV: $(command -v pipenv)"
echo "VIRTUAL_ENV: $VIRTUAL_ENV"
sed 's/^/PYVENV: /' /app/.heroku/python/pipenv/venv/pyvenv.cfg
"""


@pytest.fixture(scope="module")
def pipenv_build(tmp_path_factory, locked_apps, mirror_url) -> Built:
    """One build of the Pipenv app; its cache (with Pipenv in it) is reused below."""
    require_namespaces()
    work = tmp_path_factory.mktemp("pipenv-build")
    command = check_command(_PIPENV_AT_RUN_TIME, str(RUN_PROCFILE_WEB))
    return build_locked_app(locked_apps, work, "pipenv", mirror_url, command=command)


def test_pipenv_app_relocates_and_serves(pipenv_build, locked_apps):
    result = pipenv_build.result
    assert result.returncode == 0, result.log
    version = locked_apps.settings.tools["pipenv"]
    assert f"Installing Pipenv {version}" in result.stdout
    assert "Installing dependencies using 'pipenv install --deploy --system'" in result.stdout
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    # In the runtime's site-packages, not in the venv Pipenv runs from.
    assert_installed_into_runtime(result.stdout)
    # Pipenv ran with -B: none of its own bytecode in the slug, while pip
    # still compiled what it installed.
    assert "PIPENV_BYTECODE: 0\n" in result.stdout, result.stdout
    assert_app_compiled(result.stdout)
    assert "Traceback" not in result.log
    fields = report(pipenv_build.cache)
    assert fields["package_manager"] == "pipenv"
    assert fields["pipenv_version"] == version
    # The fast path: the files of the buildpack's lock for Pipenv, without pip.
    assert fields["pipenv_install_source"] == "index", result.log
    # The cache keeps Pipenv's locked wheels, never a venv a later build would run.
    tools = pipenv_build.cache / ".heroku" / "tools"
    assert list(tools.glob(f"wheels/pipenv-{version}-*.whl")), result.log
    assert not list(tools.glob("pipenv-*")), result.log


def test_unchanged_rebuild_skips_the_install(pipenv_build, locked_apps, mirror_url):
    """Before the tests below change the module's cache: the same app again."""
    again = rebuild_unchanged(locked_apps, pipenv_build, mirror_url)
    assert f"Using cached Pipenv {locked_apps.settings.tools['pipenv']}" in again.stdout
    assert_install_skipped(again, pipenv_build.cache, "pipenv")


def test_pipenv_run_in_the_procfile_serves_from_app(pipenv_build):
    """As on Heroku: Pipenv is in the slug, on PATH, and `pipenv run` uses the runtime."""
    result = pipenv_build.result
    assert result.returncode == 0, result.log
    assert "Warning: The Procfile uses" not in result.stderr
    assert "PROCFILE WEB: pipenv run gunicorn app:app" in result.stdout, result.log
    assert "PROCFILE RESPONSE: Hello from /app/.heroku/python (PIPENV_ACTIVE=1)" in result.stdout, (
        result.log
    )
    assert "PIPENV: /app/.heroku/python/pipenv/bin/pipenv" in result.stdout
    assert "VIRTUAL_ENV: /app/.heroku/python" in result.stdout
    # The venv was made in BUILD_DIR through /app, and names /app only.
    assert "PYVENV: home = /app/.heroku/python/bin" in result.stdout
    pyvenv = [line for line in result.stdout.splitlines() if line.startswith("PYVENV: ")]
    assert all("/tmp/" not in line for line in pyvenv), pyvenv
    # Written by the buildpack from the lock (kept_venv.make_bare), not by
    # `python -m venv`, which adds version, executable and command lines.
    assert pyvenv == [
        "PYVENV: home = /app/.heroku/python/bin",
        "PYVENV: include-system-site-packages = false",
    ], pyvenv
    assert (
        "Relocation check: no file under .heroku/python refers to the build directory."
        in result.stdout
    ), result.log


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
