"""The /app/.heroku/python link: one build per host holds it until it ends.

Two contexts share one stand-in for /app (as two builds on a host share the
real one); each FileLock is its own open file, so they exclude each other
as two processes' would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from buildpack.core import errors
from buildpack.runtime import runtime
from tests.unit.ctx_factory import Captured, make_ctx


def two_builds(tmp_path: Path) -> tuple[Captured, Captured]:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    first = make_ctx(tmp_path / "one", config={runtime.APP_LOCK_TIMEOUT: "0.3"})
    second = make_ctx(tmp_path / "two", config={runtime.APP_LOCK_TIMEOUT: "0.3"})
    shared_app = tmp_path / "app"
    shared_app.mkdir()
    for c in (first, second):
        c.ctx.app_dir = shared_app
        c.ctx.build_python_home.mkdir(parents=True)
    return first, second


def test_a_live_builds_link_is_never_repointed(tmp_path):
    first, second = two_builds(tmp_path)
    assert runtime.link_into_app(first.ctx)
    link = first.ctx.python_home
    assert os.readlink(link) == str(first.ctx.build_python_home)

    with pytest.raises(errors.BuildError) as info:
        runtime.link_into_app(second.ctx)
    assert info.value.reason == "install-python::app-link-busy"
    assert "Waiting for another build on this machine to finish with" in second.log
    assert os.readlink(link) == str(first.ctx.build_python_home)

    # The first build ends (its process exits): the second may take over.
    assert first.ctx.app_link_lock is not None
    first.ctx.app_link_lock.release()
    assert runtime.link_into_app(second.ctx)
    assert os.readlink(link) == str(second.ctx.build_python_home)
    assert (link.parent / runtime.APP_LOCK_NAME).is_file()


def test_a_planted_lock_link_is_not_followed(tmp_path):
    first, _ = two_builds(tmp_path)
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    lock = first.ctx.python_home.with_name(runtime.APP_LOCK_NAME)
    lock.parent.mkdir(parents=True)
    lock.symlink_to(victim)
    with pytest.raises(errors.BuildError) as info:
        runtime.link_into_app(first.ctx)
    assert info.value.reason == "install-python::app-symlink"
    assert victim.read_text() == "keep me"
