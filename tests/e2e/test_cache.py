"""The build cache end to end: real builds in /tmp/build_*, one CACHE_DIR.

Killing a build "mid-save" must hit windows a few system calls wide, which no
timing can do reliably. These tests use the buildpack's test-only pause
points (buildpack/pause_points.py): with BUILDPACK_TEST_PAUSE_AT=<point> and
BUILDPACK_TEST_PAUSE_FIFO=<fifo> in bin/compile's environment, the build
writes "<point> <pid>" to the FIFO at that point and waits. The test then
SIGKILLs that pid (nothing of the build's own cleanup runs) or lets it go on.
"""

from __future__ import annotations

import errno
import json
import os
import select
import shutil
import signal
import time
from pathlib import Path

import pytest

from buildpack.cache import cache_key
from buildpack.core.settings import Settings, buildpack_root
from tests.support.builds import (
    BuildResult,
    RunningBuild,
    build_and_run,
    build_env,
    copy_fixture,
    start_build,
)
from tests.support.slug_checks import report

pytestmark = pytest.mark.e2e

PIP = Settings.load(buildpack_root() / "buildpack.toml").tools["pip"]
# A safety net against a hung test, never a measurement.
_SAFETY_TIMEOUT = 300.0


@pytest.fixture
def app(tmp_path, runtime_archive) -> Path:
    return copy_fixture("pip_app", tmp_path / "src", python_version=runtime_archive.version)


@pytest.fixture
def env(mirror_url) -> dict[str, str]:
    return build_env(BUILDPACK_S3_BASE_URL=mirror_url)


def _build(app: Path, cache_dir: Path, env: dict[str, str], **kw) -> BuildResult:
    result = build_and_run(app, cache_dir, cache_dir.parent / "env", env=env, **kw)
    assert result.returncode == 0, result.log
    assert "Traceback" not in result.log, result.log
    return result


def _first_build(cache_dir: Path, good_cache: Path) -> None:
    """CACHE_DIR as a first successful build of pip_app leaves it: a copy of
    the session's (the same app, built the same way; see sandbox.good_cache)."""
    shutil.copytree(good_cache, cache_dir, symlinks=True)


def _assert_reused_and_skipped(result: BuildResult, cache_dir: Path) -> None:
    out = result.stdout
    assert "-----> Restoring cache" in out, out
    assert "Discarding cache" not in out, out
    assert "-----> Using cached pip" in out, out
    assert "-----> Installing pip" not in out, out
    assert "-----> Skipping dependency installation" in out, out
    assert "Installing dependencies using" not in out, out
    assert "Installing the buildpack's own dependencies" not in out, out
    fields = report(cache_dir)
    assert fields["cache_status"] == "reused"
    assert fields["dependencies_install_skipped"] is True
    assert fields["package_manager_install_skipped"] is True
    assert fields["pip_install_source"] == "cache"
    assert fields["buildpack_dependencies_source"] == "cache"
    # Nothing downloaded or unpacked: the kept libraries were not needed, so
    # not checked (bootstrap.Dependencies.ready) either.
    assert fields["buildpack_dependencies_checked"] is False
    # The requirements were found plain by the build that saved the cache.
    assert fields["dependency_files_checked"] == "cache"


def _assert_cache_complete(cache_dir: Path) -> dict:
    """The cache holds exactly one described tree and no leftovers."""
    heroku = cache_dir / ".heroku"
    meta = json.loads((heroku / "cache.json").read_text())
    assert meta["format"] == cache_key.FORMAT
    assert (heroku / "python" / "bin" / "python").exists()
    leftovers = [p.name for p in heroku.iterdir() if p.name.startswith((".python", "cache.json."))]
    assert leftovers == []
    return meta


# --- reuse and invalidation -------------------------------------------------------------


def test_unchanged_rebuild_reuses_the_cache_and_skips_installs(tmp_path, app, env):
    cache_dir = tmp_path / "cache"
    first = _build(app, cache_dir, env)
    assert "-----> Installing pip" in first.stdout
    assert "-----> Saving cache" in first.stdout
    assert report(cache_dir)["cache_status"] == "empty"

    second = _build(app, cache_dir, env)  # scripts/check-slug: the app answers
    _assert_reused_and_skipped(second, cache_dir)
    assert "RESPONSE: Hello from /app/.heroku/python" in second.stdout
    fields = report(cache_dir)
    for phase in ("cache_restore", "cache_save", "dependencies_install", "python_install"):
        assert isinstance(fields[f"{phase}_duration"], float), phase
    assert fields["cache_files_linked"] > 0
    _assert_cache_complete(cache_dir)


def test_nested_requirements_change_discards_and_reinstalls(tmp_path, app, env):
    (app / "requirements").mkdir()
    (app / "requirements" / "base.txt").write_text("gunicorn==27.0.1\n")
    (app / "requirements.txt").write_text("-r requirements/base.txt\n")
    cache_dir = tmp_path / "cache"
    _build(app, cache_dir, env, command=["true"])

    with open(app / "requirements" / "base.txt", "a") as f:
        f.write("six==1.17.0\n")
    check = "python -c 'import six; print(\"SIX\", six.__version__)' && pip --version"
    changed = _build(app, cache_dir, env, command=["bash", "-c", check])
    assert (
        "-----> Discarding cache since:\n"
        "       - The contents of requirements/base.txt changed\n" in changed.stdout
    )
    # pip's own files come from the seed the first build saved, not from a pip run.
    assert f"-----> Installing pip {PIP} (a verified copy from the build cache)" in changed.stdout
    assert report(cache_dir)["package_manager_install_from_seed"] is True
    assert report(cache_dir)["pip_install_source"] == "cache"
    assert "SIX 1.17.0" in changed.stdout
    assert f"pip {PIP} from /app/.heroku/python/" in changed.stdout
    fields = report(cache_dir)
    assert fields["cache_status"] == "discarded"
    assert fields["cache_discard_reasons"] == ["The contents of requirements/base.txt changed"]

    _assert_reused_and_skipped(_build(app, cache_dir, env, command=["true"]), cache_dir)


def test_an_older_cache_format_is_discarded_not_misread(tmp_path, app, env, good_cache):
    cache_dir = tmp_path / "cache"
    _first_build(cache_dir, good_cache)
    meta_path = cache_dir / ".heroku" / "cache.json"
    meta = json.loads(meta_path.read_text())
    meta["format"] = cache_key.FORMAT - 1
    meta_path.write_text(json.dumps(meta))

    result = _build(app, cache_dir, env)
    assert "-----> Discarding cache since:" in result.stdout
    assert f"older format (format {cache_key.FORMAT - 1}, now {cache_key.FORMAT})" in result.stdout
    assert "-----> Installing pip" in result.stdout
    assert "RESPONSE: Hello" in result.stdout
    _assert_cache_complete(cache_dir)


def test_changing_package_manager_discards(tmp_path, app, env, locked_apps, mirror_url, good_cache):
    cache_dir = tmp_path / "cache"
    _first_build(cache_dir, good_cache)
    uv_app = locked_apps.app("uv_app", tmp_path / "uv", "uv")
    result = _build(uv_app, cache_dir, locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url))
    assert "       - The package manager has changed from pip to uv\n" in result.stdout
    assert report(cache_dir)["cache_status"] == "discarded"
    assert "RESPONSE: Hello" in result.stdout


def test_editable_app_rebuild_runs_pip_and_still_works(tmp_path, env, runtime_archive):
    app = copy_fixture("pip_editable_app", tmp_path / "src", python_version=runtime_archive.version)
    cache_dir = tmp_path / "cache"
    _build(app, cache_dir, env, command=["true"])
    second = _build(app, cache_dir, env)
    assert "-----> Restoring cache" in second.stdout
    # Editable installs point into the app's source, which may have changed.
    assert "Installing dependencies using 'pip install -r requirements.txt'" in second.stdout
    assert "RESPONSE:" in second.stdout
    assert report(cache_dir)["dependencies_install_skipped"] is False


# --- killed builds -----------------------------------------------------------------------


class PausePoint:
    """Stops a build at a named point (see the module docstring)."""

    def __init__(self, tmp_path: Path, point: str) -> None:
        self.fifo = tmp_path / f"pause-{point}.fifo"
        os.mkfifo(self.fifo)
        self.env = {"BUILDPACK_TEST_PAUSE_AT": point, "BUILDPACK_TEST_PAUSE_FIFO": str(self.fifo)}
        # Opened without blocking, so waiting can also watch the build process.
        self._fd: int | None = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)

    def wait(self, build: RunningBuild) -> int:
        """Block until the build is paused; return bin/compile's pid."""
        assert self._fd is not None
        data = b""
        deadline = time.monotonic() + _SAFETY_TIMEOUT
        while b"\n" not in data:
            if build.popen.poll() is not None:
                pytest.fail(f"the build ended before its pause point:\n{build.log}")
            if time.monotonic() > deadline:
                build.kill_all()
                pytest.fail(f"the build never reached its pause point:\n{build.log}")
            ready, _, _ = select.select([self._fd], [], [], 0.1)
            if ready:
                data += os.read(self._fd, 4096)
        _point, pid = data.decode().split()
        return int(pid)

    def release(self, build: RunningBuild) -> None:
        """Let the paused build go on."""
        self.close()
        deadline = time.monotonic() + _SAFETY_TIMEOUT
        while True:
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:  # ENXIO: the build has not opened its end yet
                if exc.errno != errno.ENXIO or build.popen.poll() is not None:
                    raise
                if time.monotonic() > deadline:
                    pytest.fail(f"the paused build never waited:\n{build.log}")
                time.sleep(0.02)
        os.close(fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


# What the next build finds after a kill at each point. Restoring renames
# the cached tree into BUILD_DIR (as Heroku's buildpack does), so from then
# on until the save the cache is empty; a tree left without metadata is
# discarded with a reason. Never a half-written tree taken for a good one.
_AFTER_KILL = {
    # Metadata removed, tree not yet taken.
    "cache-restore": "discarded",
    # Tree taken by the restore, a half-made copy beside it.
    "cache-save-copy": "empty",
    # The complete copy not yet renamed into place.
    "cache-save-swap": "empty",
    # The new tree in place, its metadata not yet written.
    "cache-save-metadata": "discarded",
}


@pytest.mark.parametrize("point", sorted(_AFTER_KILL))
def test_a_build_killed_while_using_the_cache_leaves_it_usable(
    tmp_path, app, env, point, good_cache
):
    cache_dir = tmp_path / "cache"
    _first_build(cache_dir, good_cache)

    pause = PausePoint(tmp_path, point)
    try:
        killed = start_build(
            app,
            cache_dir,
            tmp_path / "env",
            env={**env, **pause.env},
            # A killed build leaves its directory: keep it in tmp_path.
            build_dir=tmp_path / "killed-build",
        )
        os.kill(pause.wait(killed), signal.SIGKILL)
        result = killed.finish(timeout=_SAFETY_TIMEOUT)
    finally:
        pause.close()
    assert result.returncode != 0, result.log
    heroku = cache_dir / ".heroku"
    if point.startswith("cache-save-") and point != "cache-save-metadata":
        assert [p.name for p in heroku.glob(".python.saving-*")], "no half-saved copy left"
    assert not (heroku / "cache.json").exists()

    after = _build(app, cache_dir, env)  # check-slug: the app answers
    assert "RESPONSE: Hello from /app/.heroku/python" in after.stdout
    assert report(cache_dir)["cache_status"] == _AFTER_KILL[point], after.stdout
    if _AFTER_KILL[point] == "discarded":
        assert "       - The cache has no metadata" in after.stdout
    _assert_cache_complete(cache_dir)
    # And the cache it saved is a good one.
    _assert_reused_and_skipped(_build(app, cache_dir, env, command=["true"]), cache_dir)


# --- concurrency --------------------------------------------------------------------------


def test_two_builds_at_once_on_one_cache(tmp_path, app, env, good_cache):
    cache_dir = tmp_path / "cache"
    # Requirements that differ from the cached ones: both builds reinstall,
    # and each discards, restores and saves while the other is running.
    _first_build(cache_dir, good_cache)
    (app / "requirements.txt").write_text("gunicorn==27.0.1\nsix==1.17.0\n")

    # The first build holds the lock at the riskiest moment of its save.
    pause = PausePoint(tmp_path, "cache-save-swap")
    try:
        first = start_build(app, cache_dir, tmp_path / "env", env={**env, **pause.env})
        pause.wait(first)
        second = start_build(app, cache_dir, tmp_path / "env2", env=env)
        second.wait_until(
            lambda: second.saw("Waiting for another build using this cache"),
            "the second build waits for the cache",
            timeout=_SAFETY_TIMEOUT,
        )
        pause.release(first)
        first_result = first.finish(timeout=_SAFETY_TIMEOUT)
        second_result = second.finish(timeout=_SAFETY_TIMEOUT)
    finally:
        pause.close()
    for result in (first_result, second_result):
        assert result.returncode == 0, result.log
        assert "RESPONSE: Hello" in result.stdout, result.log
    assert "Discarding cache since:" in first_result.stdout
    # The second saw the first's finished cache, not a half-saved one.
    assert "Got the cache after waiting" in second_result.stdout
    assert "-----> Skipping dependency installation" in second_result.stdout
    meta = _assert_cache_complete(cache_dir)
    assert meta["key"]["dependency_files"]["requirements.txt"]
    _assert_reused_and_skipped(_build(app, cache_dir, env, command=["true"]), cache_dir)
