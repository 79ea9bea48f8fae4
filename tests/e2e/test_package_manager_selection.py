"""Apps whose files name no package manager, or several: bin/compile stops
with a message that says what to do, exit status 1 and no traceback."""

from __future__ import annotations

import os

import pytest

from tests.support.builds import (
    announced_build_dir,
    assert_clean_failure,
    build_and_run,
    build_env,
    is_random_build_dir,
)
from tests.support.slug_checks import report

pytestmark = pytest.mark.e2e

APP_PY = "def app(environ, start_response):\n    return []\n"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """Shared: the buildpack installs its own libraries into it once."""
    return tmp_path_factory.mktemp("selection-cache")


@pytest.mark.parametrize(
    ("files", "message", "reason"),
    [
        (
            ["requirements.txt", "uv.lock", "pyproject.toml"],
            "Error: More than one package manager file",
            "package-manager::multiple-found",
        ),
        (
            ["Pipfile"],
            "Error: The Pipfile has no Pipfile.lock",
            "package-manager::pipenv-missing-lockfile",
        ),
        (
            ["pyproject.toml"],
            "Error: pyproject.toml has no lockfile",
            "package-manager::none-found",
        ),
        (
            ["setup.py"],
            "Error: No file that lists the app's dependencies",
            "package-manager::setup-py-only",
        ),
        ([], "Error: No file that lists the app's dependencies", "package-manager::none-found"),
    ],
    ids=["multiple", "pipfile-without-lock", "pyproject-only", "setup-py-only", "none"],
)
def test_package_manager_files_problems_stop_the_build(tmp_path, cache_dir, files, message, reason):
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP_PY)
    for name in files:
        (app / name).write_text("")
    result = build_and_run(
        app,
        cache_dir,
        tmp_path / "env",
        env=build_env(),
        command=["true"],
        # A failed build leaves its directory: keep it in tmp_path.
        build_dir=tmp_path / "build",
    )
    assert result.returncode == 1, result.log
    assert_clean_failure(result, message)
    assert report(cache_dir)["failure_reason"] == reason
    # Stopped before installing anything.
    assert "Installing Python" not in result.stdout
    if len(files) > 1:
        assert "  requirements.txt\n" in result.plain_stderr.replace(" !     ", "")
        assert "  uv.lock\n" in result.plain_stderr.replace(" !     ", "")


def test_a_failed_build_leaves_no_build_directory_behind(tmp_path, cache_dir):
    """build-and-run removes the /tmp/build_* it made, even when the build fails."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "app.py").write_text(APP_PY)
    (app / "pyproject.toml").write_text("")
    result = build_and_run(app, cache_dir, tmp_path / "env", env=build_env(), command=["true"])
    assert_clean_failure(result, "Error: pyproject.toml has no lockfile")
    announced = announced_build_dir(result)
    assert announced is not None and is_random_build_dir(announced), result.log
    assert not os.path.lexists(announced), result.log
