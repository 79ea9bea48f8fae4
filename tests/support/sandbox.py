"""One build's directories, and the checks that a build touched nothing it should not.

A Sandbox lays out, under one parent directory: the app (copied from a
fixture), the cache, ENV_DIR, a HOME and a TMPDIR for the build (both empty),
and the name of BUILD_DIR. It fingerprints the app before the build, so a test
can then assert:

- the app's own files in BUILD_DIR (or at /app after relocation) are byte-identical;
- no runtime is left half-extracted in BUILD_DIR/.heroku;
- nothing was written outside BUILD_DIR, CACHE_DIR, the buildpack and /app:
  HOME and TMPDIR are still empty, and the parent directory has no new entries
  (a path-traversal write lands there first).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import shared
from tests.support.builds import (
    ROOT,
    BuildResult,
    RunningBuild,
    build_and_run,
    build_env,
    copy_fixture,
    start_build,
)
from tests.support.tree import BUILDPACK_OWNED, parse_marker, tree_digest

CHECK_SLUG = ROOT / "scripts" / "check-slug"
TREE_SCRIPT = ROOT / "tests" / "support" / "tree.py"
# Run in the relocated slug: fingerprint /app (before running the app writes
# its __pycache__), then serve a request.
CHECK_AND_FINGERPRINT = [
    "sh",
    "-c",
    'python3 "$2" /app && "$1"',
    "sh",
    str(CHECK_SLUG),
    str(TREE_SCRIPT),
]
# Only the fingerprint, with the slug's own Python.
FINGERPRINT = ["python3", str(TREE_SCRIPT), "/app"]


@dataclass
class Sandbox:
    root: Path
    app: Path
    cache: Path
    env_dir: Path
    home: Path
    tmp: Path
    build_dir: Path
    app_digest: dict[str, str] = field(default_factory=dict)
    _root_names: set[str] = field(default_factory=set)

    @classmethod
    def create(
        cls,
        root: Path,
        *,
        python_version: str,
        fixture: str = "pip_app",
        cache_from: Path | None = None,
        build_name: str = "build",
        env_name: str = "env",
    ) -> Sandbox:
        app = copy_fixture(fixture, root, python_version=python_version)
        cache = root / "cache"
        if cache_from is not None:
            shutil.copytree(cache_from, cache, symlinks=True)
        else:
            cache.mkdir()
        box = cls(
            root=root,
            app=app,
            cache=cache,
            env_dir=root / env_name,
            home=root / "home",
            tmp=root / "tmp",
            build_dir=root / build_name,
        )
        for path in (box.env_dir, box.home, box.tmp):
            path.mkdir()
        box.record()
        return box

    def record(self) -> None:
        """Fingerprint the app and the parent directory: call after changing the app."""
        self.app_digest = tree_digest(self.app)
        self._root_names = {p.name for p in self.root.iterdir()} | {self.build_dir.name}

    def new_build_dir(self, name: str) -> Path:
        """A fresh BUILD_DIR for the next build (classic builds never reuse one)."""
        self.build_dir = self.root / name
        self._root_names.add(name)
        return self.build_dir

    def env(self, **extra: str) -> dict[str, str]:
        return build_env(**_tool_homes(), HOME=str(self.home), TMPDIR=str(self.tmp), **extra)

    # --- running builds ---

    def build(self, env: dict[str, str], command: list[str] | None = None) -> BuildResult:
        return build_and_run(
            self.app, self.cache, self.env_dir, env=env, command=command, build_dir=self.build_dir
        )

    def compile(self, env: dict[str, str]) -> BuildResult:
        """bin/compile, and nothing in /app after it. build-and-run deletes
        BUILD_DIR once relocated, so this is for builds expected to fail."""
        return self.build(env, command=["true"])

    def start(self, env: dict[str, str], command: list[str] | None = None) -> RunningBuild:
        return start_build(
            self.app, self.cache, self.env_dir, env=env, command=command, build_dir=self.build_dir
        )

    # --- checks ---

    def assert_app_untouched(self) -> None:
        """The app's files in BUILD_DIR are the ones it was built from, byte for byte."""
        after = tree_digest(self.build_dir, exclude_top=BUILDPACK_OWNED)
        assert after == self.app_digest, _diff(self.app_digest, after)

    def assert_relocated_app_untouched(self, result: BuildResult) -> None:
        """The same, for /app after relocation (the command was CHECK_AND_FINGERPRINT)."""
        after = parse_marker(result.stdout)
        assert after == self.app_digest, _diff(self.app_digest, after)

    def assert_no_runtime_left(self) -> None:
        heroku = self.build_dir / ".heroku"
        if not heroku.exists():
            return
        names = sorted(p.name for p in heroku.iterdir())
        assert "python" not in names, names
        assert not [n for n in names if n.startswith(".python.")], names

    def assert_nothing_written_outside(self, *, tmpdir: bool = True) -> None:
        """HOME (and TMPDIR) stayed empty; the parent directory has no new entries.

        TMPDIR is left out after a SIGKILL: pip's own temporary files cannot
        be cleaned up by a process that was killed.
        """
        assert sorted(p.name for p in self.home.iterdir()) == [], "the build wrote to HOME"
        if tmpdir:
            assert sorted(p.name for p in self.tmp.iterdir()) == [], "the build left TMPDIR files"
        names = {p.name for p in self.root.iterdir()}
        assert names <= self._root_names, (
            f"new entries beside BUILD_DIR: {names - self._root_names}"
        )


# Made once per test session (by all of its workers: see shared.py) and
# copied by each test that needs one.


def good_cache(factory: pytest.TempPathFactory, python_version: str, mirror_url: str) -> Path:
    """CACHE_DIR after one successful build: the runtime tree and its metadata,
    the buildpack's own dependencies, pip's download cache."""

    def make(root: Path) -> None:
        box = Sandbox.create(root, python_version=python_version)
        result = box.build(box.env(BUILDPACK_S3_BASE_URL=mirror_url), ["true"])
        assert result.returncode == 0, result.log
        assert (box.cache / ".heroku/cache.json").is_file(), result.log
        assert list(box.cache.glob(".heroku/buildpack-deps/*/.complete")), result.log
        shutil.rmtree(box.cache / "build-data")

    return shared.made_once(factory, "good-cache", make) / "cache"


def deps_cache(factory: pytest.TempPathFactory, mirror_url: str) -> Path:
    """CACHE_DIR after a first build that failed at the runtime download (the
    Python version asked for is not on the mirror) but kept the buildpack's
    own dependencies it fetched meanwhile: nothing else in it, so every later
    step starts from scratch."""

    def make(root: Path) -> None:
        box = Sandbox.create(root, python_version="3.12.99")
        # A host python3 with pip: it names pip's index before any runtime is
        # installed. A pip-less one learns it from the runtime's bundled pip,
        # so with no runtime to install it would fetch nothing.
        env = box.env(host_python="runner", BUILDPACK_S3_BASE_URL=mirror_url)
        result = box.compile(env)
        assert "Python 3.12.99 is not available" in result.stderr, result.log
        assert list(box.cache.glob(".heroku/buildpack-deps/*/.complete")), result.log
        shutil.rmtree(box.cache / "build-data")

    return shared.made_once(factory, "deps-cache", make) / "cache"


def warm_cache(factory: pytest.TempPathFactory, python_version: str, mirror_url: str) -> Path:
    """The good cache without the runtime tree: what a build that ended before
    saving leaves. Builds on it download the runtime and run every step, but
    skip bootstrapping the buildpack and downloading wheels again."""

    def make(root: Path) -> None:
        cache = root / "cache"
        shutil.copytree(good_cache(factory, python_version, mirror_url), cache, symlinks=True)
        (cache / ".heroku/cache.json").unlink()
        shutil.rmtree(cache / ".heroku/python")
        # Without the pip seed, pip is fetched from the index again, so the
        # interruption tests can hold a build in its pip bootstrap.
        shutil.rmtree(cache / ".heroku/pip-seeds", ignore_errors=True)

    return shared.made_once(factory, "warm-cache", make) / "cache"


def _tool_homes() -> dict[str, str]:
    """Keep host tools that locate themselves through HOME working as before.

    pip runs ``rustc --version`` for its User-Agent; on a machine with rustup,
    that proxy looks for its toolchains under $HOME and, not finding them
    under the empty HOME of a test build, writes a settings file there.
    """
    real_home = Path.home()
    homes = {"RUSTUP_HOME": real_home / ".rustup", "CARGO_HOME": real_home / ".cargo"}
    return {
        name: os.environ.get(name, str(path))
        for name, path in homes.items()
        if name in os.environ or path.is_dir()
    }


def _diff(before: dict[str, str], after: dict[str, str]) -> str:
    lines = []
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key):
            lines.append(f"{key!r}: {before.get(key)} -> {after.get(key)}")
    return "app files changed:\n" + "\n".join(lines[:50])
