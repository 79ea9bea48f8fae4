"""Links an app commits where the build writes, reads for the log, or runs:
the files outside the app stay byte-identical (mode included)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from buildpack.app import checks
from buildpack.core import errors
from buildpack.slug_env import dyno_env, envfiles
from buildpack.steps import hooks, nltk
from tests.support.tree import tree_digest
from tests.unit.ctx_factory import Captured, fake_site_packages, make_ctx


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory outside the app, standing for /etc."""
    root = tmp_path / "outside"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "shadow").write_text("root:SECRET-HASH:19000::::::\n")
    (root / "etc" / "shadow").chmod(0o640)
    (root / "etc" / "cron.sh").write_text("#!/bin/sh\necho SECRET-CRON\n")
    (root / "etc" / "cron.sh").chmod(0o644)
    return root


def _unchanged(outside: Path, before: dict[str, str]) -> None:
    assert tree_digest(outside) == before
    assert stat.S_IMODE(os.stat(outside / "etc").st_mode) == 0o755


def test_a_linked_profile_script_is_replaced_not_written_through(tmp_path, outside):
    c = make_ctx(tmp_path)
    before = tree_digest(outside)
    profile = c.ctx.build_dir / ".profile.d"
    profile.mkdir()
    (profile / "python.sh").symlink_to(outside / "etc" / "shadow")
    (profile / dyno_env.GUNICORN_SCRIPT).symlink_to(outside / "etc" / "cron.sh")
    envfiles.write(c.ctx)
    dyno_env.write_profile_scripts(c.ctx.build_dir)
    _unchanged(outside, before)
    assert not (profile / "python.sh").is_symlink()
    assert "PYTHONHOME" in (profile / "python.sh").read_text()
    assert not (profile / dyno_env.GUNICORN_SCRIPT).is_symlink()


def test_a_profile_dir_linked_out_of_the_app_is_refused(tmp_path, outside):
    c = make_ctx(tmp_path)
    before = tree_digest(outside)
    (c.ctx.build_dir / ".profile.d").symlink_to(outside / "etc")
    with pytest.raises(errors.BuildError) as info:
        envfiles.write(c.ctx)
    assert info.value.reason == "checks::app-file::outside-app"
    assert ".profile.d points outside the app" in info.value.title
    with pytest.raises(errors.BuildError):
        dyno_env.write_profile_scripts(c.ctx.build_dir)
    _unchanged(outside, before)


def test_a_profile_dir_linked_inside_the_app_is_fine(tmp_path):
    c = make_ctx(tmp_path)
    (c.ctx.build_dir / "config" / "profile").mkdir(parents=True)
    (c.ctx.build_dir / ".profile.d").symlink_to("config/profile")
    envfiles.write(c.ctx)
    assert (c.ctx.build_dir / "config" / "profile" / "python.sh").is_file()


@pytest.mark.parametrize("executable", [True, False])
def test_a_hook_linked_out_of_the_app_is_refused_not_run_or_chmodded(tmp_path, outside, executable):
    c = make_ctx(tmp_path)
    target = outside / "etc" / "cron.sh"
    if executable:
        target.chmod(0o755)
    before = tree_digest(outside)
    (c.ctx.build_dir / "bin").mkdir()
    (c.ctx.build_dir / "bin" / "post_compile").symlink_to(target)
    with pytest.raises(errors.BuildError) as info:
        hooks.run_hook(c.ctx, "post_compile")
    assert info.value.reason == "checks::app-file::outside-app"
    assert info.value.title == "bin/post_compile points outside the app"
    assert "SECRET-CRON" not in c.log
    _unchanged(outside, before)


def test_a_hook_behind_a_bin_dir_linked_out_of_the_app_is_refused(tmp_path, outside):
    c = make_ctx(tmp_path)
    (outside / "etc" / "pre_compile").write_text("echo SECRET-CRON\n")
    before = tree_digest(outside)
    (c.ctx.build_dir / "bin").symlink_to(outside / "etc")
    with pytest.raises(errors.BuildError) as info:
        hooks.run_hook(c.ctx, "pre_compile")
    assert info.value.title == "bin/pre_compile points outside the app"
    assert "SECRET-CRON" not in c.log
    _unchanged(outside, before)


def _nltk_app(c: Captured) -> None:
    fake_site_packages(c.ctx.build_python_home, "nltk-3.9")


def test_an_nltk_txt_linked_out_of_the_app_is_not_quoted(tmp_path, outside):
    c = make_ctx(tmp_path)
    _nltk_app(c)
    before = tree_digest(outside)
    (c.ctx.build_dir / "nltk.txt").symlink_to(outside / "etc" / "shadow")
    with pytest.raises(errors.BuildError) as info:
        nltk.download_corpora(c.ctx)
    assert info.value.reason == "checks::app-file::outside-app"
    c.ctx.out.error(info.value)
    assert "SECRET-HASH" not in c.log and "root:" not in c.log
    _unchanged(outside, before)


def test_a_heroku_dir_linked_out_of_the_app_is_refused(tmp_path, outside):
    c = make_ctx(tmp_path)
    before = tree_digest(outside)
    (c.ctx.build_dir / ".heroku").symlink_to(outside / "etc")
    with pytest.raises(errors.BuildError) as info:
        checks.check_app(c.ctx)
    assert info.value.title == ".heroku points outside the app"
    _unchanged(outside, before)


def test_a_dangling_heroku_python_link_is_a_committed_runtime(tmp_path, outside):
    c = make_ctx(tmp_path)
    (c.ctx.build_dir / ".heroku").mkdir()
    (c.ctx.build_dir / ".heroku" / "python").symlink_to(outside / "nothing-here")
    with pytest.raises(errors.BuildError) as info:
        checks.check_app(c.ctx)
    assert info.value.reason == errors.existing_python_dir().reason
