"""Lockfiles made at test time with the real package managers.

A lockfile records the package index's address, which is never committed, so
the fixture apps have none. ``LockedApps`` installs each tool once per session
for the interpreter running the tests, at the version the build will use,
locks each fixture app once, and copies the lockfile into every test's copy of
the app.

Pipenv folds pip's configuration (a pip.conf under $HOME) into the hash it
checks with --deploy, so the lock and the build must see the same HOME:
``LockedApps.home`` is that HOME, and ``LockedApps.build_env`` passes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pip._internal.models.index import PyPI

from buildpack.core.settings import Settings, buildpack_root
from tests.support import shared
from tests.support.builds import HostPython, build_env, copy_fixture
from tests.support.loopback_index import only_this_index

# Poetry's default source asks the index for per-package JSON, which the
# index the tests use does not serve; the simple API is what pip uses.
INDEX_URL = PyPI.simple_url

LOCKFILES = {"uv": "uv.lock", "poetry": "poetry.lock", "pipenv": "Pipfile.lock"}
# The file each manager's lockfile must match.
SOURCES = {"uv": "pyproject.toml", "poetry": "pyproject.toml", "pipenv": "Pipfile"}
# Text that pins the fixtures' dependency, and the same with one more.
_PINNED = {
    "pyproject.toml": ('"gunicorn==27.0.1"', '"gunicorn==27.0.1", "six==1.17.0"'),
    "Pipfile": ('gunicorn = "==27.0.1"', 'gunicorn = "==27.0.1"\nsix = "==1.17.0"'),
}


class LockError(Exception):
    pass


def add_poetry_source(app: Path) -> None:
    """Resolve from the index's simple API (see INDEX_URL)."""
    with open(app / "pyproject.toml", "a") as f:
        f.write(
            f'\n[[tool.poetry.source]]\nname = "index"\nurl = "{INDEX_URL}"\npriority = "primary"\n'
        )


def make_lock_stale(app: Path, manager: str) -> None:
    """Add a dependency to the file the lockfile was made from."""
    source = app / SOURCES[manager]
    old, new = _PINNED[SOURCES[manager]]
    text = source.read_text()
    if old not in text:
        raise LockError(f"{source} does not pin gunicorn as the fixtures do")
    source.write_text(text.replace(old, new, 1))


@dataclass
class LockedApps:
    root: Path
    python_version: str
    settings: Settings = field(
        default_factory=lambda: Settings.load(buildpack_root() / "buildpack.toml")
    )
    # Lock and build with this package index alone (see loopback_index).
    index_url: str | None = None
    _locks: dict[tuple[str, str, str], Path] = field(default_factory=dict)
    _tools: dict[tuple[str, str], Path] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)

    @property
    def home(self) -> Path:
        return self.root / "home"

    def build_env(self, *, host_python: HostPython = "pipless", **extra: str) -> dict[str, str]:
        """The environment for builds of these apps (and, with the runner's
        python3, for locking them)."""
        env = build_env(host_python=host_python, HOME=str(self.home), **extra)
        if self.index_url is not None:
            env = only_this_index(env, self.index_url, self.root)
        return env

    def _tool_env(self) -> dict[str, str]:
        return self.build_env(host_python="runner")

    def app(
        self, fixture: str, dest: Path, manager: str, *, tool_version: str | None = None
    ) -> Path:
        """A copy of ``fixture`` in ``dest`` with its lockfile, ready to build."""
        version = tool_version or self.settings.tools[manager]
        lockfile = self.lockfile(fixture, manager, version)
        app = self._prepared(fixture, dest, manager)
        shutil.copy2(lockfile, app / LOCKFILES[manager])
        return app

    def lockfile(self, fixture: str, manager: str, version: str) -> Path:
        key = (fixture, manager, version)
        if key not in self._locks:
            # Made once for every worker of the session (see tests/support/shared.py).
            work = shared.make_at(
                self.root / "locks" / f"{fixture}-{manager}-{version}",
                lambda work: self._lock(self._prepared(fixture, work, manager), manager, version),
            )
            self._locks[key] = work / fixture / LOCKFILES[manager]
        return self._locks[key]

    def _prepared(self, fixture: str, dest: Path, manager: str) -> Path:
        app = copy_fixture(fixture, dest, python_version=self.python_version)
        if manager == "poetry":
            add_poetry_source(app)
        return app

    # --- the tools, for the interpreter running the tests --------------------

    def tool(self, manager: str, version: str) -> Path:
        key = (manager, version)
        if key not in self._tools:
            self._tools[key] = self._install_tool(manager, version)
        return self._tools[key]

    def _install_tool(self, manager: str, version: str) -> Path:
        dest = shared.make_at(
            self.root / "tools" / f"{manager}-{version}",
            lambda dest: self._install_tool_into(dest, manager, version),
        )
        program = dest / "bin" / manager
        if not program.exists():
            raise LockError(f"installing {manager}=={version} made no {program}")
        return program

    def _install_tool_into(self, dest: Path, manager: str, version: str) -> None:
        pip = [sys.executable, "-m", "pip"]
        quiet = ["--quiet", "--no-input", "--disable-pip-version-check"]
        if manager == "uv":
            # The wheel carries the binary, as in the build.
            args = [*pip, "install", *quiet, "--no-deps", "--only-binary=:all:"]
            _run([*args, "--target", str(dest), f"uv=={version}"], env=self._tool_env())
        else:
            _run([sys.executable, "-m", "venv", "--without-pip", str(dest)], env=self._tool_env())
            python = str(dest / "bin" / "python")
            _run(
                [*pip, "--python", python, "install", *quiet, f"{manager}=={version}"],
                env=self._tool_env(),
            )

    # --- locking ------------------------------------------------------------------

    def lock(self, app: Path, manager: str) -> Path:
        """Lock any app directory with ``manager`` at the version the build uses."""
        self._lock(app, manager, self.settings.tools[manager])
        return app / LOCKFILES[manager]

    def _lock(self, app: Path, manager: str, version: str) -> None:
        program = str(self.tool(manager, version))
        env = self._tool_env()
        # Each worker's own: two tools running at once never share a cache.
        caches = self.root / "caches" / os.environ.get("PYTEST_XDIST_WORKER", "main")
        if manager == "uv":
            env.update(
                UV_CACHE_DIR=str(caches / "uv"),
                UV_PYTHON_DOWNLOADS="never",
                UV_PYTHON=sys.executable,
                UV_NO_CONFIG="1",
            )
            if self.index_url is not None:
                env["UV_INDEX_URL"] = self.index_url  # uv does not read PIP_INDEX_URL
            _run([program, "lock"], env=env, cwd=app)
        elif manager == "poetry":
            env.update(
                POETRY_VIRTUALENVS_CREATE="false",
                POETRY_CACHE_DIR=str(caches / "poetry"),
                POETRY_CONFIG_DIR=str(caches / "poetry-config"),
                POETRY_DATA_DIR=str(caches / "poetry-data"),
            )
            _run([program, "lock", "--no-interaction", "--no-ansi"], env=env, cwd=app)
        elif manager == "pipenv":
            env.update(
                WORKON_HOME=str(caches / "pipenv-venvs"),
                PIPENV_CACHE_DIR=str(caches / "pipenv"),
                PIPENV_VERBOSITY="-1",
                PIPENV_YES="1",
                PIPENV_NOSPIN="1",
                PIPENV_IGNORE_VIRTUALENVS="1",
            )
            _run([program, "lock", "--python", sys.executable], env=env, cwd=app)
        else:
            raise LockError(f"no lockfile for {manager}")
        if not (app / LOCKFILES[manager]).is_file():
            raise LockError(f"{manager} lock wrote no {LOCKFILES[manager]} in {app}")


def _run(args: list[str], *, env: dict[str, str], cwd: Path | None = None) -> None:
    # Not the test's own venv or Python settings: the tools pick their own.
    env = {k: v for k, v in env.items() if k != "VIRTUAL_ENV"}
    proc = subprocess.run(
        args,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=600,
    )
    if proc.returncode != 0:
        raise LockError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
