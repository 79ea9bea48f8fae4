"""The build cache: the app's Python home kept in CACHE_DIR between builds.

Layout in CACHE_DIR:

    .heroku/python/      BUILD_DIR/.heroku/python as the last good build left it
    .heroku/cache.json   what that tree was built from (see ``Metadata``)
    .heroku/cache.lock   one build at a time (see ``cache_lock``)
    .heroku/pip-cache/   pip's HTTP and wheel cache (never part of the slug)

The rule everything else follows: **cache.json exists only while
.heroku/python is complete and is the tree it describes.** So the metadata is
removed before the tree is taken (restore) or replaced (save), and written
only after the new tree is complete and in place. A build killed at any
instant, SIGKILL included, leaves either the previous good cache (metadata
and tree) or a tree without metadata, which the next build discards with a
reason. A tree is never trusted without metadata of the current ``FORMAT``.

A build:

1. ``BuildCache.open`` takes the lock (waiting, bounded, with a log line) and
   reads the metadata; its Python version feeds the "sticky" version rule.
2. ``restore`` compares the metadata with this build (stack, CPU, Python,
   package manager and its version, and for pip and Pipenv the requirement
   and lock files) and either discards the tree, printing why, or moves it
   into BUILD_DIR (a rename on one filesystem, a copy otherwise).
3. ``skip_install`` tells whether the installer would provably change
   nothing (see ``install_inputs``).
4. ``save`` clones the final tree (hard links when possible) next to the
   cached one, swaps it in, writes the metadata, and releases the lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from buildpack.cache import cache_tree, install_inputs, legacy
from buildpack.cache.cache_key import (
    CacheKey,
    Metadata,
    MetadataProblem,
    discard_reasons,
    parse_metadata,
)
from buildpack.cache.cache_lock import DEFAULT_TIMEOUT_SECONDS, FileLock, timeout_setting
from buildpack.core import fs, pause_points, safe_fs
from buildpack.core.context import BuildContext
from buildpack.relocation import records

if TYPE_CHECKING:
    from buildpack.package_managers import Installer

HEROKU_DIR = Path(".heroku")
TREE = HEROKU_DIR / "python"
METADATA = HEROKU_DIR / "cache.json"
LOCK = HEROKU_DIR / "cache.lock"
PIP_CACHE = HEROKU_DIR / "pip-cache"
_SAVING_PREFIX = ".python.saving-"
_OLD_PREFIX = ".python.old-"
_MAX_METADATA_BYTES = 1024 * 1024
# pip's download and wheel cache grows with every version ever installed.
PIP_CACHE_LIMIT_BYTES = 1024 * 1024 * 1024

EMPTY = "empty"
REUSED = "reused"
DISCARDED = "discarded"
# Built without the cache: another build held it too long, or it was unusable.
BYPASSED = "bypassed"


class BuildCache:
    """One build's use of CACHE_DIR, from ``open`` to ``save``."""

    def __init__(self, ctx: BuildContext, lock: FileLock) -> None:
        self.cache_dir = ctx.cache_dir
        self.lock = lock
        self.status = EMPTY if lock.held else BYPASSED
        self.reasons: list[str] = []
        self.previous: Metadata | None = None
        self.problem: str | None = None
        self.key: CacheKey | None = None
        self.bypass_reason = ""
        self._restored_into: Path | None = None
        self.inputs: install_inputs.InstallInputs | None = None

    # --- open ---------------------------------------------------------------

    @classmethod
    def open(cls, ctx: BuildContext, lock: FileLock | None = None) -> BuildCache:
        """``lock``: one the caller already took with ``lock_for`` (to cover
        earlier steps that write to CACHE_DIR too); otherwise taken here."""
        lock = lock or lock_for(ctx.cache_dir)
        timeout = _lock_timeout(ctx)

        def waiting() -> None:
            ctx.out.step(
                f"Waiting for another build using this cache (up to {timeout:.0f} seconds)..."
            )

        try:
            held = lock.acquire(timeout, on_wait=waiting)
        except OSError as exc:
            cache = cls(ctx, lock)
            ctx.out.warning(
                "Building without the build cache",
                f"The cache lock {lock.path} cannot be used ({exc.strerror or exc}). "
                "This build neither reads nor updates the cache.",
            )
            cache.bypass_reason = f"cannot lock the cache: {exc.strerror or exc}"
            return cache
        if lock.waited >= 0.1 and held:
            ctx.out.info(f"Got the cache after waiting {lock.waited:.1f} seconds")
        cache = cls(ctx, lock)
        if not held:
            ctx.out.warning(
                "Building without the build cache",
                f"Another build has been using this app's build cache for more than "
                f"{timeout:.0f} seconds. This build neither reads nor updates it, so it "
                "installs everything from scratch. Set BUILDPACK_CACHE_LOCK_TIMEOUT "
                "(seconds) to wait longer.",
            )
            cache.bypass_reason = "another build held the cache lock"
            return cache
        if ctx.cache_stamp is not None:
            ctx.cache_stamp.watch(ctx.cache_dir / HEROKU_DIR)
        cache._remove_leftovers()
        cache._read_metadata()
        return cache

    def _remove_leftovers(self) -> None:
        # Half-copied trees of builds killed while saving: never trusted, only deleted.
        heroku = self.cache_dir / HEROKU_DIR
        try:
            names = os.listdir(heroku)
        except OSError:
            return
        for name in names:
            if name.startswith((_SAVING_PREFIX, _OLD_PREFIX, f".{METADATA.name}.tmp-")):
                with contextlib.suppress(OSError):
                    fs.remove_tree(heroku / name)

    def _read_metadata(self) -> None:
        path = self.cache_dir / METADATA
        try:
            text = safe_fs.read_small(path, _MAX_METADATA_BYTES).decode("utf-8", "replace")
        except FileNotFoundError:
            return
        except OSError as exc:
            self.problem = f"The cache metadata is unreadable ({exc.strerror})"
            return
        try:
            self.previous = parse_metadata(text)
        except MetadataProblem as exc:
            self.problem = str(exc)

    @property
    def kept_python_version(self) -> str | None:
        """The full Python version of the tree this build may restore, from
        the cache's own metadata, read under this build's lock; else None."""
        return self.previous.key.python_version if self.previous is not None else None

    @property
    def previous_python_version(self) -> str | None:
        """The last build's full Python version, for the "sticky" version rule."""
        if self.previous is not None:
            return self.previous.key.python_version
        if self.status == BYPASSED:
            return None
        return legacy.previous_python_version(self.cache_dir)

    # --- restore ------------------------------------------------------------

    def restore(self, ctx: BuildContext, key: CacheKey) -> None:
        self.key = key
        try:
            if self.status != BYPASSED:
                self._restore(ctx, key)
        except OSError as exc:
            # An unreadable or unmovable cache is no reason to fail the build:
            # build without it (and never save over it).
            if self._restored_into is not None:
                fs.remove_tree(self._restored_into)
            problem = f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}"
            ctx.out.warning(
                "Could not restore the build cache",
                f"{problem}. This build installs everything from scratch.",
            )
            self.status = BYPASSED
            self.bypass_reason = f"restoring failed: {problem}"
            self.lock.release()
        finally:
            ctx.report.set("cache_status", self.status)
            if self.reasons:
                ctx.report.set("cache_discard_reasons", list(self.reasons))
            if self.bypass_reason:
                ctx.report.set("cache_bypass_reason", self.bypass_reason)

    def _restore(self, ctx: BuildContext, key: CacheKey) -> None:
        tree = self.cache_dir / TREE
        metadata = self.cache_dir / METADATA
        if not tree.is_dir() or tree.is_symlink():
            # Metadata with no tree (or junk in its place) describes nothing.
            _unlink(metadata)
            if tree.exists() or tree.is_symlink():
                fs.remove_tree(tree)
            self.previous = None
            return
        if self.previous is None:
            reasons = [self.problem or self._missing_metadata_reason()]
        else:
            reasons = discard_reasons(self.previous.key, key)
        if reasons:
            self._discard(ctx, reasons)
            return
        target = ctx.build_python_home
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            # Only an app with a symlinked .heroku gets here (checks refuse the rest).
            self.status = BYPASSED
            self.bypass_reason = "the app's .heroku/python already exists"
            return
        ctx.out.step("Restoring cache")
        if cache_tree.same_filesystem(tree, target.parent):
            # Taking the tree: first say it is no longer there.
            _unlink(metadata)
            pause_points.pause("cache-restore")
            self._restored_into = target
            how = cache_tree.move_tree(tree, target)
            if how == "copied":  # a bind mount can hide a second filesystem
                assert self.previous is not None, "a tree is only restored with its metadata"
                safe_fs.write_atomic(metadata, self.previous.to_json())
        else:
            # A copy: the cache stays whole and described meanwhile.
            self._restored_into = target
            cache_tree.move_tree(tree, target)
        _repoint_app_refs(ctx, self.previous)
        self.status = REUSED

    def _missing_metadata_reason(self) -> str:
        if legacy.written_by_heroku_buildpack(self.cache_dir):
            return "The cache was written by another Python buildpack"
        return "The cache has no metadata (the build that saved it was stopped before it finished)"

    def _discard(self, ctx: BuildContext, reasons: list[str]) -> None:
        ctx.out.step("Discarding cache since:")
        for reason in reasons:
            ctx.out.info(f"- {reason}")
        _unlink(self.cache_dir / METADATA)
        # Rename first: a build killed during the delete leaves a leftover
        # the next build removes, not a half-deleted tree under the real name.
        tree = self.cache_dir / TREE
        doomed = tree.with_name(f"{_OLD_PREFIX}{os.getpid()}")
        fs.remove_tree(doomed)
        os.rename(tree, doomed)
        fs.remove_tree(doomed)
        self.status = DISCARDED
        self.reasons = list(reasons)
        self.previous = None

    # --- between restore and save --------------------------------------------

    def skip_install(self, ctx: BuildContext, installer: Installer) -> bool:
        """True when the installer would provably change nothing: the cached
        tree came from a successful run with identical inputs."""
        assert self.key is not None, "restore() first"
        previous = self.previous
        found = previous.plain_inputs(ctx.settings.buildpack_version) if previous else None
        self.inputs = install_inputs.compute(
            ctx, self.key.package_manager, installer, self.key.python_version, found_plain=found
        )
        skip = (
            installer.SKIP_INSTALL_WHEN_UNCHANGED
            and self.status == REUSED
            and previous is not None
            and self.inputs.skippable
            and not previous.app_refs
            and previous.install_inputs == self.inputs.digest
        )
        ctx.report.set("dependencies_install_skipped", bool(skip))
        if skip:
            ctx.out.step(
                "Skipping dependency installation: the dependency files and installer "
                "settings are unchanged since the cached build"
            )
        return bool(skip)

    # --- save ---------------------------------------------------------------

    def save(self, ctx: BuildContext, *, app_refs: set[str] | list[str]) -> None:
        try:
            problem = ctx.cache_dir_problem()
            if problem is not None:
                ctx.out.warning(
                    "Nothing from this build was cached",
                    f"{problem} (by a hook?), so the buildpack saved nothing into it. "
                    "The app was built; the next build starts without a cache.",
                )
                ctx.report.set("cache_save_error", problem)
            elif self.lock.held and self.key is not None and ctx.build_python_home.is_dir():
                self._save(ctx, app_refs)
        finally:
            self.lock.release()

    def _save(self, ctx: BuildContext, app_refs: set[str] | list[str]) -> None:
        assert self.key is not None
        ctx.out.step("Saving cache")
        heroku = self.cache_dir / HEROKU_DIR
        tree = self.cache_dir / TREE
        metadata = self.cache_dir / METADATA
        staging = heroku / f"{_SAVING_PREFIX}{os.getpid()}"
        old = heroku / f"{_OLD_PREFIX}{os.getpid()}"
        # Computed before the installer ran (or was skipped because the cached
        # tree already came from these inputs); save is reached only on success.
        inputs = self.inputs
        meta = Metadata(
            key=self.key,
            install_inputs=inputs.digest if inputs is not None and inputs.skippable else None,
            build_dir=tuple(records.path_spellings(ctx.build_dir)),
            app_refs=tuple(sorted(app_refs)),
            buildpack_version=ctx.settings.buildpack_version,
        )
        try:
            heroku.mkdir(parents=True, exist_ok=True)
            fs.remove_tree(staging)
            stats = cache_tree.clone_tree(
                ctx.build_python_home,
                staging,
                after_top_level_entry=_pause_once("cache-save-copy"),
            )
            pause_points.pause("cache-save-swap")
            _unlink(metadata)
            if tree.exists() or tree.is_symlink():
                os.rename(tree, old)
            os.rename(staging, tree)
            pause_points.pause("cache-save-metadata")
            safe_fs.write_atomic(metadata, meta.to_json())
        except OSError as exc:
            fs.remove_tree(staging)
            ctx.out.warning(
                "Could not save the build cache",
                f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}. "
                "The app was built; the next build may start without a cache.",
            )
            ctx.report.set("cache_save_error", str(exc))
            return
        finally:
            fs.remove_tree(old)
        ctx.report.set("cache_files_linked", stats.linked)
        ctx.report.set("cache_files_copied", stats.copied)


def _pause_once(point: str) -> Callable[[str], None]:
    done: list[bool] = []

    def pause(_name: str) -> None:
        if not done:
            done.append(True)
            pause_points.pause(point)

    return pause


def pip_cache_dir(ctx: BuildContext) -> Path | None:
    """Where pip keeps downloads and built wheels between builds; None when
    the app turned pip's cache off (PIP_NO_CACHE_DIR)."""
    value = ctx.setting("PIP_NO_CACHE_DIR")
    if value is not None and value.lower() not in ("0", "false", "no", "off"):
        return None
    safe_fs.real_dir(ctx.cache_dir, PIP_CACHE)
    return cache_tree.bounded(ctx.cache_dir / PIP_CACHE, PIP_CACHE_LIMIT_BYTES)


def _repoint_app_refs(ctx: BuildContext, previous: Metadata | None) -> None:
    """Editable installs of the app name the directory it was built in; a
    tree restored into another BUILD_DIR must name this one instead."""
    if previous is None or not previous.build_dir:
        return
    changed = records.repoint_install_records(
        ctx.build_python_home, previous.build_dir, os.fspath(ctx.build_dir)
    )
    if changed:
        ctx.out.info(
            f"Pointed {changed} install record(s) from the previous build directory to this one"
        )


def lock_for(cache_dir: Path) -> FileLock:
    return FileLock(cache_dir / LOCK)


def _lock_timeout(ctx: BuildContext) -> float:
    return timeout_setting(ctx.setting("BUILDPACK_CACHE_LOCK_TIMEOUT"), DEFAULT_TIMEOUT_SECONDS)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
