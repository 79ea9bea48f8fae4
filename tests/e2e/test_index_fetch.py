"""What the build fetches itself from the package index pip would use: the
buildpack's own dependencies and the pinned pip, as exact files checked
against the index's sha256, without running pip; and pip doing it instead
whenever that cannot be done. The index is the session's loopback index
(tests/support/loopback_index.py): simple/ lists sha256s, simple-nohash/ not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.builds import (
    HostPython,
    build_and_run,
    build_env,
    copy_fixture,
    read_report,
    require_namespaces,
    run_bin,
)
from tests.support.fault_server import Fault, FaultServer
from tests.support.loopback_index import only_this_index

pytestmark = pytest.mark.e2e


def _env(
    tmp_path: Path, mirror_url: str, index_url: str, host_python: HostPython = "pipless"
) -> dict[str, str]:
    """Only this index: none of the machine's pip config (its extra indexes)."""
    env = build_env(host_python=host_python, BUILDPACK_S3_BASE_URL=mirror_url)
    return only_this_index(env, index_url, tmp_path)


def test_index_config_vars_in_env_dir_serve_pip_and_the_buildpacks_libraries(
    tmp_path, runtime_archive, mirror_url, loopback_index
):
    """As Heroku delivers them: PIP_INDEX_URL and PIP_EXTRA_INDEX_URL only as
    files in ENV_DIR, not in bin/compile's environment."""
    require_namespaces()
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    cache = tmp_path / "cache"
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    index = loopback_index.url
    env = _env(tmp_path, mirror_url, index + "/simple/")
    del env["PIP_INDEX_URL"]
    (env_dir / "PIP_INDEX_URL").write_text(index + "/simple/")
    # An extra index with nothing on it: pip asks it too, then takes the main one's.
    (env_dir / "PIP_EXTRA_INDEX_URL").write_text(index + "/extra/")
    loopback_index.clear()
    result = build_and_run(app, cache, env_dir, env=env)
    hits = dict(loopback_index.hits)
    assert result.returncode == 0, result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert "did not work" not in result.log and "Could not fetch" not in result.log, result.log
    # Fetched from this index, each page and file once.
    projects = ("pip", "setuptools", "zstandard", "requests", "pyyaml", "urllib3")
    for project in (*projects, "gunicorn", "packaging", "installer"):
        assert hits.get(f"/simple/{project}/", 0) >= 1, (project, hits)
    pip_wheels = [path for path in hits if re.match(r"/files/pip-[\d.]+-py3-none-any\.whl", path)]
    assert len(pip_wheels) == 1 and hits[pip_wheels[0]] == 1, hits
    # The app's installer got the extra index from ENV_DIR as well.
    assert hits.get("/extra/gunicorn/", 0) >= 1, hits
    report = read_report(cache)
    assert report["package_manager_install_from_index"] is True
    assert report["pip_install_source"] == "index"
    assert report["buildpack_dependencies_source"] == "index"
    assert report["pypa_libraries_source"] == "index"


# Which pip installs the buildpack's libraries when the index cannot be used.
_BOOTSTRAP_PIP = {
    # Heroku's images: python3 has no pip, the runtime just installed has one.
    "pipless": "Installing them with the pip bundled with the Python runtime (pip-",
    # A host python3 with pip (the test runner's).
    "runner": "Installing them with the pip of ",
}


@pytest.mark.parametrize("host_python", ["pipless", "runner"])
def test_pip_installs_them_when_the_index_gives_no_hashes(
    tmp_path, runtime_archive, mirror_url, loopback_index, host_python: HostPython
):
    """An index without sha256 fragments: nothing to check the files
    against, so the build has pip install both, from the same index, the PyPA
    wheels included."""
    require_namespaces()
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    cache = tmp_path / "cache"
    env = _env(
        tmp_path, mirror_url, loopback_index.url + "/simple-nohash/", host_python=host_python
    )
    result = build_and_run(app, cache, tmp_path / "env", env=env)
    assert result.returncode == 0, result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert "Could not fetch them from the index (" in result.stdout, result.log
    assert _BOOTSTRAP_PIP[host_python] in result.stdout, result.log
    assert "Fetching pip from the index did not work (" in result.stdout, result.log
    assert "Traceback" not in result.log
    report = read_report(cache)
    assert "package_manager_install_from_index" not in report
    assert report["pip_install_source"] == "pip"
    assert report["buildpack_dependencies_source"] == "pip"
    # The PyPA wheels too: pip download, held to the lock's hashes.
    assert report["pypa_libraries_source"] == "pip"
    [complete] = (cache / ".heroku" / "buildpack-deps").glob("*/.complete")
    assert (complete.parent / "zstandard").is_dir()
    assert not (complete.parent / "packaging").exists()


def test_a_credentialed_index_and_mirror_work_and_the_password_is_never_shown(
    tmp_path, runtime_archive, loopback_index
):
    """user:password@ in PIP_INDEX_URL and BUILDPACK_S3_BASE_URL: urllib (the
    runtime download before the buildpack's libraries are there, and every
    fetch from the index) read it as a port that is not a number, and the
    password was printed in retry lines and failure details."""
    require_namespaces()
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    cache = tmp_path / "cache"
    password = "pa55-w0rd-XYZ"
    creds = ("deploy", password)
    with (
        FaultServer(loopback_index.root, credentials=creds) as index,
        FaultServer(runtime_archive.dir, credentials=creds) as mirror,
    ):
        with_creds = {
            s: s.url.replace("http://", f"http://deploy:{password}@") for s in (index, mirror)
        }
        env = _env(tmp_path, with_creds[mirror], with_creds[index] + "/simple/")
        # One 503 from the mirror: the retry line names the URL.
        mirror.add(f"/{runtime_archive.name}", Fault("status", status=503))
        result = build_and_run(app, cache, tmp_path / "env", env=env)
        index_hits, mirror_hits = dict(index.hits), dict(mirror.hits)
        authorized = index.authorizations + mirror.authorizations
    assert result.returncode == 0, result.log
    assert "did not work" not in result.log and "Could not fetch" not in result.log, result.log
    assert "retrying in" in result.log and "http://****@127.0.0.1:" in result.log
    # Every request carried the credentials: the fast paths and pip alike.
    assert len(authorized) == sum(index_hits.values()) + sum(mirror_hits.values())
    assert index_hits.get("/simple/zstandard/") and index_hits.get("/simple/gunicorn/")
    report = read_report(cache)
    assert report["buildpack_dependencies_source"] == "index"
    printed = run_bin("report", "build", cache, env=build_env()).stdout
    saved = (cache / "build-data" / "python.json").read_text()
    for text in (result.stdout, result.stderr, saved, printed):
        assert password not in text
