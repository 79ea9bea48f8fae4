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
    assert report(tmp_path / "cache")["uv_install_source"] == "index"
    assert "did not work" not in result.log, result.log
    # pip, had it run, would have read uv's page and fetched its wheel again.
    assert hits.get("/simple/uv/") == 1, hits
    assert _wheel_hits(hits, "uv") == [1], hits
