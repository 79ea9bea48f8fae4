"""Links planted in CACHE_DIR, and a CACHE_DIR removed during the build."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from buildpack.cache import cache, cache_guard
from buildpack.cache.cache_lock import FileLock
from buildpack.core import report, safe_fs
from tests.support.tree import tree_digest


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    root = tmp_path / "outside"
    (root / "python").mkdir(parents=True)
    (root / "python" / "keep.txt").write_text("keep")
    (root / "victim").write_text("must stay\n")
    return root


@pytest.mark.parametrize(
    "planted",
    [".heroku", "build-data", ".heroku/cache.lock", ".heroku/buildpack-deps", ".heroku/tools"],
)
def test_a_planted_link_is_removed_never_followed(tmp_path, outside, planted):
    cache_dir = tmp_path / "cache"
    (cache_dir / ".heroku").mkdir(parents=True)
    target = outside / "victim" if planted.endswith(".lock") else outside
    if planted == ".heroku":
        (cache_dir / ".heroku").rmdir()
    (cache_dir / planted).symlink_to(target)
    before = tree_digest(outside)
    reasons = cache_guard.check_links(cache_dir)
    assert reasons == [
        f"CACHE_DIR/{planted} was a symbolic link to {target}: removed, not followed"
    ]
    assert not os.path.lexists(cache_dir / planted)
    assert tree_digest(outside) == before


def test_a_linked_lock_discards_the_cached_tree(tmp_path, outside):
    cache_dir = tmp_path / "cache"
    heroku = cache_dir / ".heroku"
    (heroku / "python" / "bin").mkdir(parents=True)
    (heroku / "cache.json").write_text("{}")
    (heroku / "cache.lock").symlink_to(outside / "victim")
    reasons = cache_guard.check_links(cache_dir)
    assert reasons[-1] == "the cached Python tree was discarded with it: removed"
    assert sorted(os.listdir(heroku)) == []
    assert (outside / "victim").read_text() == "must stay\n"


def test_an_untouched_cache_is_left_alone(tmp_path):
    cache_dir = tmp_path / "cache"
    (cache_dir / ".heroku" / "python").mkdir(parents=True)
    (cache_dir / ".heroku" / "cache.json").write_text("{}")
    assert cache_guard.check_links(cache_dir) == []
    assert sorted(os.listdir(cache_dir / ".heroku")) == ["cache.json", "python"]


def test_the_lock_never_opens_a_link(tmp_path, outside):
    lock_path = tmp_path / "cache.lock"
    lock_path.symlink_to(outside / "victim")
    with pytest.raises(OSError) as info:
        FileLock(lock_path).acquire(0)
    assert safe_fs.is_link_error(info.value)
    assert (outside / "victim").read_text() == "must stay\n"


def test_atomic_writes_replace_a_link_and_ignore_planted_temp_names(tmp_path, outside):
    path = tmp_path / "cache.json"
    path.symlink_to(outside / "victim")
    # The old temporary name was predictable: a link there was written through.
    (tmp_path / f"cache.json.tmp-{os.getpid()}").symlink_to(outside / "victim")
    safe_fs.write_atomic(path, "{}")
    assert not path.is_symlink() and path.read_text() == "{}"
    assert (outside / "victim").read_text() == "must stay\n"


def test_the_report_is_saved_without_following_links(tmp_path, outside):
    cache_dir = tmp_path / "cache"
    (cache_dir / "build-data").mkdir(parents=True)
    (cache_dir / report.REPORT_PATH).symlink_to(outside / "victim")
    r = report.Report()
    r.set("python_version", "3.13.1")
    r.save(cache_dir)
    assert report.load(cache_dir) == {"python_version": "3.13.1"}
    assert (outside / "victim").read_text() == "must stay\n"


def test_a_cache_dir_deleted_or_replaced_during_the_build_is_noticed(tmp_path):
    cache_dir = tmp_path / "cache"
    (cache_dir / ".heroku").mkdir(parents=True)
    stamp = cache_guard.CacheDirStamp(cache_dir)
    stamp.watch(cache_dir / cache.HEROKU_DIR)
    assert stamp.problem() is None
    shutil.rmtree(cache_dir / ".heroku")
    assert stamp.problem() == "CACHE_DIR/.heroku was deleted during the build"
    shutil.rmtree(cache_dir)
    assert stamp.problem() == "CACHE_DIR was deleted during the build"
    (cache_dir / ".heroku").mkdir(parents=True)
    assert stamp.problem() == "CACHE_DIR was replaced by another directory during the build"
