"""What the build fetches itself from the package index pip would use: the
buildpack's own dependencies and the pinned pip, as exact files checked
against the index's sha256, without running pip; and pip doing it instead
whenever that cannot be done."""

from __future__ import annotations

import re

import pytest

from tests.support.builds import (
    build_and_run,
    build_env,
    copy_fixture,
    read_report,
    require_namespaces,
)
from tests.support.loopback_index import only_this_index

pytestmark = pytest.mark.e2e


def test_the_index_in_pip_index_url_serves_pip_and_the_buildpacks_libraries(
    tmp_path, runtime_archive, mirror_url, loopback_index
):
    require_namespaces()
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    cache = tmp_path / "cache"
    loopback_index.clear()
    env = build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    env = only_this_index(env, loopback_index.url + "/simple/", tmp_path)
    result = build_and_run(app, cache, tmp_path / "env", env=env)
    hits = dict(loopback_index.hits)
    assert result.returncode == 0, result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert "did not work" not in result.log and "Could not fetch" not in result.log, result.log
    # Fetched from this index, each page and file once.
    for project in ("pip", "zstandard", "requests", "pyyaml", "urllib3", "gunicorn"):
        assert hits.get(f"/simple/{project}/", 0) >= 1, (project, hits)
    pip_wheels = [path for path in hits if re.match(r"/files/pip-[\d.]+-py3-none-any\.whl", path)]
    assert len(pip_wheels) == 1 and hits[pip_wheels[0]] == 1, hits
    report = read_report(cache)
    assert report["package_manager_install_from_index"] is True
    assert report["pip_install_source"] == "index"
    assert report["buildpack_dependencies_source"] == "index"


def test_pip_installs_them_when_the_index_gives_no_hashes(
    tmp_path, runtime_archive, mirror_url, loopback_index
):
    """An index without sha256 fragments: nothing to check the files
    against, so the build has pip install both, from the same index."""
    require_namespaces()
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    cache = tmp_path / "cache"
    env = build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    env = only_this_index(env, loopback_index.url + "/simple-nohash/", tmp_path)
    result = build_and_run(app, cache, tmp_path / "env", env=env)
    assert result.returncode == 0, result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert "Could not fetch them from the index (" in result.stdout, result.log
    assert "Fetching pip from the index did not work (" in result.stdout, result.log
    assert "Traceback" not in result.log
    report = read_report(cache)
    assert "package_manager_install_from_index" not in report
    assert report["pip_install_source"] == "pip"
    assert report["buildpack_dependencies_source"] == "pip"
    [deps] = (cache / ".heroku" / "buildpack-deps").iterdir()
    assert (deps / ".complete").is_file() and (deps / "zstandard").is_dir()
