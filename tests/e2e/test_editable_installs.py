"""Editable installs built in /tmp/build_* and run elsewhere, end to end.

Editable installs record absolute paths: to the app's source (path
dependencies) in .pth files, setuptools' import finders and direct_url.json,
and to .heroku/python/src (VCS checkouts). Each test builds for real, moves
the slug to where it runs, deletes the build directory, and runs the
packages' console scripts, imports them and serves a request
(tests/support/check-editables).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.builds import (
    ROOT,
    BuildResult,
    announced_build_dir,
    build_and_run,
    build_env,
    copy_fixture,
    read_report,
)
from tests.support.lockfiles import LockedApps

pytestmark = pytest.mark.e2e

CHECK_EDITABLES = ROOT / "tests" / "support" / "check-editables"
SP = ".heroku/python/lib/python{minor}/site-packages"
CLEAN_AUDIT = "Relocation check: no file under .heroku/python refers to the build directory."
ALL_AT_BOOT = "Every text file listed is rewritten to the app's directory at boot."

VCSLIB_PYPROJECT = """\
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "vcslib"
version = "0.2.0"

[project.scripts]
vcslib-hello = "vcslib:main"

[tool.setuptools]
packages = ["vcslib"]
"""
VCSLIB_INIT = """\
import os


def greeting():
    return f"vcslib from {os.path.dirname(os.path.abspath(__file__))}"


def main():
    print(greeting())
"""


# --- helpers --------------------------------------------------------------------------


@dataclass
class Run:
    """One build, relocated and checked by check-editables."""

    result: BuildResult
    report: dict
    build_dir: str
    home: str

    @property
    def out(self) -> str:
        return self.result.stdout

    def lines(self, prefix: str) -> dict[str, str]:
        """``PREFIX name: value`` lines of check-editables, as {name: value}."""
        found = {}
        for line in self.out.splitlines():
            if line.startswith(prefix + " ") and ": " in line:
                name, value = line[len(prefix) + 1 :].split(": ", 1)
                found[name] = value
        return found

    @property
    def records_naming_home(self) -> set[str]:
        return {
            line[len("RECORD ") :] for line in self.out.splitlines() if line.startswith("RECORD ")
        }

    def audit_lines(self) -> list[str]:
        """The relocation audit's lines in the build log, unindented."""
        lines = [line.removeprefix("       ") for line in self.out.splitlines()]
        starts = [i for i, line in enumerate(lines) if line.startswith("Relocation check:")]
        assert len(starts) == 1, self.result.log
        block = [lines[starts[0]]]
        for line in lines[starts[0] + 1 :]:
            if not line.startswith(("  ", "Not fixed:", "Every text file", "Could not read")):
                break
            block.append(line)
        return block


def relocate_and_check(
    app: Path,
    cache_dir: Path,
    *,
    env: dict[str, str],
    scripts: list[str],
    modules: list[str],
    build_dir: Path | None = None,
    home: Path | None = None,
    other_build_dirs: Sequence[str] = (),
) -> Run:
    extra = {
        "EDITABLE_SCRIPTS": " ".join(scripts),
        "EDITABLE_MODULES": " ".join(modules),
        "OTHER_BUILD_DIRS": " ".join(other_build_dirs),
    }
    if home is not None:
        extra["BUILD_AND_RUN_HOME"] = str(home)
    result = build_and_run(
        app,
        cache_dir,
        cache_dir.parent / "env",
        env={**env, **extra},
        command=[str(CHECK_EDITABLES)],
        build_dir=build_dir,
    )
    assert result.returncode == 0, result.log
    assert "Traceback" not in result.log, result.log
    return Run(result, read_report(cache_dir), compiled_in(result), str(home or "/app"))


def compiled_in(result: BuildResult) -> str:
    """The build directory, as build-and-run announced it."""
    found = announced_build_dir(result)
    assert found, result.log
    return found


def fresh_build_dir(label: str) -> Path:
    """A new, unique /tmp/build_* directory, as a build system would make."""
    return Path(tempfile.mkdtemp(prefix=f"build_{label}_", dir="/tmp"))


def make_vcs_repo(parent: Path) -> Path:
    """A git repository with a small package and a console script."""
    repo = parent / "vcslib-repo"
    (repo / "vcslib").mkdir(parents=True)
    (repo / "pyproject.toml").write_text(VCSLIB_PYPROJECT)
    (repo / "vcslib" / "__init__.py").write_text(VCSLIB_INIT)
    git = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "vcslib"]):
        subprocess.run([*git, *args], cwd=repo, check=True, capture_output=True)
    return repo


def add_vcs_requirement(app: Path, repo: Path) -> None:
    with open(app / "requirements.txt", "a") as f:
        f.write(f"-e git+{repo.as_uri()}#egg=vcslib\n")


def minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


# --- pip: path and VCS editables at /app, and a cached rebuild --------------------------

PIP_SCRIPTS = ["mylib-hello", "flatlib-hello", "vcslib-hello"]
PIP_MODULES = ["mylib", "flatlib", "vcslib"]


@dataclass
class PipBuilds:
    app: Path
    cache: Path
    env: dict[str, str]
    site: str
    first: Run


@pytest.fixture(scope="module")
def pip_builds(tmp_path_factory: pytest.TempPathFactory, runtime_archive, mirror_url) -> PipBuilds:
    """pip_editable_app plus a VCS editable, built once in /tmp/build_A_*."""
    root = tmp_path_factory.mktemp("pip-editables")
    app = copy_fixture("pip_editable_app", root, python_version=runtime_archive.version)
    add_vcs_requirement(app, make_vcs_repo(root))
    env = build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    cache = root / "cache"
    first = relocate_and_check(
        app,
        cache,
        env=env,
        scripts=PIP_SCRIPTS,
        modules=PIP_MODULES,
        build_dir=fresh_build_dir("A"),
    )
    return PipBuilds(app, cache, env, SP.format(minor=minor(runtime_archive.version)), first)


def assert_pip_editables_work(run: Run, site: str) -> None:
    home = run.home
    assert run.lines("SCRIPT") == {
        "mylib-hello": f"mylib from {home}/libs/mylib/src/mylib",
        "flatlib-hello": f"flatlib from {home}/libs/flatlib/flatlib",
        "vcslib-hello": "vcslib from /app/.heroku/python/src/vcslib/vcslib",
    }, run.result.log
    assert run.lines("IMPORT") == {
        "mylib": f"{home}/libs/mylib/src/mylib/__init__.py",
        "flatlib": f"{home}/libs/flatlib/flatlib/__init__.py",
        # Through the /app symlink: the VCS records are rewritten at build time.
        "vcslib": "/app/.heroku/python/src/vcslib/vcslib/__init__.py",
    }
    assert (
        f"RESPONSE: mylib from {home}/libs/mylib/src/mylib / "
        f"flatlib from {home}/libs/flatlib/flatlib\n"
    ) in run.out, run.result.log
    # After boot, the records of the app's path editables name where it runs.
    assert {
        f"{site}/__editable__.mylib-0.1.0.pth",
        f"{site}/__editable___flatlib_0_1_0_finder.py",
        f"{site}/mylib-0.1.0.dist-info/direct_url.json",
        f"{site}/flatlib-0.1.0.dist-info/direct_url.json",
    } <= run.records_naming_home
    assert "PROFILE AGAIN: " in run.out


def test_pip_path_and_vcs_editables_run_at_app(pip_builds: PipBuilds) -> None:
    run = pip_builds.first
    assert_pip_editables_work(run, pip_builds.site)
    # The VCS checkout is in the Python home, so the slug carries it.
    assert re.search(
        r"Cloning file://\S+/vcslib-repo to /app/\.heroku/python/src/vcslib\n", run.out
    )
    assert "entrypoints with /app shebangs:" in run.out


def test_pip_audit_lists_what_boot_rewrites_and_nothing_else(pip_builds: PipBuilds) -> None:
    run, site = pip_builds.first, pip_builds.site
    # VCS records named BUILD_DIR/.heroku/python (setuptools resolves the
    # working directory) and were rewritten at build time, so they are not
    # here; no stale bytecode is left either.
    assert run.audit_lines() == [
        "Relocation check: 4 files under .heroku/python refer to the build directory "
        f"({run.build_dir}):",
        "  .pth (1):",
        f"    {site}/__editable__.mylib-0.1.0.pth (rewritten at boot)",
        "  editable finder (1):",
        f"    {site}/__editable___flatlib_0_1_0_finder.py (rewritten at boot)",
        "  direct_url.json (2):",
        f"    {site}/flatlib-0.1.0.dist-info/direct_url.json (rewritten at boot)",
        f"    {site}/mylib-0.1.0.dist-info/direct_url.json (rewritten at boot)",
        ALL_AT_BOOT,
    ]
    assert run.report["relocation_unfixed_count"] == 0
    assert run.report["relocation_boot_rewritten_count"] == 4
    assert run.report["relocation_binary_count"] == 0


def test_cached_rebuild_in_another_build_directory(pip_builds: PipBuilds) -> None:
    """Build B restores build A's Python home from the cache; every record must
    name B (then, at boot, /app), never A."""
    first = pip_builds.first
    second = relocate_and_check(
        pip_builds.app,
        pip_builds.cache,
        env=pip_builds.env,
        scripts=PIP_SCRIPTS,
        modules=PIP_MODULES,
        build_dir=fresh_build_dir("B"),
        other_build_dirs=[first.build_dir],
    )
    assert second.build_dir != first.build_dir
    assert "-----> Restoring cache" in second.out, second.result.log
    assert second.report["cache_status"] == "reused"
    assert_pip_editables_work(second, pip_builds.site)
    audit = second.audit_lines()
    assert audit[0].endswith(f"({second.build_dir}):")
    assert audit[-1] == ALL_AT_BOOT
    assert second.report["relocation_unfixed_count"] == 0
    # check-editables failed the run if any file in the Python home or
    # .profile.d still named A (OTHER_BUILD_DIRS).


def test_path_editables_when_home_is_not_app(tmp_path, runtime_archive, mirror_url) -> None:
    """A dyno whose HOME is elsewhere (with a space in it): the boot rewrite
    points the records at $HOME, and .profile.d links /app/.heroku/python
    there for the /app shebangs."""
    app = copy_fixture("pip_editable_app", tmp_path, python_version=runtime_archive.version)
    home = tmp_path / "dyno home"
    run = relocate_and_check(
        app,
        tmp_path / "cache",
        env=build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        scripts=["mylib-hello", "flatlib-hello"],
        modules=["mylib", "flatlib"],
        home=home,
    )
    assert f"APP LINK: {home}/.heroku/python\n" in run.out, run.result.log
    assert run.lines("SCRIPT") == {
        "mylib-hello": f"mylib from {home}/libs/mylib/src/mylib",
        "flatlib-hello": f"flatlib from {home}/libs/flatlib/flatlib",
    }, run.result.log
    assert f"RESPONSE: mylib from {home}/libs/mylib/src/mylib / " in run.out
    site = SP.format(minor=minor(runtime_archive.version))
    assert f"{site}/__editable__.mylib-0.1.0.pth" in run.records_naming_home
    assert f"{site}/__editable___flatlib_0_1_0_finder.py" in run.records_naming_home


# --- the audit: clean in one line, and a planted stray path --------------------------


def test_vcs_editable_build_audits_clean(tmp_path, runtime_archive, mirror_url) -> None:
    """A VCS checkout under .heroku/python/src is fixed at build time: the
    audit finds nothing, and says so in exactly one line."""
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    add_vcs_requirement(app, make_vcs_repo(tmp_path))
    run = relocate_and_check(
        app,
        tmp_path / "cache",
        env=build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        scripts=["vcslib-hello"],
        modules=["vcslib"],
    )
    assert run.lines("SCRIPT") == {
        "vcslib-hello": "vcslib from /app/.heroku/python/src/vcslib/vcslib"
    }
    assert run.lines("IMPORT") == {"vcslib": "/app/.heroku/python/src/vcslib/vcslib/__init__.py"}
    assert [line for line in run.out.splitlines() if "Relocation check" in line] == [
        f"       {CLEAN_AUDIT}"
    ]
    assert run.report["relocation_findings_count"] == 0
    assert run.report["relocation_unfixed_count"] == 0
    assert "BOOT REWRITE: none\n" in run.out
    assert "RESPONSE: Hello from /app/.heroku/python" in run.out


STRAY_HOOK = """\
set -e
# Paths to the build directory that no install record holds: a config file
# and a .pth below the top of site-packages (which site never reads).
mkdir -p .heroku/python/etc
echo "static_root = $BUILD_DIR/static" > .heroku/python/etc/app.conf
site=$(python -c 'import sysconfig; print(sysconfig.get_path("purelib"))')
mkdir -p "$site/gunicorn/extras"
echo "$BUILD_DIR/extras" > "$site/gunicorn/extras/paths.pth"
"""


def test_stray_build_paths_are_reported_as_not_fixed(tmp_path, runtime_archive, mirror_url) -> None:
    app = copy_fixture("pip_app", tmp_path, python_version=runtime_archive.version)
    (app / "bin").mkdir()
    (app / "bin" / "post_compile").write_text(STRAY_HOOK)
    cache = tmp_path / "cache"
    result = build_and_run(
        app,
        cache,
        tmp_path / "env",
        env=build_env(BUILDPACK_S3_BASE_URL=mirror_url),
        command=["true"],
    )
    assert result.returncode == 0, result.log
    build_dir = compiled_in(result)
    site = SP.format(minor=minor(runtime_archive.version))
    run = Run(result, read_report(cache), build_dir, "/app")
    assert run.audit_lines() == [
        "Relocation check: 2 files under .heroku/python refer to the build directory "
        f"({build_dir}):",
        "  .pth (1):",
        f"    {site}/gunicorn/extras/paths.pth",
        "  other text (1):",
        "    .heroku/python/etc/app.conf",
        "Not fixed: 2 files above still name the build directory and nothing rewrites "
        "them; that path will not exist when the app runs.",
    ]
    assert run.report["relocation_unfixed_count"] == 2
    assert run.report["relocation_findings_count"] == 2


# --- uv, Poetry and Pipenv path editables -----------------------------------------------


@pytest.mark.parametrize("manager", ["uv", "poetry", "pipenv"])
def test_path_editable_relocates_and_survives_a_cached_rebuild(
    tmp_path, locked_apps: LockedApps, mirror_url, manager
) -> None:
    """Each package manager's path editable works at /app; so does the next
    build, which restores the first one's Python home from the cache in
    another build directory."""
    app = locked_apps.app(f"{manager}_editable_app", tmp_path, manager)
    env = locked_apps.build_env(BUILDPACK_S3_BASE_URL=mirror_url)
    layout = "libs/mylib/mylib" if manager == "pipenv" else "libs/mylib/src/mylib"
    runs: list[Run] = []
    for label in ("A", "B"):
        run = relocate_and_check(
            app,
            tmp_path / "cache",
            env=env,
            scripts=["mylib-hello"],
            modules=["mylib"],
            build_dir=fresh_build_dir(label),
            other_build_dirs=[r.build_dir for r in runs],
        )
        log = run.result.log
        assert run.lines("SCRIPT") == {"mylib-hello": f"mylib from /app/{layout}"}, log
        assert run.lines("IMPORT") == {"mylib": f"/app/{layout}/__init__.py"}, log
        assert f"RESPONSE: mylib from /app/{layout}\n" in run.out, log
        assert run.records_naming_home, log
        assert run.audit_lines()[0].endswith(f"({run.build_dir}):"), log
        assert run.audit_lines()[-1] == ALL_AT_BOOT, log
        assert run.report["relocation_unfixed_count"] == 0
        runs.append(run)
    assert runs[1].report["cache_status"] == "reused", runs[1].result.log
