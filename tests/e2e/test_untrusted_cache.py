"""CACHE_DIR as an earlier, hostile build may have left it, and a hook that
deletes it: real builds (scripts/build-and-run) on a copy of a warm cache.

What an earlier build can plant there stands for what a post_compile hook
or a malicious dependency, running as root, could do: links out of the
cache where the buildpack writes, and code in the libraries it imports.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.support.builds import build_and_run, build_env, copy_fixture, read_report
from tests.support.tree import tree_digest

pytestmark = pytest.mark.e2e


@pytest.fixture
def cache(tmp_path: Path, warm_cache: Path) -> Path:
    cache = tmp_path / "cache"
    shutil.copytree(warm_cache, cache, symlinks=True)
    return cache


def _build(tmp_path: Path, cache: Path, mirror_url: str, version: str, app=None):
    if app is None:
        app = tmp_path / "src" / "pip_app"
        if not app.exists():
            app = copy_fixture("pip_app", tmp_path / "src", python_version=version)
    result = build_and_run(
        app, cache, tmp_path / "env", env=build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    )
    assert result.returncode == 0, result.log
    assert "Traceback" not in result.log, result.log
    return result


def test_planted_links_and_a_tampered_library_are_not_trusted(
    tmp_path, cache, runtime_archive, mirror_url
):
    outside = tmp_path / "outside"
    # The cache's own .heroku, moved out and linked back: the old build
    # followed the link, deleting and writing there.
    shutil.move(cache / ".heroku", outside)
    (cache / ".heroku").symlink_to(outside)
    victim = tmp_path / "victim.conf"
    victim.write_text("must stay as it is\n")
    before = {"outside": tree_digest(outside), "victim": victim.read_bytes()}

    first = _build(tmp_path, cache, mirror_url, runtime_archive.version)
    assert "Not trusting parts of the build cache:" in first.stdout
    assert f"- CACHE_DIR/.heroku was a symbolic link to {outside}: removed" in first.stdout
    assert tree_digest(outside) == before["outside"]
    assert read_report(cache)["cache_untrusted"] == [
        f"CACHE_DIR/.heroku was a symbolic link to {outside}: removed, not followed"
    ]

    # The next build's cache: a linked lock, and code planted in a library
    # the buildpack imports (zstandard, to unpack the runtime).
    heroku = cache / ".heroku"
    (heroku / "cache.lock").unlink()
    (heroku / "cache.lock").symlink_to(victim)
    [complete] = (heroku / "buildpack-deps").glob("*/.complete")
    deps = complete.parent
    marker = tmp_path / "planted-code-ran"
    with open(deps / "zstandard" / "__init__.py", "a") as f:
        f.write(f"\nopen({str(marker)!r}, 'w').write('ran')\n")

    second = _build(tmp_path, cache, mirror_url, runtime_archive.version)
    out = second.stdout
    assert f"- CACHE_DIR/.heroku/cache.lock was a symbolic link to {victim}: removed" in out
    assert "- the cached Python tree was discarded with it: removed" in out
    assert "the buildpack's own libraries in CACHE_DIR/.heroku/buildpack-deps/" in out
    assert "zstandard/__init__.py differs from the locked wheel's" in out
    assert "Installing the buildpack's own dependencies" in out  # fetched again
    assert not marker.exists()
    assert victim.read_bytes() == before["victim"]
    assert tree_digest(outside) == before["outside"]
    fields = read_report(cache)
    assert len(fields["cache_untrusted"]) == 3
    assert fields["buildpack_dependencies_source"] == "index"
    assert fields["buildpack_dependencies_checked"] is True

    # The third build trusts what the second one left.
    third = _build(tmp_path, cache, mirror_url, runtime_archive.version)
    assert "Not trusting" not in third.stdout
    assert "Installing the buildpack's own dependencies" not in third.stdout


def test_a_post_compile_hook_that_deletes_the_cache_dir(
    tmp_path, cache, runtime_archive, mirror_url
):
    """As one of Heroku's own test apps does. The buildpack's libraries are
    being fetched into CACHE_DIR meanwhile (removed from the warm cache)."""
    shutil.rmtree(cache / ".heroku" / "buildpack-deps")
    app = copy_fixture("pip_app", tmp_path / "src", python_version=runtime_archive.version)
    (app / "bin").mkdir()
    (app / "bin" / "post_compile").write_text('rm -rf "$CACHE_DIR"\necho removed the cache\n')
    result = _build(tmp_path, cache, mirror_url, runtime_archive.version, app)
    assert "removed the cache" in result.stdout
    assert " !     Warning: Nothing from this build was cached" in result.stderr, result.log
    # Not "replaced": the fetch still running into it did not make it again.
    assert "CACHE_DIR was deleted during the build (by a hook?)" in result.stderr, result.log
    # Only the report is there (bin/report reads it): nothing else was saved.
    assert sorted(p.name for p in cache.iterdir()) == ["build-data"], result.log
    assert read_report(cache)["cache_save_error"] == "CACHE_DIR was deleted during the build"
