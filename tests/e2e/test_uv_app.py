"""uv apps: built in /tmp/build_*, relocated to /app, serving a request.

The second test is uv issue 11048: uv 0.5.25, with UV_PROJECT_ENVIRONMENT
set to the symlinked /app/.heroku/python, resolved the link and wrote
entrypoints for the build directory's Python. The buildpack must ship a slug
that works anyway.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.staging import run_staged
from tests.support.builds import assert_clean_failure, build_and_run
from tests.support.lockfiles import make_lock_stale
from tests.support.slug_checks import (
    TEST_COMPILE,
    assert_dev_group_installed,
    assert_install_skipped,
    assert_installed_into_runtime,
    build_locked_app,
    check_command,
    rebuild_unchanged,
    report,
)

pytestmark = pytest.mark.e2e

# The last uv release before the fix for issue 11048.
UV_WITH_BUILD_DIR_SHEBANGS = "0.5.25"
_REWROTE = re.compile(r"Rewrote (\d+) entrypoint shebang\(s\) that named the build directory")


def test_uv_app_relocates_and_serves(tmp_path, locked_apps, mirror_url):
    built = build_locked_app(locked_apps, tmp_path, "uv", mirror_url)
    result, cache = built.result, built.cache
    assert result.returncode == 0, result.log
    version = locked_apps.settings.tools["uv"]
    assert f"Installing uv {version}" in result.stdout
    assert "Installing dependencies using 'uv sync --locked --no-default-groups'" in result.stdout
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert_installed_into_runtime(result.stdout)
    assert "Traceback" not in result.log
    fields = report(cache)
    assert fields["package_manager"] == "uv"
    assert fields["uv_version"] == version
    # The fast path: uv's wheel from the index, unpacked without pip.
    assert fields["uv_install_source"] == "index", result.log
    (tool_dir,) = (cache / ".heroku" / "tools").glob(f"uv-{version}-*")
    assert (tool_dir / "bin" / "uv").is_file()
    # This uv writes /app shebangs itself: nothing for the buildpack to repair.
    assert not _REWROTE.search(result.stdout), result.stdout
    assert fields.get("shebangs_fixed", 0) == 0

    again = rebuild_unchanged(locked_apps, built, mirror_url)
    assert_install_skipped(again, cache, "uv")


def test_uv_issue_11048_build_dir_shebangs_are_repaired(tmp_path, locked_apps, mirror_url):
    """Both halves: uv 0.5.25 really wrote BUILD_DIR shebangs, and the slug has none."""
    app = locked_apps.app("uv_app", tmp_path, "uv", tool_version=UV_WITH_BUILD_DIR_SHEBANGS)
    cache = tmp_path / "cache"
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    # As an app's config var, the way a user pins it.
    (env_dir / "BUILDPACK_UV_VERSION").write_text(UV_WITH_BUILD_DIR_SHEBANGS)
    result = build_and_run(
        app,
        cache,
        env_dir,
        env=locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        command=check_command(),
    )
    assert result.returncode == 0, result.log
    assert f"Installing uv {UV_WITH_BUILD_DIR_SHEBANGS}" in result.stdout
    # The raw install named the build directory (so this test can fail) ...
    rewrote = _REWROTE.search(result.stdout)
    assert rewrote and int(rewrote.group(1)) >= 1, result.stdout
    fields = report(cache)
    assert fields["uv_version"] == UV_WITH_BUILD_DIR_SHEBANGS
    assert fields["shebangs_fixed"] >= 1
    # ... and the shipped slug has none: check-slug found only /app shebangs and
    # served the request through the repaired gunicorn script.
    assert "FAIL" not in result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert_installed_into_runtime(result.stdout)


def test_stale_uv_lock_fails_with_uvs_message_and_ours(tmp_path, locked_apps, mirror_url):
    app = locked_apps.app("uv_app", tmp_path, "uv")
    make_lock_stale(app, "uv")
    result = build_and_run(
        app,
        tmp_path / "cache",
        tmp_path / "env",
        env=locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        # A failed build leaves its directory: keep it in tmp_path.
        build_dir=tmp_path / "build",
    )
    assert result.returncode == 1, result.log
    assert_clean_failure(result, "uv.lock is out of date")
    # uv's own words, then the buildpack's explanation and the fix.
    assert "needs to be updated" in result.stdout, result.log
    assert "does not match pyproject.toml" in result.stderr
    assert "Run 'uv lock'" in result.stderr
    assert report(tmp_path / "cache")["failure_reason"] == "install-dependencies::uv"


def test_nonexistent_uv_version_is_a_clear_error(tmp_path, locked_apps, mirror_url):
    app = locked_apps.app("uv_app", tmp_path, "uv")
    result = build_and_run(
        app,
        tmp_path / "cache",
        tmp_path / "env",
        env=locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url, BUILDPACK_UV_VERSION="0.0.999"),
        # A failed build leaves its directory: keep it in tmp_path.
        build_dir=tmp_path / "build",
    )
    assert result.returncode == 1, result.log
    assert_clean_failure(result, "uv 0.0.999 does not exist on the package index")
    assert "BUILDPACK_UV_VERSION asks for uv 0.0.999" in result.stderr
    fields = report(tmp_path / "cache")
    assert fields["failure_reason"] == "install-package-manager::uv"
    # Nothing half-installed is left for a later build to trust.
    tools = tmp_path / "cache" / ".heroku" / "tools"
    assert not [p.name for p in tools.iterdir() if p.name.startswith(("uv-", ".uv-"))]


def test_ci_installs_the_default_groups(tmp_path, locked_apps, mirror_url):
    app = locked_apps.app("uv_app", tmp_path, "uv")
    result = run_staged(
        app,
        tmp_path / "cache",
        tmp_path / "env",
        TEST_COMPILE,
        env=locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url),
    )
    assert result.returncode == 0, result.log
    assert "Installing dependencies using 'uv sync --locked'\n" in result.stdout
    assert_dev_group_installed(result.stdout)
