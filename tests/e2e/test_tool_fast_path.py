"""Each package manager is installed the fast way against a loopback index:
its exact files fetched from the index pip would use, checked against the
index's sha256 and unpacked without running pip. The report's
``<tool>_install_source`` says which way each install went, and the index's
request counts show that no pip fetched the tool a second time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.builds import assert_clean_failure, build_and_run
from tests.support.fault_server import FaultServer
from tests.support.lockfiles import LockedApps
from tests.support.loopback_index import only_this_index
from tests.support.slug_checks import assert_installed_into_runtime, check_command, report

pytestmark = pytest.mark.e2e


def _build(app: Path, work: Path, env: dict[str, str], index: FaultServer):
    index.clear()
    env = only_this_index(env, index.url + "/simple/", work)
    result = build_and_run(app, work / "cache", work / "env", env=env, command=check_command())
    return result, dict(index.hits)


def _wheel_hits(hits: dict[str, int], project: str) -> list[int]:
    return [count for path, count in hits.items() if path.startswith(f"/files/{project}-")]


def test_uv_is_fetched_once_and_never_installed_by_pip(
    tmp_path, locked_apps, mirror_url, loopback_index
):
    app = locked_apps.app("uv_app", tmp_path, "uv")
    env = locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    result, hits = _build(app, tmp_path, env, loopback_index)
    assert result.returncode == 0, result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert_installed_into_runtime(result.stdout)
    fields = report(tmp_path / "cache")
    assert fields["uv_install_source"] == "index"
    assert "did not work" not in result.log, result.log
    # Fetched while the runtime installed, not after.
    assert fields["package_manager_fetch_overlapped"] is True
    # pip, had it run, would have read uv's page and fetched its wheel again.
    assert hits.get("/simple/uv/") == 1, hits
    assert _wheel_hits(hits, "uv") == [1], hits


@pytest.fixture(scope="module")
def loopback_locked_apps(tmp_path_factory, runtime_archive, loopback_index) -> LockedApps:
    """Apps locked against the loopback index: Pipfile.lock's hash covers
    pip's index settings, so the build must see the ones it was locked with."""
    root = tmp_path_factory.mktemp("loopback-locked")
    return LockedApps(root, runtime_archive.version, index_url=loopback_index.url + "/simple/")


@pytest.mark.parametrize("manager", ["poetry", "pipenv"])
def test_poetry_and_pipenv_come_from_the_lock_without_pip(
    tmp_path, loopback_locked_apps, mirror_url, loopback_index, manager
):
    """Every file of the tool's locked dependency set, once each, and no
    resolver: pip would read the tool's page again and weigh its releases."""
    app = loopback_locked_apps.app(f"{manager}_app", tmp_path, manager)
    env = loopback_locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    result, hits = _build(app, tmp_path, env, loopback_index)
    assert result.returncode == 0, result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert_installed_into_runtime(result.stdout)
    fields = report(tmp_path / "cache")
    assert fields[f"{manager}_install_source"] == "index", result.log
    assert "did not work" not in result.log and "using pip" not in result.log, result.log
    assert "Not installing" not in result.log, result.log
    # Fetched beside the runtime install, from the index pip would use.
    assert fields["package_manager_fetch_overlapped"] is True
    assert hits.get(f"/simple/{manager}/") == 1, hits
    assert _wheel_hits(hits, manager) == [1], hits
    # No pip in the tool's venv: nothing ran one. (Pipenv's venv is in the slug.)
    tools = tmp_path / "cache" / ".heroku" / "tools"
    home = tmp_path / "cache" / ".heroku" / "python" / "pipenv"
    [tool_dir] = [home] if manager == "pipenv" else tools.glob(f"{manager}-*-python3.*")
    assert list(tool_dir.glob("venv/lib/python3*/site-packages/*.dist-info"))
    assert not list(tool_dir.glob("venv/lib/python3*/site-packages/pip"))


def test_index_config_vars_in_env_dir_reach_uv_and_uv_comes_from_pip_without_hashes(
    tmp_path, loopback_locked_apps, mirror_url, loopback_index
):
    """As Heroku delivers them: PIP_INDEX_URL and UV_INDEX_URL only as files
    in ENV_DIR. PIP_INDEX_URL names the index without sha256s, so uv and the
    buildpack's own libraries come through pip (the runtime's bundled one:
    this python3 has none); UV_INDEX_URL names the index uv.lock was made
    with, which uv checks the lock against."""
    app = loopback_locked_apps.app("uv_app", tmp_path, "uv")
    index = loopback_index.url
    env = loopback_locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    del env["PIP_INDEX_URL"]
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "PIP_INDEX_URL").write_text(index + "/simple-nohash/")
    (env_dir / "UV_INDEX_URL").write_text(index + "/simple/")
    cache = tmp_path / "cache"
    loopback_index.clear()
    result = build_and_run(app, cache, env_dir, env=env, command=check_command())
    hits = dict(loopback_index.hits)
    assert result.returncode == 0, result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert_installed_into_runtime(result.stdout)
    assert "Fetching uv from the index did not work (" in result.stdout, result.log
    assert "Could not fetch them from the index (" in result.stdout, result.log
    assert "Installing them with the pip bundled with the Python runtime (pip-" in result.stdout
    fields = report(cache)
    assert fields["uv_install_source"] == "pip"
    assert fields["buildpack_dependencies_source"] == "pip"
    # pip read uv's page on the index without hashes; uv fetched the app's
    # locked wheel.
    assert hits.get("/simple-nohash/uv/", 0) >= 1, hits
    assert _wheel_hits(hits, "gunicorn") == [1], hits

    # Another UV_INDEX_URL in ENV_DIR: uv now finds uv.lock made with another
    # index (so it read the file), and the changed setting made the rebuild
    # run the installer instead of skipping it.
    (env_dir / "UV_INDEX_URL").write_text(index + "/simple-nohash/")
    again = build_and_run(app, cache, env_dir, env=env, build_dir=tmp_path / "build-again")
    assert_clean_failure(again, "uv.lock is out of date")
    fields = report(cache)
    assert fields["dependencies_install_skipped"] is False
    assert fields["failure_reason"] == "install-dependencies::uv"
