"""Each package manager is installed the fast way against a loopback index:
its exact files fetched from the index pip would use, checked against the
index's sha256 and unpacked without running pip. The report's
``<tool>_install_source`` says which way each install went, and the index's
request counts show that no pip fetched the tool a second time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.builds import build_and_run
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
    # No pip in the tool's venv: nothing ran one.
    [tool_dir] = (tmp_path / "cache" / ".heroku" / "tools").glob(f"{manager}-*-python3.*")
    assert not list(tool_dir.glob("venv/lib/python3*/site-packages/pip"))
