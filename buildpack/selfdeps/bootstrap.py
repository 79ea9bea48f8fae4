"""The buildpack's own dependencies, for the interpreter that runs it.

Standard library only: this runs before zstandard, requests and PyYAML exist. They are
installed once per interpreter and pin set into CACHE_DIR (the only directory that persists
between Heroku builds) and put on sys.path, never into the app's Python or the system's.

Every package is pinned in buildpack.toml and locked in buildpack-locks.json. First the PyPA
libraries (packaging, installer, tomli) come as wheel files imported as they are
(pure_wheels); with them, the rest are fetched from the index pip would use and unpacked in
the background while the build goes on: about a second, where running pip takes three or
more. pip, the host's or the runtime's bundled one, is the fallback for what that cannot do.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from buildpack.core import atomic_dir, errors, fs, proc
from buildpack.core.config_vars import ConfigVars, lookup
from buildpack.core.output import Output
from buildpack.core.settings import parse_toml
from buildpack.runtime import download_settings
from buildpack.selfdeps import host_pip, pure_wheels, verified_tree, wheel_lock
from buildpack.selfdeps.source_only import import_from_source
from buildpack.selfdeps.wheel_lock import LockedFile

if TYPE_CHECKING:
    from buildpack.selfdeps import package_index

DEPS_DIR = Path(".heroku/buildpack-deps")
# Bump when the directory's layout changes: older ones are then left alone.
_LAYOUT = "v2"
# Installer settings for a private or mirrored index, and the download budget (download_settings).
INDEX_VARS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_CERT")


def read_pins(buildpack_toml: Path) -> dict[str, str]:
    return dict(parse_toml(buildpack_toml.read_text())["buildpack-dependencies"])


# Imported from their own wheel files only, never unpacked with the rest.
_PURE = frozenset(pure_wheels.PROJECTS)


def requirements(pins: Mapping[str, str]) -> list[str]:
    """What the dependencies' directory holds: all but the PyPA libraries."""
    return [f"{name}=={version}" for name, version in sorted(pins.items()) if name not in _PURE]


def deps_dir_for(cache_dir: Path, pins: Mapping[str, str]) -> Path:
    digest = hashlib.sha256("\n".join(requirements(pins)).encode()).hexdigest()[:16]
    tag = f"{sys.implementation.cache_tag}-{platform.machine()}-{digest}-{_LAYOUT}"
    return cache_dir / DEPS_DIR / tag


def activate(path: Path) -> None:
    """Put ``path`` on sys.path, its modules imported from source (see source_only)."""
    if str(path) not in sys.path:
        import_from_source(str(path))
        sys.path.insert(0, str(path))


def pins_for_this_interpreter(pins: Mapping[str, str]) -> list[package_index.Pin]:
    from buildpack.selfdeps import package_index

    return [
        package_index.Pin(name, version)
        for name, version in sorted(pins.items())
        if name not in _PURE
    ]


def locked_files(buildpack_dir: Path, pins: Mapping[str, str]) -> list[LockedFile]:
    """What to fetch: the locked wheel of each pin for this interpreter
    (LockUnusable where the lock does not cover it, or without packaging)."""
    return wheel_lock.for_this_python(buildpack_dir, pins, without=_PURE)


def present_files(buildpack_dir: Path, pins: Mapping[str, str], path: Path) -> list[LockedFile]:
    """The locked wheels the directory ``path`` keeps (LockUnusable if it cannot say)."""
    try:
        names = os.listdir(path / verified_tree.WHEELS)
    except OSError as exc:
        raise wheel_lock.LockUnusable(f"its wheels cannot be listed ({exc})") from None
    return wheel_lock.kept_for_this_python(buildpack_dir, pins, names, without=_PURE)


class Dependencies:
    """The buildpack's own dependencies for this interpreter, made importable.

    The PyPA libraries (``pure``) come first: checked copies of the cached
    files when they are there, else ``start`` fetches them then and there
    (or ``wait`` has pip download them). On a cold cache ``start`` then
    fetches the rest from the index in a background process (a process, not
    a thread: it uses the other CPU instead of competing for this
    interpreter's, and an interrupted build can stop it), which only
    downloads and unpacks into its own partial directory. The build goes on
    with the standard library meanwhile. ``wait`` finishes the job: it
    publishes the directory, or runs pip when the index could not be used,
    and puts the result on sys.path.

    A copy in CACHE_DIR is used only when every file in it is what the
    locked wheels hold (see verified_tree); otherwise it is removed, saying
    why (``on_untrusted``), and fetched again. It is checked when first
    needed (``ready``), not before: an unchanged rebuild downloads and
    unpacks nothing, so it never imports them, and checking them cost it a
    tenth of its time. Until then they are on no import path. Where the
    lock does not cover this interpreter (or without packaging to choose
    the locked files), they are fetched into the build's private TMPDIR,
    for this build only.
    """

    def __init__(
        self,
        *,
        buildpack_dir: Path,
        cache_dir: Path,
        env: dict[str, str],
        out: Output,
        work_dir: Path | None = None,
        on_untrusted: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.buildpack_dir = buildpack_dir
        self.pins = read_pins(buildpack_dir / "buildpack.toml")
        self._env = env
        self._out = out
        self._partial: Path | None = None
        self._fetch: proc.Background | None = None
        self._problem = ""
        self._announced = False
        # What in CACHE_DIR was not trusted, for the log and the report.
        self.untrusted: list[str] = []
        self._on_untrusted = on_untrusted
        self._ready = False
        # A copy in CACHE_DIR not checked yet: ``ready`` checks it.
        self._kept = False
        # Whether this build checked the copy it uses (or made it).
        self.checked = False
        self.pure = self._pure_wheels(cache_dir, work_dir)
        self.locked: list[LockedFile] | None = None  # once known: what to fetch
        self._pure_tried = False
        try:
            wheel_lock.covers_this_python(buildpack_dir, self.pins)
        except wheel_lock.LockUnusable as exc:
            self._uncached(str(exc))
        else:
            self.uncached_reason = ""
            self.target = deps_dir_for(cache_dir, self.pins)
            self._kept = os.path.lexists(self.target)
        # For the build report: "cache", or how this build installed them.
        self.source = "cache" if self._kept else ""

    @property
    def ready(self) -> bool:
        """Whether they are importable; a kept copy is checked (and
        activated, or removed) the first time this is asked."""
        if self._kept:
            self._kept = False
            self.checked = True
            found = len(self.untrusted)
            self._ready = self._cached_copy_usable()
            if self._ready:
                activate(self.target)
            else:
                self.source = ""
                if self._on_untrusted is not None:
                    self._on_untrusted(self.untrusted[found:])
        return self._ready

    @property
    def available(self) -> bool:
        """Whether there is a copy for later builds (and bin/release, which
        checks it again): ready, or kept and not needed by this build."""
        return self._kept or self._ready

    def _pure_wheels(self, cache_dir: Path, work_dir: Path | None) -> pure_wheels.PureWheels:
        # The build's own directory (TMPDIR is private to the build).
        work = work_dir or Path(tempfile.mkdtemp(prefix="pure-wheels-"))
        try:
            lock = wheel_lock.load(self.buildpack_dir)
            wanted = pure_wheels.pinned(lock, self.pins, (sys.version_info[0], sys.version_info[1]))
        except wheel_lock.LockUnusable as exc:
            return pure_wheels.PureWheels(cache_dir, [], work, unavailable=str(exc))
        pure = pure_wheels.PureWheels(cache_dir, wanted, work)
        pure.use_cached()
        for name in pure.discarded:
            self.untrusted.append(
                f"CACHE_DIR/{pure_wheels.WHEELS_DIR / name} is not the locked file: "
                "removed, to be fetched again"
            )
        return pure

    def _uncached(self, reason: str) -> None:
        self.uncached_reason = reason
        self.locked = None
        self.target = Path(tempfile.mkdtemp(prefix="buildpack-deps-")) / "deps"

    def _cached_copy_usable(self) -> bool:
        if not os.path.lexists(self.target):  # gone since (a hook?): fetched again
            return False
        try:
            present = present_files(self.buildpack_dir, self.pins, self.target)
        except wheel_lock.LockUnusable as exc:
            problem: str | None = str(exc)
        else:
            problem = verified_tree.problem(self.target, present)
        if problem is None:
            return True
        shown = self.target.relative_to(self.target.parents[2])
        self.untrusted.append(
            f"the buildpack's own libraries in CACHE_DIR/{shown} are not the locked "
            f"wheels' files ({problem}): removed, to be fetched again"
        )
        fs.remove_tree(self.target)
        return False

    def _wanted(self) -> list[LockedFile]:
        """What to fetch: the locked files for here, once packaging can say;
        the pins as they are where nothing is locked for here."""
        if self.locked is None and not self.uncached_reason:
            try:
                self.locked = locked_files(self.buildpack_dir, self.pins)
            except wheel_lock.LockUnusable as exc:
                self._uncached(str(exc))
        if self.locked is not None:
            return self.locked
        return [
            LockedFile(p.project, p.version, "", "") for p in pins_for_this_interpreter(self.pins)
        ]

    def start(self, pip_wheel_homes: list[Path]) -> None:
        """Fetch the PyPA libraries now and the rest in the background, if
        the index to use is known yet."""
        from buildpack.selfdeps import deps_fetch, package_index

        done = self._kept or self._ready
        if self._fetch is not None or (done and (self.pure.ready or self._pure_tried)):
            return
        try:
            index = package_index.pip_index(
                self._env,
                pip_wheel=host_pip.find_pip_wheel(pip_wheel_homes),
                site_prefix=Path(sys.prefix),
            )
        except package_index.IndexUnavailable as exc:
            self._problem = str(exc)
            return
        self._announce()
        if not self.pure.ready and not self._pure_tried:
            self._pure_tried = True  # once: an unreachable index costs its timeouts
            if not self.pure.fetch(index):
                self._out.info(
                    f"Could not fetch {self.pure.names} from the index ({self.pure.problem})"
                )
        if done:
            return
        if not self.pure.ready:
            self._problem = f"the buildpack's PyPA libraries are not there ({self.pure.problem})"
            return
        self._partial = self._new_partial()
        self._fetch = proc.start(
            [
                sys.executable,
                "-I",
                "-c",
                deps_fetch.FETCH_SCRIPT,
                str(self.buildpack_dir),
                *deps_fetch.fetch_args(self._partial, index, self._wanted(), self.pure.paths),
            ],
            env=self._env,
        )

    def wait(self, pip_wheel_homes: list[Path], *, use_pip: bool = True) -> bool:
        """Finish and activate them; False if there is no way yet (no index
        known and no pip: the caller installs a runtime and asks again).
        With ``use_pip=False``, only what the background fetch got counts."""
        from buildpack.selfdeps import deps_fetch

        if self.ready:
            return True
        if self._fetch is None and use_pip:
            self.start(pip_wheel_homes)
        fetched = False
        if self._fetch is not None:
            result = self._fetch.finish(out=self._out, show=False)
            fetched = result.returncode == 0
            if not fetched:
                lines = result.output.strip().splitlines()
                self._problem = lines[-1] if lines else f"exit status {result.returncode}"
                if result.returncode == deps_fetch.EXIT_BUILD_ERROR and lines:
                    self.abandon()
                    raise errors.BuildError(**json.loads(lines[-1]))
        try:
            if not fetched:
                command = host_pip.pip_command(host_pip.find_pip_wheel(pip_wheel_homes))
                if command is None or not use_pip:
                    return False
                if self._problem:
                    self._out.info(f"Could not fetch them from the index ({self._problem})")
                self._announce()
                self._out.info(f"Installing them with {host_pip.describe_pip(command)}")
                if not self.pure.fetch_with_pip(command, self._env, self._out):
                    self._out.info(f"Without {self.pure.names} ({self.pure.problem})")
                wanted = self._wanted()
                self._partial = self._new_partial()
                deps_fetch.download_with_pip(command, wanted, self._partial, self._env, self._out)
            self.source = "pip" if not fetched else "index"
            assert self._partial is not None
            self._publish(self._partial)
        finally:
            self.abandon()
        activate(self.target)
        self._ready = self.checked = True
        return True

    def _publish(self, partial: Path) -> None:
        """Move a finished install into place, checked against the lock,
        unless a concurrent build's checked one is there first."""
        if self.locked is not None:
            problem = verified_tree.problem(partial, self.locked)
            if problem is not None:
                raise errors.buildpack_dependencies_failed(
                    f"What was fetched is not what the buildpack locked: {problem}"
                )
        (partial / verified_tree.COMPLETE).write_text("\n".join(requirements(self.pins)) + "\n")
        # Another build's identical install, already in use and checked: keep it.
        atomic_dir.publish(partial, self.target, keep_existing=self._checked)

    def _checked(self, target: Path) -> bool:
        return self.locked is not None and verified_tree.problem(target, self.locked) is None

    def finish(self, pip_wheel_homes: list[Path]) -> None:
        """At a build's end: publish them for later builds (``wait``). A kept
        copy the build never needed stays as it is, unchecked and unused."""
        if not self._kept:
            self.wait(pip_wheel_homes)

    def settle(self) -> None:
        """Let the fetch, writing into CACHE_DIR, end before a hook may remove it."""
        if self._fetch is not None and not self._ready:
            self._fetch.wait_for(None)

    def keep_fetched(self, *, within: float) -> None:
        """After a failed build: keep what the background fetch got, if it
        ends ``within`` seconds, so that the next build need not fetch it."""
        if self._fetch is not None and not self._ready and self._fetch.wait_for(within):
            self.wait([], use_pip=False)

    def abandon(self) -> None:
        """Stop a fetch still running and remove its partial directory."""
        if self._fetch is not None:
            self._fetch.stop()
        if self._partial is not None:
            fs.remove_tree(self._partial)
            self._partial = None

    def _announce(self) -> None:
        if not self._announced:
            self._out.step("Installing the buildpack's own dependencies")
            if self.uncached_reason:
                self._out.info(
                    f"For this build only ({self.uncached_reason}): nothing can vouch "
                    "for a copy kept in the build cache"
                )
            self._announced = True

    def _new_partial(self) -> Path:
        # This runs before the cache lock: a live build's partial is spared.
        return atomic_dir.new_partial(self.target)


def prepare(
    *,
    buildpack_dir: Path,
    cache_dir: Path,
    config: ConfigVars,
    environ: Mapping[str, str],
    out: Output,
    on_untrusted: Callable[[list[str]], None] | None = None,
) -> Dependencies:
    env = {k: v for k, v in environ.items() if not k.startswith("PYTHON")}
    for name in (*INDEX_VARS, *download_settings.NAMES):
        value = lookup(name, config, environ)
        if value:
            env[name] = value
    return Dependencies(
        buildpack_dir=buildpack_dir,
        cache_dir=cache_dir,
        env=env,
        out=out,
        on_untrusted=on_untrusted,
    )
