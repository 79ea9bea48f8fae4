"""bin/compile run by hand, as a new user meets it: a second build of the
same BUILD_DIR, and a user who is not root and cannot write to /app."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.staging import run_staged
from tests.support.builds import build_env, copy_fixture, read_report
from tests.support.fault_server import FaultServer

pytestmark = pytest.mark.e2e

NOBODY = 65534

_TWICE = r"""
"$BUILDPACK/bin/compile" "$BUILD_DIR" "$CACHE_DIR" "$ENV_DIR"
echo "=== second compile"
status=0
"$BUILDPACK/bin/compile" "$BUILD_DIR" "$CACHE_DIR" "$ENV_DIR" || status=$?
echo "=== second exit $status"
"""


def test_a_second_compile_of_a_built_dir_says_so(tmp_path, runtime_archive, mirror_url, warm_cache):
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache, symlinks=True)
    result = run_staged(
        app, cache, tmp_path / "env", _TWICE, env=build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    )
    assert result.returncode == 0, result.log
    first, second = result.stdout.split("=== second compile\n")
    assert "Installing Python" in first
    assert "=== second exit 1" in second
    assert "Error: This build directory was built already" in result.stderr
    assert "Build a fresh copy of the app instead" in result.stderr
    assert "contains a .heroku/python directory" not in result.stderr  # not the app's fault
    assert "Traceback" not in result.log
    assert read_report(cache)["failure_reason"] == "checks::already-built"


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the unprivileged user can reach (pytest's tmp_path is root's alone)."""
    path = Path(tempfile.mkdtemp(prefix="by-hand-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def watched(shared_dir: Path) -> Iterator[tuple[FaultServer, FaultServer]]:
    """A runtime mirror and a package index that count every request."""
    (shared_dir / "mirror").mkdir()
    (shared_dir / "index").mkdir()
    with FaultServer(shared_dir / "mirror") as mirror, FaultServer(shared_dir / "index") as index:
        yield mirror, index


# As nobody, with /usr/bin/python3 (root's pyenv is not readable to others).
_AS_NOBODY = r"""
chown -R {uid}:{uid} "$BUILD_DIR" "$CACHE_DIR" "$ENV_DIR" "$NOBODY_HOME"
{prepare}
status=0
setpriv --reuid={uid} --regid={uid} --clear-groups -- \
  env HOME="$NOBODY_HOME" PATH=/usr/bin:/bin \
  "$BUILDPACK/bin/compile" "$BUILD_DIR" "$CACHE_DIR" "$ENV_DIR" || status=$?
echo "=== exit $status"
"""


def run_as_nobody(shared_dir: Path, watched, prepare: str = ""):
    mirror, index = watched
    app = copy_fixture("pip_app", shared_dir, python_version="3.11.99")
    home = shared_dir / "home"
    home.mkdir()
    env = build_env(
        BUILDPACK_S3_BASE_URL=mirror.url,
        PIP_INDEX_URL=f"{index.url}/simple",
        NOBODY_HOME=str(home),
    )
    steps = _AS_NOBODY.format(uid=NOBODY, prepare=prepare)
    return run_staged(app, shared_dir / "cache", shared_dir / "env", steps, env=env)


def test_without_a_writable_app_dir_it_fails_before_downloading(shared_dir, watched):
    if not Path("/usr/bin/python3").exists() or not shutil.which("setpriv"):
        pytest.skip("needs /usr/bin/python3 and setpriv")
    assert os.access(Path(__file__).parents[2] / "bin" / "compile", os.R_OK)
    result = run_as_nobody(shared_dir, watched)
    assert "=== exit 1" in result.stdout, result.log
    assert "Error: The build cannot link the runtime into /app" in result.stderr, result.log
    assert f"This user (uid {NOBODY}) cannot write" in result.stderr
    assert "Nothing was downloaded" in result.stderr
    assert 'sudo chown "$(id -u)" /app/.heroku' in result.stderr
    assert "Traceback" not in result.log
    mirror, index = watched
    assert (dict(mirror.hits), dict(index.hits)) == ({}, {})
    assert read_report(shared_dir / "cache")["failure_reason"] == "checks::app-dir-not-writable"


def test_the_advice_works(shared_dir, watched):
    """With /app/.heroku made the user's, the build goes on (to the runtime,
    which this mirror does not have)."""
    if not Path("/usr/bin/python3").exists() or not shutil.which("setpriv"):
        pytest.skip("needs /usr/bin/python3 and setpriv")
    prepare = f"mkdir -p /app/.heroku && chown {NOBODY} /app/.heroku"
    result = run_as_nobody(shared_dir, watched, prepare)
    assert "=== exit 1" in result.stdout, result.log
    assert "cannot link the runtime into /app" not in result.stderr
    assert "Python 3.11.99 is not available" in result.stderr, result.log
    mirror, _ = watched
    assert mirror.hits, "it went on to the runtime download"
