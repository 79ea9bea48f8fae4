"""App layouts the buildpack refuses before building."""

from __future__ import annotations

import pytest

from buildpack.app import checks
from buildpack.core import errors
from tests.unit.ctx_factory import make_ctx


@pytest.mark.parametrize("venv", [".venv", "venv"])
def test_committed_virtualenv_is_refused(tmp_path, venv):
    c = make_ctx(tmp_path)
    (c.ctx.build_dir / venv).mkdir()
    (c.ctx.build_dir / venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    with pytest.raises(errors.BuildError) as info:
        checks.check_app(c.ctx)
    assert info.value.reason == "checks::existing-venv-dir"
    assert f"{venv}/" in info.value.title


def test_a_directory_named_venv_without_pyvenv_cfg_is_fine(tmp_path):
    c = make_ctx(tmp_path)
    (c.ctx.build_dir / "venv").mkdir()
    (c.ctx.build_dir / "venv" / "notes.txt").write_text("not a virtualenv\n")
    checks.check_app(c.ctx)


def test_committed_runtime_is_refused(tmp_path):
    c = make_ctx(tmp_path)
    (c.ctx.build_dir / ".heroku" / "python" / "bin").mkdir(parents=True)
    with pytest.raises(errors.BuildError) as info:
        checks.check_app(c.ctx)
    assert info.value.reason == "checks::existing-python-dir"


@pytest.mark.parametrize("variable", ["PYTHONHOME", "PYTHON_BUILDPACK_HOME"])
def test_second_python_buildpack_in_one_build_is_refused(tmp_path, variable):
    c = make_ctx(tmp_path, environ={"PATH": "/usr/bin:/bin", variable: "/app/.heroku/python"})
    bin_dir = c.ctx.build_python_home / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").write_text("")
    with pytest.raises(errors.BuildError) as info:
        checks.check_not_duplicate(c.ctx)
    assert info.value.reason == "checks::duplicate-python-buildpack"


def test_exported_env_alone_is_not_a_duplicate(tmp_path):
    # PYTHONHOME set by the environment, but nothing installed yet in this build.
    c = make_ctx(tmp_path, environ={"PATH": "/usr/bin:/bin", "PYTHONHOME": "/usr"})
    checks.check_not_duplicate(c.ctx)


def test_installed_runtime_without_exported_env_is_not_a_duplicate(tmp_path):
    c = make_ctx(tmp_path, environ={"PATH": "/usr/bin:/bin"})
    (c.ctx.build_python_home / "bin").mkdir(parents=True)
    (c.ctx.build_python_home / "bin" / "python").write_text("")
    checks.check_not_duplicate(c.ctx)


# --- a build by hand: BUILD_DIR built already ---------------------------------------


def built_dir(tmp_path):
    build, app = tmp_path / "build", tmp_path / "app"
    (build / ".heroku" / "python" / "bin").mkdir(parents=True)
    app.mkdir()
    return build, app


def test_a_build_dir_with_a_runtime_and_its_dyno_script_was_built(tmp_path):
    build, app = built_dir(tmp_path)
    (build / ".profile.d").mkdir()
    (build / ".profile.d" / "python.sh").write_text("export PATH\n")
    with pytest.raises(errors.BuildError) as info:
        checks.check_before_build(build, {}, app)
    assert info.value.reason == "checks::already-built"
    assert "fresh copy of the app" in info.value.action


def test_a_failed_build_is_known_by_its_app_link(tmp_path):
    """A build that failed after linking /app/.heroku/python left no dyno script."""
    build, app = built_dir(tmp_path)
    (app / ".heroku").mkdir()
    (app / ".heroku" / "python").symlink_to(build / ".heroku" / "python")
    assert checks.built_already(build, app)
    with pytest.raises(errors.BuildError, match="already-built"):
        checks.check_before_build(build, {}, app)


def test_a_committed_runtime_alone_is_not_taken_for_a_build(tmp_path):
    build, app = built_dir(tmp_path)
    assert not checks.built_already(build, app)
    checks.check_before_build(build, {}, app)  # check_app refuses it later


def test_after_another_python_buildpack_the_duplicate_check_speaks(tmp_path):
    build, app = built_dir(tmp_path)
    (build / ".profile.d").mkdir()
    (build / ".profile.d" / "python.sh").write_text("export PATH\n")
    checks.check_before_build(build, {"PYTHON_BUILDPACK_HOME": "/app/.heroku/python"}, app)


def test_building_in_app_itself_needs_no_link(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    checks.check_app_dir_writable(app, app)
