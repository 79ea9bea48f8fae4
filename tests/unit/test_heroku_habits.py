"""Heroku's classic Python buildpack behaviours that apps moving from it rely on.

Stacks (heroku-26, end-of-life and unknown stacks), the ANSI colours of
errors and warnings, the version-file names Heroku refuses, a Pipfile without
its lock, the `pip<24.1` hint, the 3.10 deprecation dates, LANG, PYTHONPATH
for the app's own build code, and DEBUG_COLLECTSTATIC.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from buildpack.app import stack
from buildpack.app.python_version import choose_python_version
from buildpack.app.version_file_names import HEROKU_MISSPELLED_NAMES, misspelled
from buildpack.core import errors
from buildpack.core.config_vars import read_env_dir
from buildpack.core.output import Output, colour_wanted
from buildpack.core.settings import Settings, buildpack_root
from buildpack.package_managers import pip, pipenv, select
from buildpack.runtime import runtime
from buildpack.selfdeps import bootstrap
from buildpack.slug_env import envfiles
from buildpack.steps import collectstatic, hooks
from tests.unit.ctx_factory import link_python_home, make_ctx

SETTINGS = Settings.load(buildpack_root() / "buildpack.toml")
DJANGO_APP = Path(__file__).resolve().parents[1] / "fixtures" / "django_app"


# --- stacks ----------------------------------------------------------------------------


def test_the_stacks_table() -> None:
    assert SETTINGS.stacks == {"heroku-22": "22", "heroku-24": "24", "heroku-26": "26"}
    assert SETTINGS.stack_arches == {
        "heroku-22": ("amd64",),
        "heroku-24": ("amd64", "arm64"),
        "heroku-26": ("amd64", "arm64"),
    }


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_heroku_26_uses_the_ubuntu_26_04_archives(tmp_path: Path, arch: str) -> None:
    ctx = make_ctx(tmp_path, config={"STACK": "heroku-26"}).ctx
    name, ubuntu = stack.resolve_stack(ctx)
    assert (name, ubuntu) == ("heroku-26", "26")
    stack.check_arch(ctx.settings, name, arch)
    ctx.arch = arch
    assert runtime.archive_url(ctx, "3.14.7", ubuntu).endswith(
        f"/python-3.14.7-ubuntu-26.04-{arch}.tar.zst"
    )


def test_heroku_26_is_worked_out_on_ubuntu_26_04(tmp_path: Path) -> None:
    """os-release as platform.freedesktop_os_release reads it."""
    name = stack.stack_from_os_release({"ID": "ubuntu", "VERSION_ID": "26.04"})
    assert name == "heroku-26"
    assert stack.ubuntu_for(make_ctx(tmp_path, environ={}).ctx.settings, name) == "26"


@pytest.mark.parametrize("name", ["cedar", "cedar-14", "heroku-16", "heroku-18", "heroku-20"])
def test_end_of_life_stacks_say_so(tmp_path: Path, name: str) -> None:
    with pytest.raises(errors.BuildError) as info:
        stack.resolve_stack(make_ctx(tmp_path, config={"STACK": name}).ctx)
    err = info.value
    assert err.reason == "checks::stack::eol"
    assert err.title == f"The '{name}' stack is no longer supported"
    assert "end of life" in err.cause
    assert "heroku-22, heroku-24, heroku-26" in err.action
    assert err.detail == name


def test_ubuntu_20_04_is_an_end_of_life_stack(tmp_path: Path) -> None:
    name = stack.stack_from_os_release({"ID": "ubuntu", "VERSION_ID": "20.04"})
    assert name == "heroku-20"
    with pytest.raises(errors.BuildError) as info:
        stack.ubuntu_for(make_ctx(tmp_path, environ={}).ctx.settings, name)
    assert info.value.reason == "checks::stack::eol"


@pytest.mark.parametrize("name", ["heroku-28", "container", "heroku-24\x1b[31m"])
def test_an_unknown_stack_asks_for_a_buildpack_update(tmp_path: Path, name: str) -> None:
    with pytest.raises(errors.BuildError) as info:
        stack.resolve_stack(make_ctx(tmp_path, config={"STACK": name}).ctx)
    err = info.value
    assert err.reason == "checks::stack::unknown"
    assert "update the buildpack to its latest release" in err.action
    assert "\x1b" not in err.title + err.cause  # shown escaped


def test_arm64_runtimes_exist_for_the_newer_stacks_only() -> None:
    with pytest.raises(errors.BuildError) as info:
        stack.check_arch(SETTINGS, "heroku-22", "arm64")
    assert info.value.reason == "checks::stack::arch"
    assert "amd64 only" in info.value.cause
    stack.check_arch(SETTINGS, "heroku-24", "arm64")


# --- colours --------------------------------------------------------------------------


def blocks(colour: bool) -> str:
    err = io.StringIO()
    out = Output(io.StringIO(), err, colour=colour)
    out.error(errors.BuildError(reason="r", title="Broken", cause="Why.", action="Fix."))
    out.warning("Careful", "Body.")
    out.note("FYI", "Note body.")
    return err.getvalue()


def test_errors_are_red_warnings_yellow_notes_blue_as_on_heroku() -> None:
    text = blocks(colour=True)
    assert "\x1b[1;31m !     Error: Broken\x1b[0m\n" in text
    assert "\x1b[1;31m !     Why.\x1b[0m\n" in text
    assert "\x1b[1;33m !     Warning: Careful\x1b[0m\n" in text
    assert "\x1b[1;34m !     Note: FYI\x1b[0m\n" in text
    # Blank lines around each block stay plain.
    assert "\n\n\x1b[1;33m" in text


def test_no_colour_is_plain_text() -> None:
    text = blocks(colour=False)
    assert "\x1b" not in text
    assert " !     Error: Broken\n" in text


@pytest.mark.parametrize(
    ("sources", "wanted"),
    [
        (({},), True),
        (({"NO_COLOR": ""},), True),  # no-color.org: only a non-empty value counts
        (({"NO_COLOR": "1"},), False),
        (({}, {"NO_COLOR": "true"}), False),  # the process env, then the config vars
    ],
)
def test_no_color_turns_the_colours_off(sources: tuple[dict[str, str], ...], wanted: bool) -> None:
    assert colour_wanted(*sources) is wanted


def test_no_color_as_a_config_var_reaches_bin_compile(tmp_path: Path) -> None:
    """The real bin/compile: an app failing early, with and without NO_COLOR."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "requirements.txt").write_text("")
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "STACK": "cedar-14",
        # The build stops before it needs its own libraries: fetch none.
        "PIP_NO_INDEX": "1",
    }

    def compile_stderr() -> str:
        result = subprocess.run(
            [buildpack_root() / "bin" / "compile", app, tmp_path / "cache", env_dir],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1, result.stderr
        return result.stderr

    assert "\x1b[1;31m !     Error: The 'cedar-14' stack" in compile_stderr()
    (env_dir / "NO_COLOR").write_text("1")
    plain = compile_stderr()
    assert " !     Error: The 'cedar-14' stack is no longer supported" in plain
    assert "\x1b" not in plain


# --- version files, Pipfile, hints, deprecation -------------------------------------------


@pytest.mark.parametrize("name", sorted(HEROKU_MISSPELLED_NAMES))
def test_herokus_misspelt_version_file_names_fail_the_build(tmp_path: Path, name: str) -> None:
    assert misspelled(name)
    (tmp_path / name).write_text("3.13\n")
    (tmp_path / "requirements.txt").write_text("")
    with pytest.raises(errors.BuildError) as info:
        choose_python_version(tmp_path, SETTINGS, package_manager="pip", cached_version=None)
    assert info.value.reason == "python-version-file::misspelled"


@pytest.mark.parametrize("name", ["python_version.py", "version.py", ".python-version"])
def test_an_apps_own_modules_are_not_version_files(name: str) -> None:
    assert misspelled(name) == ""


def test_a_pipfile_without_its_lock_fails_even_beside_requirements_txt(tmp_path: Path) -> None:
    for name in ("Pipfile", "requirements.txt"):
        (tmp_path / name).write_text("")
    with pytest.raises(errors.BuildError) as info:
        select(tmp_path)
    err = info.value
    assert err.reason == "package-manager::pipenv-missing-lockfile"
    assert "It also has requirements.txt" in err.cause
    assert "pipenv lock" in err.action and "git rm Pipfile" in err.action


PIP_LEGACY_OUTPUT = (
    "WARNING: Ignoring version 5.0.5 of celery since it has invalid metadata:\n"
    "Requested celery==5.0.5 from https://files.invalid/celery-5.0.5-py3-none-any.whl "
    "has invalid metadata: Expected end or semicolon (after version specifier)\n"
    "    pytz>dev\n"
    "        ~~~^\n"
    "Please use pip<24.1 if you need to use this version.\n"
    "ERROR: No matching distribution found for celery==5.0.5\n"
)


def test_the_pip_legacy_metadata_hint_for_pip(tmp_path: Path) -> None:
    """pip itself is a stand-in here, a script printing pip 24.1's words: the
    real failure needs pip >= 24.1 and a package with old metadata in the
    runtime the test uses, which cannot be staged without the index."""
    c = make_ctx(tmp_path)
    c.ctx.cache_dir.mkdir()  # bin/compile makes it
    fake = c.ctx.build_python_home / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text(f"#!/bin/sh\ncat <<'EOF'\n{PIP_LEGACY_OUTPUT}EOF\nexit 1\n")
    fake.chmod(0o755)
    c.ctx.python_home.parent.mkdir(parents=True, exist_ok=True)
    c.ctx.python_home.symlink_to(c.ctx.build_python_home)
    (c.ctx.build_dir / "requirements.txt").write_text("celery==5.0.5\n")
    with pytest.raises(errors.BuildError) as info:
        pip.install_dependencies(c.ctx)
    err = info.value
    assert err.reason == "install-dependencies::pip"
    assert "metadata that pip no longer accepts since pip 24.1" in err.cause
    assert "for Celery, 5.2.1 or newer" in err.cause


def test_the_pip_legacy_metadata_hint_for_pipenv() -> None:
    err = pipenv.failure("pipenv install --deploy --system", PIP_LEGACY_OUTPUT)
    assert err.reason == "install-dependencies::pipenv"
    assert "since pip 24.1" in err.cause


def test_the_310_deprecation_warning_says_when_it_ends(tmp_path: Path) -> None:
    (tmp_path / ".python-version").write_text("3.10\n")
    choice = choose_python_version(tmp_path, SETTINGS, package_manager="pip", cached_version=None)
    [(title, body)] = [w for w in choice.warnings if "deprecated" in w[0]]
    assert title == "Python 3.10 is deprecated"
    assert "reaches its upstream end of life in October 2026" in body
    assert "this buildpack will stop supporting it on 2027-01-06" in body


def test_a_deprecation_without_dates_still_warns(tmp_path: Path) -> None:
    settings = replace(SETTINGS, deprecations={})
    (tmp_path / ".python-version").write_text("3.10\n")
    choice = choose_python_version(tmp_path, settings, package_manager="pip", cached_version=None)
    assert any("close to its upstream end of life" in body for _, body in choice.warnings)


# --- LANG -------------------------------------------------------------------------------


def test_lang_defaults_to_en_us_utf8_and_a_setting_wins(tmp_path: Path) -> None:
    assert make_ctx(tmp_path, environ={}).ctx.build_env()["LANG"] == "en_US.UTF-8"
    from_env = make_ctx(tmp_path, environ={"LANG": "C.UTF-8"}).ctx
    assert from_env.build_env()["LANG"] == "C.UTF-8"
    from_config = make_ctx(tmp_path, environ={"LANG": "C.UTF-8"}, config={"LANG": "fr_FR.UTF-8"})
    assert from_config.ctx.build_env()["LANG"] == "fr_FR.UTF-8"


@pytest.mark.parametrize("dyno_lang", [None, "C.UTF-8"])
def test_profile_and_export_default_lang_as_heroku(tmp_path: Path, dyno_lang: str | None) -> None:
    c = make_ctx(tmp_path)
    envfiles.write(c.ctx)
    expected = dyno_lang or "en_US.UTF-8"
    for script in (c.ctx.build_dir / ".profile.d" / "python.sh", c.ctx.buildpack_dir / "export"):
        env = {"PATH": "/usr/bin:/bin", "HOME": "/app"}
        if dyno_lang:
            env["LANG"] = dyno_lang
        shown = subprocess.run(
            ["sh", "-c", f'. "{script}"; printf %s "$LANG"'],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert shown == expected, script


def test_python_keeps_utf8_where_the_machine_lacks_en_us(tmp_path: Path) -> None:
    """A real interpreter under LANG=en_US.UTF-8: PEP 538/540 keep it in UTF-8
    even when the machine has no such locale (this one has only C.UTF-8)."""
    code = (
        "import locale, sys\n"
        "p = sys.argv[1]\n"
        "open(p, 'w').write('snow \\u2603')\n"
        "print(sys.stdout.encoding, sys.getfilesystemencoding(),"
        " locale.getpreferredencoding(False), open(p).read() == 'snow \\u2603')\n"
    )
    env = {"PATH": os.environ["PATH"], "LANG": "en_US.UTF-8"}
    shown = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "été.txt")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert shown == ["utf-8", "utf-8", "utf-8", "True"]


# --- PYTHONPATH --------------------------------------------------------------------------


def test_pythonpath_config_var_reaches_hooks_but_not_installers(tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "PYTHONPATH").write_text("src")
    config = read_env_dir(env_dir)
    assert config.skipped == []
    c = make_ctx(tmp_path, environ={"PATH": os.environ["PATH"], "PYTHONPATH": "/host"})
    c.ctx.config = config
    hook = c.ctx.build_dir / "bin" / "post_compile"
    hook.parent.mkdir()
    hook.write_text('printf %s "$PYTHONPATH" > seen.txt\n')
    hooks.run_hook(c.ctx, "post_compile")
    assert (c.ctx.build_dir / "seen.txt").read_text() == "src"
    # Installers (and NLTK) get build_env: neither the config var nor the host's.
    assert "PYTHONPATH" not in c.ctx.build_env()
    # The buildpack's own interpreter, and its background fetch, neither.
    deps_env = bootstrap.prepare(
        buildpack_dir=buildpack_root(),
        cache_dir=tmp_path / "cache",
        config=config,
        environ={"PYTHONPATH": "/host", "PATH": "/bin"},
        out=c.ctx.out,
    )._env
    assert "PYTHONPATH" not in deps_env


def django_src_layout(tmp_path: Path, app_python_home: Path, config: dict[str, str]):
    """The test Django project under src/, manage.py at the root: importable
    only with src on the path."""
    c = make_ctx(tmp_path, config=config)
    c.ctx.build_dir.rmdir()
    shutil.copytree(DJANGO_APP, c.ctx.build_dir / "src")
    (c.ctx.build_dir / "src" / "manage.py").rename(c.ctx.build_dir / "manage.py")
    link_python_home(c.ctx, app_python_home)
    return c


def test_collectstatic_gets_the_pythonpath_config_var(tmp_path: Path, app_python_home) -> None:
    c = django_src_layout(tmp_path, app_python_home, {"PYTHONPATH": "src"})
    assert collectstatic.run_collectstatic(c.ctx) == "enabled"
    assert (c.ctx.build_dir / "src" / "staticfiles" / "css" / "site.css").is_file()


def test_without_pythonpath_a_src_layout_fails(tmp_path: Path, app_python_home) -> None:
    c = django_src_layout(tmp_path, app_python_home, {})
    with pytest.raises(errors.BuildError) as info:
        collectstatic.run_collectstatic(c.ctx)
    assert "No module named 'mysite'" in info.value.output
    assert "Collectstatic environment variables" not in c.stdout.getvalue()


def test_debug_collectstatic_shows_the_environment(tmp_path: Path, app_python_home) -> None:
    c = django_src_layout(
        tmp_path,
        app_python_home,
        {"DEBUG_COLLECTSTATIC": "1", "DATABASE_URL": "postgres://app:hunter2@db.invalid/app"},
    )
    with pytest.raises(errors.BuildError):
        collectstatic.run_collectstatic(c.ctx)
    log = c.stdout.getvalue()
    assert "Collectstatic environment variables (DEBUG_COLLECTSTATIC is set):" in log
    assert "       DATABASE_URL=postgres://****@db.invalid/app\n" in log
    assert "       PYTHONPATH=.\n" in log
    assert "hunter2" not in log
