"""The core promise, end to end: a pip app built in /tmp/build_* runs at /app."""

from __future__ import annotations

import pytest

from buildpack.core.settings import Settings, buildpack_root
from tests.support.builds import (
    assert_clean_failure,
    build_and_run,
    build_env,
    copy_fixture,
    read_report,
)

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("mirror", ["http", "file"])
def test_pip_app_relocates_and_serves(
    tmp_path, runtime_archive, mirror_url, file_mirror_url, mirror
):
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    base = mirror_url if mirror == "http" else file_mirror_url
    # The machine's own pip settings (its index over the network, extra
    # indexes, certificate), where other builds use the session's mirror of it.
    env = build_env(index="configured", BUILDPACK_S3_BASE_URL=base)
    result = build_and_run(app, tmp_path / "cache", tmp_path / "env", env=env)
    assert result.returncode == 0, result.log
    assert f"Installing Python {runtime_archive.version}" in result.stdout
    assert "entrypoints with /app shebangs:" in result.stdout
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout, result.log
    assert "Traceback" not in result.log
    # A first build: the index serves the buildpack's libraries and pip; an
    # http mirror is read with urllib until those libraries are there.
    report = read_report(tmp_path / "cache")
    assert report["python_download_transport"] == ("urllib" if mirror == "http" else "file")
    assert report["buildpack_dependencies_source"] == "index"
    assert report["pip_install_source"] == "index"


def test_missing_version_is_not_a_network_error(tmp_path, mirror_url):
    app = copy_fixture("pip_app", tmp_path, python_version="3.12.99")
    result = build_and_run(
        app, tmp_path / "cache", tmp_path / "env", env=build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    )
    assert_clean_failure(result, "Python 3.12.99 is not available")


# Run in the relocated slug: pip installed without running pip works at /app,
# and every file its RECORD lists is there with the hash RECORD gives.
_CHECK_PIP = r"""
import base64, csv, hashlib, pathlib, subprocess, sys
[site] = pathlib.Path(sys.prefix, "lib").glob("python3*/site-packages")
[dist] = site.glob("pip-*.dist-info")
rows = list(csv.reader((dist / "RECORD").open()))
for path, digest, size in rows:
    full = (site / path).resolve()
    if digest:
        actual = base64.urlsafe_b64encode(hashlib.sha256(full.read_bytes()).digest()).rstrip(b"=")
        assert digest == "sha256=" + actual.decode(), path
    else:
        assert full.exists() or path.endswith("RECORD"), path
pycs = [p for p, _, _ in rows if p.endswith(".pyc")]
print("pip RECORD ok:", len(rows), "rows,", len(pycs), "pyc")
print(subprocess.run(["pip", "--version"], capture_output=True, text=True, check=True).stdout)
"""


def test_cold_build_fetches_pip_and_its_own_libraries_from_the_index(
    tmp_path, runtime_archive, mirror_url
):
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    cache = tmp_path / "cache"
    result = build_and_run(
        app,
        cache,
        tmp_path / "env",
        env=build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        command=["python", "-c", _CHECK_PIP],
    )
    assert result.returncode == 0, result.log
    assert "Installing the buildpack's own dependencies" in result.stdout
    # Neither fell back to running pip.
    assert "did not work" not in result.log and "Could not fetch" not in result.log, result.log
    assert "pip RECORD ok:" in result.stdout, result.log
    pip_version = Settings.load(buildpack_root() / "buildpack.toml").tools["pip"]
    assert f"pip {pip_version} from /app/.heroku/python/lib/" in result.stdout, result.log
    report = read_report(cache)
    assert report["package_manager_install_from_index"] is True
    assert report["buildpack_dependencies_source"] == "index"
    assert report["pypa_libraries_source"] == "index"
    [deps] = (cache / ".heroku" / "buildpack-deps").glob("*/.complete")
    deps = deps.parent
    assert {"zstandard", "requests", "yaml", "urllib3", "certifi"} <= {
        p.name for p in deps.iterdir()
    }
