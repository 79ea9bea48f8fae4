"""What the build fetches itself from the package index pip would use: the
buildpack's own dependencies and the pinned pip, as exact files checked
against the index's sha256, without running pip; and pip doing it instead
whenever that cannot be done."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from buildpack.core.settings import Settings, buildpack_root
from buildpack.selfdeps.bootstrap import read_pins, requirements
from tests.support import pure_wheel_files
from tests.support.builds import (
    build_and_run,
    build_env,
    copy_fixture,
    read_report,
    require_namespaces,
)
from tests.support.fault_server import Fault, FaultServer

pytestmark = pytest.mark.e2e

FIXTURE_REQUIREMENTS = buildpack_root() / "tests" / "fixtures" / "pip_app" / "requirements.txt"


@pytest.fixture(scope="module")
def index_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simple index of what a pip_app build fetches, copied with pip
    download from pip's configured index: simple/ with sha256 fragments,
    simple-nohash/ the same pages without them."""
    root = tmp_path_factory.mktemp("index")
    files = root / "files"
    toml = buildpack_root() / "buildpack.toml"
    tools = Settings.load(toml).tools
    # setuptools: preinstalled on the test's 3.11 runtime, as on Heroku.
    pins = [f"pip=={tools['pip']}", f"setuptools=={tools['setuptools']}"]
    wanted = [*pins, *requirements(read_pins(toml)), *FIXTURE_REQUIREMENTS.read_text().split()]
    download = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:"]
    subprocess.run([*download, "-d", files, *wanted], check=True)
    pure_wheel_files.download(files)  # the exact pinned files, tomli's pure one too
    for wheel in sorted(files.glob("*.whl")):
        project = re.sub(r"[-_.]+", "-", wheel.name.split("-", 1)[0]).lower()
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        for tree, fragment in (("simple", f"#sha256={digest}"), ("simple-nohash", "")):
            page = root / tree / project / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            with page.open("a") as f:
                f.write(f'<a href="../../files/{wheel.name}{fragment}">{wheel.name}</a>\n')
    return root


def _env(tmp_path: Path, mirror_url: str, index_url: str) -> dict[str, str]:
    """Only this index: none of the machine's pip config (its extra indexes)."""
    env = build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    for name in [k for k in env if k.startswith("PIP_")]:
        del env[name]
    (tmp_path / "no-config").mkdir()
    env.update(
        PIP_INDEX_URL=index_url,
        PIP_CONFIG_FILE=os.devnull,
        XDG_CONFIG_DIRS=str(tmp_path / "no-config"),
    )
    return env


def test_the_index_in_pip_index_url_serves_pip_and_the_buildpacks_libraries(
    tmp_path, runtime_archive, mirror_url, index_root
):
    require_namespaces()
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    cache = tmp_path / "cache"
    with FaultServer(index_root) as index:
        env = _env(tmp_path, mirror_url, index.url + "/simple/")
        result = build_and_run(app, cache, tmp_path / "env", env=env)
        hits = dict(index.hits)
    assert result.returncode == 0, result.log
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert "did not work" not in result.log and "Could not fetch" not in result.log, result.log
    # Fetched from this index, each page and file once.
    projects = ("pip", "setuptools", "zstandard", "requests", "pyyaml", "urllib3")
    for project in (*projects, "gunicorn", "packaging", "installer"):
        assert hits.get(f"/simple/{project}/", 0) >= 1, (project, hits)
    pip_wheels = [path for path in hits if re.match(r"/files/pip-[\d.]+-py3-none-any\.whl", path)]
    assert len(pip_wheels) == 1 and hits[pip_wheels[0]] == 1, hits
    report = read_report(cache)
    assert report["package_manager_install_from_index"] is True
    assert report["pip_install_source"] == "index"
    assert report["buildpack_dependencies_source"] == "index"
    assert report["pypa_libraries_source"] == "index"


def test_pip_installs_them_when_the_index_gives_no_hashes(
    tmp_path, runtime_archive, mirror_url, index_root
):
    """An index without sha256 fragments: nothing to check the files
    against, so the build has pip install both, from the same index, the PyPA
    wheels included."""
    require_namespaces()
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    cache = tmp_path / "cache"
    with FaultServer(index_root) as index:
        env = _env(tmp_path, mirror_url, index.url + "/simple-nohash/")
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
    # The PyPA wheels too: pip download, held to the lock's hashes.
    assert report["pypa_libraries_source"] == "pip"
    [complete] = (cache / ".heroku" / "buildpack-deps").glob("*/.complete")
    assert (complete.parent / "zstandard").is_dir()
    assert not (complete.parent / "packaging").exists()


def test_a_credentialed_index_and_mirror_work_and_the_password_is_never_shown(
    tmp_path, runtime_archive, index_root
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
        FaultServer(index_root, credentials=creds) as index,
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
    printed = subprocess.run(
        [sys.executable, str(buildpack_root() / "bin" / "report"), "b", str(cache)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    saved = (cache / "build-data" / "python.json").read_text()
    for text in (result.stdout, result.stderr, saved, printed):
        assert password not in text
