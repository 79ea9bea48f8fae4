"""Choosing the package manager, and the parts of uv/Poetry/Pipenv support
that need no full build: versions, tool directories, commands, failures."""

from __future__ import annotations

import importlib.util
import marshal
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from buildpack.cache import cache_tree
from buildpack.core import atomic_dir, errors, fs
from buildpack.core.settings import buildpack_root
from buildpack.package_managers import (
    failures,
    kept_venv,
    pipenv,
    poetry,
    select,
    tools,
    uv,
    venv_check,
)
from buildpack.selfdeps import package_index
from buildpack.slug_env import envfiles
from tests.unit.ctx_factory import link_python_home, make_ctx

# --- select() -------------------------------------------------------------------


def app_with(tmp_path: Path, *names: str) -> Path:
    app = tmp_path / "app-files"
    app.mkdir()
    for name in names:
        (app / name).write_text("")
    return app


@pytest.mark.parametrize(
    ("files", "manager"),
    [
        (["requirements.txt"], "pip"),
        (["uv.lock", "pyproject.toml"], "uv"),
        (["poetry.lock", "pyproject.toml"], "poetry"),
        (["Pipfile.lock", "Pipfile"], "pipenv"),
        # A pyproject.toml beside requirements.txt is the app's metadata: pip.
        (["requirements.txt", "pyproject.toml", "setup.py"], "pip"),
    ],
)
def test_select_by_lockfile(tmp_path, files, manager):
    assert select(app_with(tmp_path, *files)) == manager


def test_select_refuses_several_package_managers_and_names_them(tmp_path):
    app = app_with(tmp_path, "requirements.txt", "uv.lock", "poetry.lock", "pyproject.toml")
    with pytest.raises(errors.BuildError) as exc:
        select(app)
    err = exc.value
    assert err.reason == "package-manager::multiple-found"
    assert "More than one package manager file" in err.title
    for name in ("requirements.txt", "uv.lock", "poetry.lock"):
        assert f"  {name}\n" in err.cause + "\n"
    assert "pyproject.toml" not in err.cause
    assert "delete the others" in err.action


def test_select_pipfile_without_lock_says_how_to_make_it(tmp_path):
    with pytest.raises(errors.BuildError) as exc:
        select(app_with(tmp_path, "Pipfile"))
    assert exc.value.reason == "package-manager::pipenv-missing-lockfile"
    assert "no Pipfile.lock" in exc.value.cause
    assert "pipenv lock" in exc.value.action


def test_select_pyproject_only_says_which_lockfile_to_create(tmp_path):
    with pytest.raises(errors.BuildError) as exc:
        select(app_with(tmp_path, "pyproject.toml"))
    err = exc.value
    assert err.reason == "package-manager::none-found"
    assert err.title == "pyproject.toml has no lockfile"
    assert "'uv lock'" in err.action and "'poetry lock'" in err.action


@pytest.mark.parametrize("name", ["setup.py", "setup.cfg"])
def test_select_setup_py_only_suggests_requirements_txt(tmp_path, name):
    with pytest.raises(errors.BuildError) as exc:
        select(app_with(tmp_path, name))
    assert exc.value.reason == "package-manager::setup-py-only"
    assert "-e ." in exc.value.action


def test_select_no_files_lists_what_is_accepted(tmp_path):
    with pytest.raises(errors.BuildError) as exc:
        select(app_with(tmp_path, "app.py"))
    err = exc.value
    assert err.reason == "package-manager::none-found"
    for name in ("requirements.txt", "uv.lock", "poetry.lock", "Pipfile.lock"):
        assert name in err.cause


def test_select_ignores_a_directory_named_like_a_lockfile(tmp_path):
    app = app_with(tmp_path, "requirements.txt")
    (app / "uv.lock").mkdir()
    assert select(app) == "pip"


# --- tool versions ----------------------------------------------------------------


def test_version_from_buildpack_toml_by_default(tmp_path):
    c = make_ctx(tmp_path)
    tv = tools.requested_version(c.ctx, "uv")
    assert tv.version == c.ctx.settings.tools["uv"]
    assert tv.origin == "buildpack.toml"
    assert tv.requirement == f"uv=={tv.version}"


def test_version_from_environment_then_config_var(tmp_path):
    environ = {"PATH": "/usr/bin:/bin", "BUILDPACK_POETRY_VERSION": "2.4.1"}
    c = make_ctx(tmp_path, environ=environ)
    assert tools.requested_version(c.ctx, "poetry") == tools.ToolVersion(
        "poetry", "2.4.1", "BUILDPACK_POETRY_VERSION"
    )
    c = make_ctx(tmp_path, environ=environ, config={"BUILDPACK_POETRY_VERSION": " 2.3.0\n"})
    assert tools.requested_version(c.ctx, "poetry").version == "2.3.0"


@pytest.mark.parametrize("bad", ["../../etc", "1.0/x", ".hidden", "latest", "1.0 2.0", "1;rm"])
def test_a_version_that_is_not_one_is_refused_before_use(tmp_path, bad):
    c = make_ctx(tmp_path, config={"BUILDPACK_UV_VERSION": bad})
    with pytest.raises(errors.BuildError) as exc:
        tools.requested_version(c.ctx, "uv")
    assert exc.value.reason == "install-package-manager::uv"
    assert exc.value.title == "BUILDPACK_UV_VERSION is not a version"


# What pip 23.2 printed for `pip install uv==0.0.999` against the real index.
PIP_NO_SUCH_VERSION = (
    "ERROR: Could not find a version that satisfies the requirement uv==0.0.999 "
    "(from versions: 0.0.5, 0.1.0, 0.13.8, 0.13.9)\n"
    "ERROR: No matching distribution found for uv==0.0.999"
)
PIP_NO_INDEX = (
    "WARNING: Retrying (Retry(total=4...)) after connection broken\n"
    "ERROR: Could not find a version that satisfies the requirement uv==0.13.9 "
    "(from versions: none)\n"
    "ERROR: No matching distribution found for uv==0.13.9"
)


def test_a_missing_release_is_told_apart_from_an_unreachable_index():
    assert failures.version_not_on_index(PIP_NO_SUCH_VERSION)
    assert not failures.version_not_on_index(PIP_NO_INDEX)
    assert not failures.version_not_on_index("ERROR: Could not install packages: OSError")
    tv = tools.ToolVersion("uv", "0.0.999", "BUILDPACK_UV_VERSION")
    err = failures.install_failure(tv, PIP_NO_SUCH_VERSION)
    assert err.title == "uv 0.0.999 does not exist on the package index"
    assert "BUILDPACK_UV_VERSION asks for uv 0.0.999" in err.cause
    generic = failures.install_failure(
        tools.ToolVersion("uv", "0.13.9", "buildpack.toml"), PIP_NO_INDEX
    )
    assert generic.title == "Could not install uv 0.13.9"


def test_pips_list_of_every_release_is_shortened_in_the_log():
    versions = ", ".join(f"0.{i}.0" for i in range(40))
    line = f"ERROR: Could not find a version that satisfies uv==9 (from versions: {versions})"
    short = failures.shorten_version_list(line)
    assert short.endswith(
        "(from versions: 28 older, ..., 0.28.0, 0.29.0, 0.30.0, 0.31.0, "
        "0.32.0, 0.33.0, 0.34.0, 0.35.0, 0.36.0, 0.37.0, 0.38.0, 0.39.0)"
    )
    assert failures.shorten_version_list("(from versions: 1.0, 2.0)") == "(from versions: 1.0, 2.0)"
    assert failures.shorten_version_list("Collecting uv") == "Collecting uv"


# --- tool directories ---------------------------------------------------------------


def test_install_atomically_renames_a_complete_directory(tmp_path):
    final = tmp_path / "tools" / "uv-1.0"

    def populate(partial: Path) -> None:
        assert partial.parent == final.parent and partial.name.startswith(".uv-1.0.partial-")
        (partial / "bin").mkdir()
        (partial / "bin" / "uv").write_text("binary")

    tools.install_atomically(final, populate)
    assert (final / "bin" / "uv").read_text() == "binary"
    assert sorted(p.name for p in final.parent.iterdir()) == ["uv-1.0"]


def test_a_failed_install_leaves_nothing_behind(tmp_path):
    final = tmp_path / "tools" / "uv-1.0"

    def populate(partial: Path) -> None:
        (partial / "half").write_text("")
        raise errors.install_package_manager_failed("uv", "1.0", "boom")

    with pytest.raises(errors.BuildError):
        tools.install_atomically(final, populate)
    assert list(final.parent.iterdir()) == []


def test_an_unusable_leftover_is_replaced(tmp_path):
    final = tmp_path / "tools" / "uv-1.0"
    (final / "stale").mkdir(parents=True)
    tools.install_atomically(final, lambda partial: (partial / "new").write_text(""))
    assert sorted(p.name for p in final.iterdir()) == ["new"]


def test_partials_of_killed_builds_are_removed_but_not_of_running_ones(tmp_path):
    final = tmp_path / "tools" / "uv-1.0"
    final.parent.mkdir()
    # A real process that has exited: its pid is (almost surely) free.
    dead = subprocess.Popen(["true"])
    dead.wait()
    killed = final.with_name(f".uv-1.0.partial-{dead.pid}")
    running = final.with_name(f".uv-1.0.partial-{os.getppid()}")
    other_tool = final.with_name(f".poetry-1.0.partial-{dead.pid}")
    for path in (killed, running, other_tool):
        path.mkdir()
    atomic_dir.reap_stale_partials(final)
    assert not killed.exists()
    assert running.exists() and other_tool.exists()


def test_other_versions_of_the_same_tool_are_pruned(tmp_path):
    root = tmp_path / "tools"
    for name in ("uv-0.5.25", "uv-0.13.9", "uv-extra", "pipenv-1.0-python3.12", "cache"):
        (root / name).mkdir(parents=True)
    tools.prune_other_versions(root / "uv-0.13.9", "uv")
    assert sorted(p.name for p in root.iterdir()) == [
        "cache",
        "pipenv-1.0-python3.12",
        "uv-0.13.9",
        "uv-extra",
    ]


def fake_venv_tool(final: Path, shebang: bytes, python_target: str) -> None:
    (final / "venv" / "bin").mkdir(parents=True)
    (final / "venv" / "bin" / "python").symlink_to(python_target)
    script = final / "venv" / "bin" / "poetry"
    script.write_bytes(shebang + b"import sys\n")
    script.chmod(0o755)
    (final / "bin").mkdir()
    (final / "bin" / "poetry").symlink_to(Path("..", "venv", "bin", "poetry"))


def test_a_venv_tool_is_reused_only_when_its_scripts_run_its_python(tmp_path):
    final = tmp_path / "poetry-2.5.1-python3.11"
    python = os.fsencode(final / "venv" / "bin" / "python")
    fake_venv_tool(final, b"#!" + python + b"\n", sys.executable)
    assert venv_check.venv_tool_usable(final, "poetry", final / "venv")


def test_a_venv_tool_with_the_trampoline_for_long_paths_is_reused(tmp_path):
    final = tmp_path / "poetry-2.5.1-python3.11"
    python = os.fsencode(final / "venv" / "bin" / "python")
    fake_venv_tool(
        final, b"#!/bin/sh\n'''exec' '" + python + b"' \"$0\" \"$@\"\n' '''\n", sys.executable
    )
    assert venv_check.venv_tool_usable(final, "poetry", final / "venv")


def test_a_venv_tool_from_a_moved_cache_is_not_reused(tmp_path):
    final = tmp_path / "cache2" / "poetry-2.5.1-python3.11"
    old_python = os.fsencode(
        tmp_path / "cache" / "poetry-2.5.1-python3.11" / "venv" / "bin" / "python"
    )
    fake_venv_tool(final, b"#!" + old_python + b"\n", sys.executable)
    assert not venv_check.venv_tool_usable(final, "poetry", final / "venv")


def test_a_venv_tool_whose_runtime_is_gone_is_not_reused(tmp_path):
    final = tmp_path / "poetry-2.5.1-python3.11"
    python = os.fsencode(final / "venv" / "bin" / "python")
    fake_venv_tool(final, b"#!" + python + b"\n", str(tmp_path / "no-such-runtime" / "python"))
    assert not venv_check.venv_tool_usable(final, "poetry", final / "venv")


def test_uv_is_installed_from_its_wheel_once_and_then_reused(tmp_path):
    """The real uv wheel from the configured package index, fetched and
    unpacked without running pip (it used to be unpacked, thrown away and
    installed a second time by the bundled pip)."""
    c = _runtime_ctx(tmp_path)
    version = c.ctx.settings.tools["uv"]
    assert uv.install_tool(c.ctx) == version
    uv_bin = c.ctx.cache_dir / ".heroku" / "tools" / f"uv-{version}-amd64" / "bin" / "uv"
    out = subprocess.run([uv_bin, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith(f"uv {version}")
    assert f"Installing uv {version}" in c.log
    assert c.ctx.report.fields["uv_install_source"] == "index", c.log
    assert "did not work" not in c.log
    again = _next_build_ctx(tmp_path)
    assert uv.install_tool(again.ctx) == version
    assert f"Using cached uv {version}" in again.log
    assert again.ctx.report.fields["uv_install_source"] == "cache"
    assert again.ctx.extra_path == [str(uv_bin.parent)]
    assert "Not trusting" not in again.log

    # An earlier build's hook replaced the cached binary: it is checked
    # against the kept wheel's RECORD (the wheel against tool-locks.json)
    # before it runs, and installed again.
    marker = tmp_path / "planted-uv-ran"
    uv_bin.write_text(f"#!/bin/sh\necho ran > {marker}\n")
    third = _next_build_ctx(tmp_path)
    assert uv.install_tool(third.ctx) == version
    assert (
        f"- CACHE_DIR/.heroku/tools/uv-{version}-amd64 was not run (bin/uv differs from "
        "the locked wheel's): removed, installed again"
    ) in third.log
    assert third.ctx.report.fields["uv_install_source"] == "index"
    out = subprocess.run([uv_bin, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith(f"uv {version}")
    assert not marker.exists()


# --- settings for the tools and for later buildpacks ------------------------------


def test_uv_settings_name_the_app_path_and_the_cache(tmp_path):
    c = make_ctx(tmp_path)
    c.ctx.build_python_home.mkdir(parents=True)  # configure runs after the runtime is in
    tool_dir = tmp_path / "cache" / ".heroku" / "tools" / "uv-0.13.9"
    uv.configure(c.ctx, tool_dir)
    env = c.ctx.extra_env
    assert env["UV_PROJECT_ENVIRONMENT"] == str(c.ctx.python_home)
    assert env["UV_PYTHON"] == str(c.ctx.python_home / "bin" / "python")
    assert str(c.ctx.build_dir) not in "".join(env.values())
    assert env["UV_PYTHON_DOWNLOADS"] == "never"
    assert env["UV_NO_MANAGED_PYTHON"] == "1"
    assert env["UV_COMPILE_BYTECODE"] == "1"
    assert env["UV_CACHE_DIR"] == str(tmp_path / "cache" / ".heroku" / "tools" / "cache" / "uv")
    # Build dir and cache dir share tmp_path's filesystem.
    assert env["UV_LINK_MODE"] == "hardlink"
    build_env = c.ctx.build_env()
    assert build_env["PATH"].startswith(f"{c.ctx.python_home}/bin:{tool_dir}/bin:")


def test_uv_copies_when_the_cache_is_on_another_filesystem(tmp_path):
    other = Path("/proc/self")
    if os.stat(other).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem to compare with")
    assert uv.link_mode(other, tmp_path) == "copy"
    assert uv.link_mode(tmp_path, tmp_path) == "hardlink"


def test_the_tools_bin_is_exported_after_the_runtime_and_not_put_in_the_slug(tmp_path):
    c = make_ctx(tmp_path)
    c.ctx.extra_path.append("/cache dir/$x/tools/uv-1/bin")
    c.ctx.extra_env["UV_PYTHON"] = "/app/.heroku/python/bin/python"
    script = envfiles.export_script(c.ctx)
    env = subprocess.run(
        ["sh", "-c", script + 'printf "%s\\n" "$PATH" "$UV_PYTHON"'],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert env == [
        f"{c.ctx.python_home}/bin:/cache dir/$x/tools/uv-1/bin:/usr/bin:/bin",
        "/app/.heroku/python/bin/python",
    ]
    assert "tools" not in envfiles.profile_script(c.ctx)


@pytest.mark.parametrize(
    ("install_dev", "expected"),
    [
        (False, ["uv", "sync", "--locked", "--no-default-groups"]),
        (True, ["uv", "sync", "--locked"]),
    ],
)
def test_uv_command(tmp_path, install_dev, expected):
    assert uv.sync_command(make_ctx(tmp_path, install_dev=install_dev).ctx) == expected


@pytest.mark.parametrize(
    ("install_dev", "expected"),
    [(False, ["poetry", "sync", "--only", "main"]), (True, ["poetry", "sync"])],
)
def test_poetry_command(tmp_path, install_dev, expected):
    assert poetry.sync_command(make_ctx(tmp_path, install_dev=install_dev).ctx) == expected


@pytest.mark.parametrize(
    ("install_dev", "expected"),
    [
        (False, ["pipenv", "install", "--deploy", "--system"]),
        (True, ["pipenv", "install", "--deploy", "--system", "--dev"]),
    ],
)
def test_pipenv_command(tmp_path, install_dev, expected):
    assert pipenv.install_command(make_ctx(tmp_path, install_dev=install_dev).ctx) == expected


# --- failures: the tools' real messages ------------------------------------------------

UV_STALE = (
    "Resolved 4 packages in 273ms\n"
    "error: The lockfile at `uv.lock` needs to be updated, but `--locked` was provided. "
    "To update the lockfile, run `uv lock`."
)
POETRY_STALE = (
    "pyproject.toml changed significantly since poetry.lock was last generated. "
    "Run `poetry lock` to fix the lock file."
)
# Pipenv wraps at 80 columns when its output is not a terminal.
PIPENV_STALE_WRAPPED = (
    "Your Pipfile.lock \n"
    "(0d6872706e7ff5f705d8e17cd2b0c95f62db895aff3d32329001a40cea406faa) is out of \n"
    "date. Expected: \n"
    "(b22582902fc53f803dba28c2c2ef9f2d2b5e9d8e4e15877c86191c0ca5c1750d).\n"
    "ERROR:: Aborting deploy"
)
PIPENV_WRONG_PYTHON = (
    'Warning: Your Pipfile requires "python_version" 3.12, but you are using 3.11.7 '
    "from /app/.heroku/python/bin/python3.\n"
    "ERROR:: Aborting deploy"
)


@pytest.mark.parametrize(
    ("module", "output", "title"),
    [
        (uv, UV_STALE, "uv.lock is out of date"),
        (poetry, POETRY_STALE, "poetry.lock is out of date"),
        (pipenv, PIPENV_STALE_WRAPPED, "Pipfile.lock is out of date"),
    ],
)
def test_a_stale_lockfile_gets_its_own_explanation(module, output, title):
    err = module.failure("the command", output)
    assert err.title == title
    assert err.output == output
    assert err.reason.startswith("install-dependencies::")


@pytest.mark.parametrize(
    ("module", "output"),
    [
        (uv, "error: Failed to download `gunicorn==27.0.1`"),
        (poetry, "Because poetry-app depends on nothing-such (1.0) which doesn't match"),
        # --deploy also aborts on a Python mismatch, which relocking would not fix.
        (pipenv, PIPENV_WRONG_PYTHON),
    ],
)
def test_other_failures_get_the_generic_error(module, output):
    err = module.failure("the command", output)
    assert err.title == "Could not install the app's dependencies"


def test_pipenvs_stack_frames_are_left_out_of_the_log():
    lines = [
        "Your Pipfile.lock (abc) is out of date. Expected: (def).",
        '[DeployException]:   File "/cache/tools/pipenv/bin/pipenv", line 8, in ',
        "<module>",
        "[DeployException]:       sys.exit(cli())",
        "ERROR:: Aborting deploy",
    ]
    keep = pipenv._WithoutStackFrames()
    assert [line for line in lines if keep(line) is not None] == [
        "Your Pipfile.lock (abc) is out of date. Expected: (def).",
        "ERROR:: Aborting deploy",
    ]


# --- the tools' download caches and the Procfile ------------------------------------


def test_a_download_cache_past_its_limit_starts_over(tmp_path):
    c = make_ctx(tmp_path)
    cache = tools.download_cache(c.ctx, "uv")
    small = cache / "wheels" / "small.whl"
    small.parent.mkdir()
    small.write_bytes(b"x" * 1000)
    assert tools.download_cache(c.ctx, "uv") == cache and small.exists()
    assert cache_tree.tree_size(cache, stop_after=10**9) == 1000
    # A sparse file: its size counts, without using the disk.
    with open(cache / "wheels" / "big.whl", "wb") as f:
        f.truncate(tools.DOWNLOAD_CACHE_LIMIT_BYTES)
    assert tools.download_cache(c.ctx, "uv") == cache
    assert cache.is_dir() and not any(cache.iterdir())


@pytest.mark.parametrize(
    ("procfile", "warned"),
    [
        ("web: poetry run gunicorn app:app\n", True),
        ("web: cd src && poetry  run gunicorn app:app\n", True),
        ("web: gunicorn app:app\nworker: python -m poetry_run_helper\n", False),
        ("web: ./bin/poetry run x\n", False),
    ],
)
def test_a_procfile_that_runs_the_tool_is_warned_about(tmp_path, procfile, warned):
    c = make_ctx(tmp_path)
    (c.ctx.build_dir / "Procfile").write_text(procfile)
    tools.warn_if_procfile_runs(c.ctx, "poetry")
    assert ("Warning: The Procfile uses 'poetry run'" in c.stderr.getvalue()) == warned
    if warned:
        assert "'web: gunicorn app:app' instead of" in " ".join(c.stderr.getvalue().split())


def test_a_procfile_link_is_not_followed(tmp_path):
    c = make_ctx(tmp_path)
    outside = tmp_path / "outside"
    outside.write_text("web: poetry run gunicorn app:app\n")
    (c.ctx.build_dir / "Procfile").symlink_to(outside)
    tools.warn_if_procfile_runs(c.ctx, "poetry")
    assert c.stderr.getvalue() == ""


def test_a_venv_tool_in_a_long_cache_path_runs_after_the_rename(tmp_path):
    """Real Pipenv from the package index. Past 127 bytes pip writes the sh
    trampoline instead of a shebang; both must name the final venv, not the
    temporary directory it was built in."""
    c = make_ctx(tmp_path, environ={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    c.ctx.cache_dir = tmp_path / ("a-long-cache-directory-name-" * 4) / "cache"
    link_python_home(c.ctx, Path(sys.base_prefix))
    # Poetry's way (Pipenv, installed here for speed, goes into the slug instead).
    tv = tools.requested_version(c.ctx, "pipenv")
    tools.install_venv_tool(c.ctx, tv, executable="pipenv")
    version = tv.version
    tool_dir = tools.venv_tool_dir(c.ctx, tv)
    script = tool_dir / "venv" / "bin" / "pipenv"
    assert len(os.fsencode(tool_dir / "venv" / "bin" / "python")) > 127
    assert script.read_bytes().startswith(b"#!/bin/sh\n'''exec' ")
    assert b".partial-" not in script.read_bytes()
    out = subprocess.run(
        [tool_dir / "bin" / "pipenv", "--version"], capture_output=True, text=True, check=True
    )
    assert version in out.stdout
    assert venv_check.venv_tool_usable(tool_dir, "pipenv", tool_dir / "venv")
    assert [p.name for p in tool_dir.parent.iterdir() if ".partial-" in p.name] == []


@pytest.fixture(scope="module")
def kept_venv_tool(tmp_path_factory):
    """Real Pipenv from the lock and the package index, in Poetry's way (a
    venv in the build cache), run once (so its venv holds the bytecode a
    run writes), and a copy of its tool directory as it was then."""
    where = tmp_path_factory.mktemp("kept-venv")
    c = _runtime_ctx(where)
    tv = tools.requested_version(c.ctx, "pipenv")
    tool_dir = tools.install_venv_tool(c.ctx, tv, executable="pipenv")
    assert c.ctx.report.fields["pipenv_install_source"] == "index", c.log
    assert tv.version in _version_of(tool_dir)
    assert list(tool_dir.glob("venv/lib/python3*/site-packages/pipenv/__pycache__/*.pyc"))
    pristine = where / "pristine"
    shutil.copytree(tool_dir, pristine, symlinks=True)
    return where, tv, tool_dir, pristine


def _as_kept(kept_venv_tool) -> tuple[Path, Path, Path]:
    """The kept tool directory back as the first build left it: (it, its
    venv's site-packages, a file that planted code would write)."""
    where, _, tool_dir, pristine = kept_venv_tool
    fs.remove_tree(tool_dir)
    shutil.copytree(pristine, tool_dir, symlinks=True)
    marker = where / "planted-code-ran"
    marker.unlink(missing_ok=True)
    [site] = tool_dir.glob("venv/lib/python3*/site-packages")
    return tool_dir, site, marker


def bytecode_for(code, mtime: int, size: int) -> bytes:
    """A .pyc of ``code`` that Python loads for a source of that mtime and size."""
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little")
    header += (mtime & 0xFFFFFFFF).to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little")
    return header + marshal.dumps(code)


def _version_of(tool_dir: Path) -> str:
    # As in a build: the tool writes its bytecode.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run(
        [tool_dir / "bin" / "pipenv", "--version"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_a_kept_venv_tool_is_checked_in_place_and_its_bytecode_is_never_run(kept_venv_tool):
    """An unchanged kept venv runs again without being made again. Bytecode
    is never trusted: a .pyc planted where Python would load it for a
    module (header matching the source) is removed, as is what the tool
    wrote itself, before the tool runs."""
    where, tv, _, _ = kept_venv_tool
    tool_dir, site, marker = _as_kept(kept_venv_tool)
    init = site / "pipenv" / "__init__.py"
    source = init.read_text() + f"\nopen({str(marker)!r}, 'w').write('ran')\n"
    st = init.stat()
    pyc = bytecode_for(compile(source, str(init), "exec"), int(st.st_mtime), st.st_size)
    Path(importlib.util.cache_from_source(str(init))).write_bytes(pyc)

    again = _next_build_ctx(where)
    assert tools.install_venv_tool(again.ctx, tv, executable="pipenv") == tool_dir
    assert again.ctx.report.fields["pipenv_install_source"] == "cache", again.log
    assert f"Using cached Pipenv {tv.version} (checked against the buildpack's lock)" in again.log
    assert "cache_untrusted" not in again.ctx.report.fields, again.log
    assert "Installing" not in again.log
    assert not list(site.rglob("*.pyc"))
    assert tv.version in _version_of(tool_dir)
    assert not marker.exists()


def _link_to_a_copy(wheel: Path) -> None:
    """The locked bytes, but through a link, which is never followed."""
    copy = wheel.parent.parent / f"copy-of-{wheel.name}"
    shutil.copyfile(wheel, copy)
    wheel.unlink()
    wheel.symlink_to(copy)


def _fifo(wheel: Path) -> None:
    """A fifo, which opening for reading must not wait on."""
    wheel.unlink()
    os.mkfifo(wheel)


STORE_CHANGES = {
    "a changed byte": lambda wheel: wheel.write_bytes(wheel.read_bytes()[:-1] + b"x"),
    "a link to the locked bytes": _link_to_a_copy,
    "a fifo": _fifo,
}


@pytest.mark.parametrize("change", STORE_CHANGES)
def test_a_kept_venv_tool_is_used_with_its_wheels_checked(kept_venv_tool, change):
    """A changed wheel in the store is refused and fetched again; the venv
    is then checked against the locked file."""
    where, tv, _, _ = kept_venv_tool
    _as_kept(kept_venv_tool)
    [wheel] = (where / "cache" / ".heroku" / "tools" / "wheels").glob(f"pipenv-{tv.version}-*.whl")
    locked = wheel.read_bytes()
    STORE_CHANGES[change](wheel)
    again = _next_build_ctx(where)
    tools.install_venv_tool(again.ctx, tv, executable="pipenv")
    message = (
        f"CACHE_DIR/.heroku/tools/wheels/{wheel.name} is not the file the buildpack locked: "
        "removed, to be fetched again"
    )
    assert f"- {message}" in again.log
    assert again.ctx.report.fields["cache_untrusted"] == [message]
    assert again.ctx.report.fields["pipenv_install_source"] == "cache"
    assert f"Using cached Pipenv {tv.version} (checked against" in again.log
    assert not wheel.is_symlink()
    assert wheel.read_bytes() == locked  # the locked file again


def test_a_kept_venv_tool_not_made_from_the_lock_is_made_again_quietly(kept_venv_tool):
    """A venv pip made (or an older buildpack) has no .from-lock: nothing
    can check it, so it is made again, which is no sign of tampering."""
    where, tv, _, _ = kept_venv_tool
    tool_dir, site, _ = _as_kept(kept_venv_tool)
    (tool_dir / kept_venv.MARK).unlink()
    (site / "left-by-pip.txt").write_text("")
    again = _next_build_ctx(where)
    assert tools.install_venv_tool(again.ctx, tv, executable="pipenv") == tool_dir
    assert "cache_untrusted" not in again.ctx.report.fields, again.log
    assert f"Using cached Pipenv {tv.version} (its wheels, checked against" in again.log
    assert (tool_dir / kept_venv.MARK).is_file()
    assert not (site / "left-by-pip.txt").exists()


def test_a_kept_venv_tool_is_checked_without_choosing_its_wheels_again(kept_venv_tool, monkeypatch):
    """.from-lock names the locked wheels the venv was made from: an
    unchanged rebuild checks the venv against them without packaging
    choosing again (its import was a sixth of such a rebuild)."""
    where, tv, _, _ = kept_venv_tool
    tool_dir, _, _ = _as_kept(kept_venv_tool)
    names = (tool_dir / kept_venv.MARK).read_text().splitlines()
    assert any(name.startswith(f"pipenv-{tv.version}-") for name in names), names

    def no_choosing(*args: object) -> object:
        raise AssertionError("packaging chose the wheels again")

    monkeypatch.setattr(package_index, "interpreter", no_choosing)
    again = _next_build_ctx(where)
    assert tools.install_venv_tool(again.ctx, tv, executable="pipenv") == tool_dir
    assert again.ctx.report.fields["pipenv_install_source"] == "cache", again.log
    assert "cache_untrusted" not in again.ctx.report.fields, again.log


@pytest.mark.parametrize(
    "mark", [b"", b"evil-1.0-py3-none-any.whl\n"], ids=["older buildpack", "no locked set"]
)
def test_a_kept_venv_whose_mark_names_no_locked_set_is_checked_as_packaging_chooses(
    kept_venv_tool, mark
):
    """An older buildpack's empty mark, or names that are not one locked
    wheel of each package: packaging chooses, the venv is checked against
    that choice and used, and the mark names it for the next build."""
    where, tv, _, pristine = kept_venv_tool
    tool_dir, _, _ = _as_kept(kept_venv_tool)
    (tool_dir / kept_venv.MARK).write_bytes(mark)
    again = _next_build_ctx(where)
    assert tools.install_venv_tool(again.ctx, tv, executable="pipenv") == tool_dir
    assert again.ctx.report.fields["pipenv_install_source"] == "cache", again.log
    assert "cache_untrusted" not in again.ctx.report.fields, again.log
    assert (tool_dir / kept_venv.MARK).read_bytes() == (pristine / kept_venv.MARK).read_bytes()


def _plant_line(path: Path, marker: Path) -> None:
    text = path.read_text().split("\n", 1)
    path.write_text(f"{text[0]}\nopen({str(marker)!r}, 'w').write('ran')\n{text[1]}")


def _plant_pyc(path: Path, marker: Path) -> None:
    code = compile(f"open({str(marker)!r}, 'w').write('ran')\n", str(path), "exec")
    path.write_bytes(bytecode_for(code, 0, 0))


def _plant_link(path: Path, marker: Path) -> None:
    outside = marker.parent / "outside.py"
    outside.write_text(path.read_text() + f"\nopen({str(marker)!r}, 'w').write('ran')\n")
    path.unlink()
    path.symlink_to(outside)


SITE = "venv/lib/python{minor}/site-packages"
PLANTED = {
    "a line added to a module": (
        lambda t, s, m: _plant_line(s / "pipenv" / "__init__.py", m),
        f"{SITE}/pipenv/__init__.py differs from the locked wheel's",
    ),
    "an extra .pth": (
        lambda t, s, m: (s / "planted.pth").write_text(f"import os; open({str(m)!r}, 'w')\n"),
        f"{SITE}/planted.pth is in no locked wheel",
    ),
    "a lone .pyc": (
        lambda t, s, m: _plant_pyc(s / "sitecustomize.pyc", m),
        f"{SITE}/sitecustomize.pyc is in no locked wheel",
    ),
    "a changed launcher": (
        lambda t, s, m: _plant_line(t / "venv" / "bin" / "pipenv", m),
        "venv/bin/pipenv is not what the buildpack writes there",
    ),
    "a changed pyvenv.cfg": (
        lambda t, s, m: (t / "venv" / "pyvenv.cfg").write_text(
            (t / "venv" / "pyvenv.cfg").read_text().replace("= false", "= true")
        ),
        "venv/pyvenv.cfg is not what the buildpack writes there",
    ),
    "a symlink": (
        lambda t, s, m: _plant_link(s / "pipenv" / "__init__.py", m),
        f"{SITE}/pipenv/__init__.py is a symbolic link",
    ),
}


def _planted(kept_venv_tool, plant, reason: str) -> tuple[Path, Path, Path, str]:
    """The kept tool directory as the first build left it, with ``plant``
    done to it: (it, its site-packages, the planted code's marker, what the
    check must say)."""
    tool_dir, site, marker = _as_kept(kept_venv_tool)
    plant(tool_dir, site, marker)
    return tool_dir, site, marker, reason.format(minor=site.parent.name.removeprefix("python"))


# Told apart by the check alone (the make-again path is the one above).
CHECKED_ONLY = {
    "a .pyc of no module": (
        lambda t, s, m: _plant_pyc(s / "pipenv" / "__pycache__" / "planted.cpython-3.pyc", m),
        f"{SITE}/pipenv/__pycache__/planted.cpython-3.pyc is bytecode of no module in the "
        "locked wheels",
    ),
    "a python link elsewhere": (
        lambda t, s, m: (
            (t / "venv" / "bin" / "python3").unlink()
            or (t / "venv" / "bin" / "python3").symlink_to(sys.executable)
        ),
        "venv/bin/python3 links somewhere the buildpack does not",
    ),
}


@pytest.mark.parametrize("planted", CHECKED_ONLY)
def test_the_kept_venv_check_names_what_is_wrong(kept_venv_tool, planted):
    tool_dir, site, _, reason = _planted(kept_venv_tool, *CHECKED_ONLY[planted])
    minor = site.parent.name.removeprefix("python")
    c = _next_build_ctx(kept_venv_tool[0])
    wheels = sorted((c.ctx.cache_dir / ".heroku" / "tools" / "wheels").glob("*.whl"))
    found = kept_venv.problem(
        tool_dir,
        wheels,
        app_python=c.ctx.python,
        minor=minor,
        executable="pipenv",
        mark=(tool_dir / kept_venv.MARK).read_bytes(),
    )
    assert found == reason


@pytest.mark.parametrize("planted", PLANTED)
def test_a_kept_venv_tool_with_planted_code_is_never_run_and_made_again(kept_venv_tool, planted):
    where, tv, _, _ = kept_venv_tool
    tool_dir, site, marker, reason = _planted(kept_venv_tool, *PLANTED[planted])
    again = _next_build_ctx(where)
    assert tools.install_venv_tool(again.ctx, tv, executable="pipenv") == tool_dir
    message = (
        f"CACHE_DIR/.heroku/tools/{tool_dir.name} was not run ({reason}): removed, installed again"
    )
    assert again.ctx.report.fields["cache_untrusted"] == [message], again.log
    assert f"-----> Not trusting parts of the build cache:\n       - {message}" in again.log
    # Made again from the checked wheels the cache keeps.
    assert f"Using cached Pipenv {tv.version} (its wheels, checked against" in again.log
    assert again.ctx.report.fields["pipenv_install_source"] == "cache"
    assert not marker.exists()
    assert not list(tool_dir.rglob("planted*")) and not list(tool_dir.rglob("sitecustomize*"))
    assert str(marker) not in (site / "pipenv" / "__init__.py").read_text()
    assert not (site / "pipenv" / "__init__.py").is_symlink()
    assert "= false" in (tool_dir / "venv" / "pyvenv.cfg").read_text()
    if planted == "a changed launcher":
        assert tv.version in _version_of(tool_dir)
        assert not marker.exists()


# --- Poetry and Pipenv from the buildpack's lock ------------------------------------------


def _runtime_ctx(tmp_path, **environ):
    """A context whose runtime is this interpreter's, with the real
    buildpack (its tool-locks.json) and the configured package index."""
    c = make_ctx(tmp_path, environ={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **environ})
    c.ctx.buildpack_dir = buildpack_root()
    link_python_home(c.ctx, Path(sys.base_prefix))
    c.ctx.arch = "amd64"
    return c


def _next_build_ctx(tmp_path):
    """A later build's context on the same directories (the runtime linked)."""
    c = make_ctx(tmp_path, environ={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    c.ctx.buildpack_dir = buildpack_root()
    c.ctx.arch = "amd64"
    return c


def _run_tool(c, tool: str) -> str:
    # Pipenv is in the slug (its venv is made there, not kept in the cache).
    tool_dir = c.ctx.build_python_home / "pipenv"
    env = {**os.environ, "PATH": f"{c.ctx.python_home}/bin:{os.environ['PATH']}"}
    out = subprocess.run(
        [tool_dir / "bin" / tool, "--version"], capture_output=True, text=True, env=env
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_pipenv_is_installed_from_the_lock_without_pip(tmp_path):
    c = _runtime_ctx(tmp_path)
    version = c.ctx.settings.tools["pipenv"]
    assert pipenv.install_tool(c.ctx) == version
    assert c.ctx.report.fields["pipenv_install_source"] == "index", c.log
    assert "using pip" not in c.log
    assert f"pipenv, version {version}" in _run_tool(c, "pipenv")
    [site] = c.ctx.build_python_home.glob("pipenv/venv/lib/python3*/site-packages")
    assert not list(site.glob("pip-*.dist-info"))
    assert (site / "distutils-precedence.pth").is_file()  # setuptools', as pip puts it


def test_a_version_the_lock_lacks_is_installed_by_pip_and_the_log_says_why(tmp_path):
    c = _runtime_ctx(tmp_path, BUILDPACK_PIPENV_VERSION="2026.10.2")
    assert pipenv.install_tool(c.ctx) == "2026.10.2"
    assert (
        "Not installing Pipenv 2026.10.2 from the buildpack's lock (the buildpack has no lock "
        "of pipenv 2026.10.2, which BUILDPACK_PIPENV_VERSION asks for); using pip"
    ) in c.log
    assert c.ctx.report.fields["pipenv_install_source"] == "pip"
    assert "pipenv, version 2026.10.2" in _run_tool(c, "pipenv")
