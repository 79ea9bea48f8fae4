"""Skipping an unchanged install, for uv, Poetry and Pipenv, with real lockfiles.

A rebuild with the same lockfile and settings skips the installer only when
every locked package is pinned by the lock itself. A local path, an editable
install, a git checkout or a plain URL can change while the lockfile does
not; a skip would then ship stale code. Each manager locks (with the real
tool, at test time) an app with one package of each kind, and a rebuild
with that lockfile must run the installer; the example app, locked from the
index only, is skipped.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from buildpack.cache import cache, cache_key
from buildpack.cache.cache import BuildCache
from buildpack.package_managers import installer_for
from tests.support.fault_server import FaultServer
from tests.support.lockfiles import LOCKFILES, LockedApps, add_poetry_source
from tests.unit.ctx_factory import Captured, make_ctx
from tests.unit.wheel_factory import build_wheel

MANAGERS = ("uv", "poetry", "pipenv")
# The packages that are not pinned by a lockfile, one of each kind.
UNPINNED = ("pathpkg", "editpkg", "gitpkg", "urlpkg")
PYTHON_VERSION = "3.13.5"  # only part of the cache key here: nothing runs it


@dataclass(frozen=True)
class Sources:
    """Where the unpinned packages come from."""

    libs: Path  # pathpkg/ and editpkg/, local source trees
    git_url: str  # a git repository holding gitpkg
    wheel_url: str  # urlpkg's wheel on a loopback server


def _source_tree(root: Path, name: str) -> Path:
    (root / name).mkdir(parents=True)
    (root / name / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=64"]\n'
        'build-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "1.0"\n'
    )
    (root / name / name).mkdir()
    (root / name / name / "__init__.py").write_text("")
    return root / name


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sources]:
    root = tmp_path_factory.mktemp("unpinned-sources")
    libs = root / "libs"
    for name in ("pathpkg", "editpkg"):
        _source_tree(libs, name)
    repo = _source_tree(root / "repos", "gitpkg")
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "gitpkg"]):
        subprocess.run([*git, *args], check=True, capture_output=True)
    wheels = root / "wheels"
    wheels.mkdir()
    wheel = build_wheel(wheels, "urlpkg", "1.0", {"urlpkg/__init__.py": b""})
    # Serving while the tools lock (they read the wheel to hash it).
    with FaultServer(wheels) as server:
        yield Sources(libs, repo.as_uri(), f"{server.url}/{wheel.name}")


def _project(name: str, deps: list[str]) -> str:
    listed = ", ".join(f'"{dep}"' for dep in deps)
    return (
        f'[project]\nname = "{name}"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n'
        f"dependencies = [{listed}]\n"
    )


def _unpinned_app(root: Path, manager: str, src: Sources) -> Path:
    app = root / f"{manager}-unpinned"
    app.mkdir()
    (app / "libs").symlink_to(src.libs)
    if manager == "uv":
        (app / "pyproject.toml").write_text(
            _project("uv-unpinned", list(UNPINNED))
            + "\n[tool.uv.sources]\n"
            + 'pathpkg = { path = "libs/pathpkg" }\n'
            + 'editpkg = { path = "libs/editpkg", editable = true }\n'
            + f'gitpkg = {{ git = "{src.git_url}", branch = "main" }}\n'
            + f'urlpkg = {{ url = "{src.wheel_url}" }}\n'
        )
    elif manager == "poetry":
        (app / "pyproject.toml").write_text(
            _project("poetry-unpinned", [])
            + "\n[tool.poetry]\npackage-mode = false\n"
            + "\n[tool.poetry.dependencies]\n"
            + 'pathpkg = { path = "libs/pathpkg" }\n'
            + 'editpkg = { path = "libs/editpkg", develop = true }\n'
            + f'gitpkg = {{ git = "{src.git_url}", branch = "main" }}\n'
            + f'urlpkg = {{ url = "{src.wheel_url}" }}\n'
        )
        add_poetry_source(app)
    else:
        (app / "Pipfile").write_text(
            "[packages]\n"
            + 'pathpkg = { path = "./libs/pathpkg" }\n'
            + 'editpkg = { path = "./libs/editpkg", editable = true }\n'
            + f'gitpkg = {{ git = "{src.git_url}", ref = "main" }}\n'
            + f'urlpkg = {{ file = "{src.wheel_url}" }}\n'
        )
    return app


@pytest.fixture(scope="module")
def unpinned_locks(
    tmp_path_factory: pytest.TempPathFactory, locked_apps: LockedApps, sources: Sources
) -> dict[str, Path]:
    """Per manager: an app dir whose lockfile (made by the tool) has all of UNPINNED."""
    root = tmp_path_factory.mktemp("unpinned-apps")
    apps = {}
    for manager in MANAGERS:
        app = _unpinned_app(root, manager, sources)
        locked_apps.lock(app, manager)
        apps[manager] = app
    return apps


def _copy_app(src: Path, build_dir: Path, manager: str) -> None:
    for name in ("pyproject.toml", "Pipfile", LOCKFILES[manager]):
        if (src / name).is_file():
            (build_dir / name).write_bytes((src / name).read_bytes())
    if (src / "libs").exists():
        (build_dir / "libs").symlink_to((src / "libs").resolve())


def _rebuild_skips(tmp_path: Path, manager: str, app: Path) -> tuple[bool, Captured]:
    """A build, then a rebuild of the same app in a new BUILD_DIR on its cache:
    does the rebuild skip the installer?"""
    installer = installer_for(manager)
    captured = make_ctx(tmp_path)
    ctx = captured.ctx
    ctx.stack, ctx.arch = "heroku-24", "amd64"
    for build in ("build", "build2"):
        ctx.build_dir = tmp_path / build
        ctx.build_dir.mkdir(exist_ok=True)
        _copy_app(app, ctx.build_dir, manager)
        session = BuildCache.open(ctx)
        session.restore(ctx, cache_key.build_key(ctx, manager, installer, PYTHON_VERSION))
        if not ctx.build_python_home.exists():  # the first build "installs" a runtime
            (ctx.build_python_home / "bin").mkdir(parents=True)
            (ctx.build_python_home / "bin" / "python").write_text("#!/bin/sh\n")
        skipped = session.skip_install(ctx, installer)
        session.save(ctx, app_refs=set())
    assert session.status == cache.REUSED, captured.log
    assert ctx.report.fields["dependencies_install_skipped"] is skipped
    return skipped, captured


@pytest.mark.parametrize("manager", MANAGERS)
def test_a_rebuild_with_only_index_packages_skips_the_installer(tmp_path, locked_apps, manager):
    app = locked_apps.app(f"{manager}_app", tmp_path / "src", manager)
    skipped, captured = _rebuild_skips(tmp_path, manager, app)
    assert skipped, captured.log
    assert "Skipping dependency installation" in captured.log


@pytest.mark.parametrize("manager", MANAGERS)
def test_each_unpinned_lock_entry_is_named(tmp_path, unpinned_locks, manager):
    app = unpinned_locks[manager]
    ctx = make_ctx(tmp_path).ctx
    _copy_app(app, ctx.build_dir, manager)
    not_plain = installer_for(manager).install_inputs(ctx).not_plain
    for name in UNPINNED:
        assert [r for r in not_plain if f" {name} " in r], (name, not_plain)


@pytest.mark.parametrize("manager", MANAGERS)
def test_a_rebuild_with_unpinned_lock_entries_runs_the_installer(tmp_path, unpinned_locks, manager):
    skipped, captured = _rebuild_skips(tmp_path, manager, unpinned_locks[manager])
    assert not skipped
    assert "Skipping dependency installation" not in captured.log
