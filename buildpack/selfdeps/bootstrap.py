"""The buildpack's own dependencies, for the interpreter that runs it.

Standard library only: this runs before zstandard, requests and PyYAML exist.
They are installed once per interpreter and pin set into CACHE_DIR (the only
directory that persists between Heroku builds) and put on sys.path, never into
the app's Python or the system's site-packages.

Every package is pinned in buildpack.toml, so the exact wheels are fetched
from the index pip would use and unpacked (buildpack.package_index), in the
background while the build goes on: about a second, where running pip takes
three or more. pip, the host's or the runtime's bundled one, is the fallback
for anything that path cannot do.
"""

from __future__ import annotations

import compileall
import hashlib
import platform
import sys
from collections.abc import Mapping
from pathlib import Path

from buildpack.core import atomic_dir, errors, fs, proc
from buildpack.core.config_vars import ConfigVars, lookup
from buildpack.core.output import Output
from buildpack.core.settings import parse_toml
from buildpack.selfdeps import package_index, wheel_install
from buildpack.selfdeps.wheel_tags import Interpreter

DEPS_DIR = Path(".heroku/buildpack-deps")
_COMPLETE = ".complete"
# Installer settings a user may need for a private or mirrored index.
INDEX_VARS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_CERT")


def read_pins(buildpack_toml: Path) -> dict[str, str]:
    return dict(parse_toml(buildpack_toml.read_text())["buildpack-dependencies"])


def requirements(pins: Mapping[str, str]) -> list[str]:
    reqs = [f"{name}=={version}" for name, version in sorted(pins.items())]
    # tomli backports tomllib; a newer interpreter must not install it.
    return [r if not r.startswith("tomli==") else f"{r}; python_version < '3.11'" for r in reqs]


def deps_dir_for(cache_dir: Path, pins: Mapping[str, str]) -> Path:
    digest = hashlib.sha256("\n".join(requirements(pins)).encode()).hexdigest()[:16]
    tag = f"{sys.implementation.cache_tag}-{platform.machine()}-{digest}"
    return cache_dir / DEPS_DIR / tag


def activate(path: Path) -> None:
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


def activate_if_complete(path: Path) -> bool:
    """Activate a library directory only once a build finished installing it."""
    if not path.is_absolute() or not (path / _COMPLETE).is_file():
        return False
    activate(path)
    return True


def find_pip_wheel(python_homes: list[Path]) -> Path | None:
    """The pip wheel that CPython bundles for ensurepip, in any given runtime."""
    for home in python_homes:
        wheels = sorted(home.glob("lib/python3*/ensurepip/_bundled/pip-*.whl"))
        if wheels:
            return wheels[-1]
    return None


def pip_command(pip_wheel: Path | None) -> list[str] | None:
    """How to run a pip for the interpreter running the buildpack."""
    import importlib.util

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    if pip_wheel is not None:
        # A pip wheel runs from the zip itself: <python> pip-X.whl/pip ...
        return [sys.executable, str(pip_wheel / "pip")]
    return None


def pins_for_this_interpreter(pins: Mapping[str, str]) -> list[package_index.Pin]:
    return [
        package_index.Pin(name, version)
        for name, version in sorted(pins.items())
        if name != "tomli" or sys.version_info < (3, 11)
    ]


class Dependencies:
    """The buildpack's own dependencies for this interpreter, made importable.

    On a cold cache ``start`` fetches them from the index in a background
    process (a process, not a thread: it uses the other CPU instead of
    competing for this interpreter's, and an interrupted build can stop it),
    which only downloads and unpacks into its own partial directory. The
    build goes on with the standard library meanwhile. ``wait`` finishes the
    job: it publishes the directory, or runs pip when the index could not be
    used, and puts the result on sys.path.
    """

    def __init__(
        self, *, buildpack_dir: Path, cache_dir: Path, env: dict[str, str], out: Output
    ) -> None:
        self.buildpack_dir = buildpack_dir
        self.pins = read_pins(buildpack_dir / "buildpack.toml")
        self.target = deps_dir_for(cache_dir, self.pins)
        self._env = env
        self._out = out
        self._partial: Path | None = None
        self._fetch: proc.Background | None = None
        self._problem = ""
        self._announced = False
        self.ready = (self.target / _COMPLETE).exists()
        # For the build report: "cache", or how this build installed them.
        self.source = "cache" if self.ready else ""
        if self.ready:
            activate(self.target)

    @property
    def started(self) -> bool:
        return self.ready or self._fetch is not None

    def start(self, pip_wheel_homes: list[Path]) -> None:
        """Fetch them in the background, if the index to use is known yet."""
        if self.started:
            return
        try:
            index = package_index.pip_index(
                self._env, pip_wheel=find_pip_wheel(pip_wheel_homes), site_prefix=Path(sys.prefix)
            )
        except package_index.IndexUnavailable as exc:
            self._problem = str(exc)
            return
        self._announce()
        self._partial = self._new_partial()
        pins = [f"{p.project}=={p.version}" for p in pins_for_this_interpreter(self.pins)]
        self._fetch = proc.start(
            [
                sys.executable,
                "-I",
                "-c",
                _FETCH_SCRIPT,
                str(self.buildpack_dir),
                str(self._partial),
                str(self.target),
                index.url,
                index.cafile or "",
                " ".join(sorted(index.trusted_hosts)),
                *pins,
            ],
            env=self._env,
        )

    def wait(self, pip_wheel_homes: list[Path], *, use_pip: bool = True) -> bool:
        """Finish and activate them; False if there is no way yet (no index
        known and no pip: the caller installs a runtime and asks again).
        With ``use_pip=False``, only what the background fetch got counts."""
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
        try:
            if not fetched:
                command = pip_command(find_pip_wheel(pip_wheel_homes))
                if command is None or not use_pip:
                    return False
                if self._problem:
                    self._out.info(f"Could not fetch them from the index ({self._problem})")
                self._announce()
                self._partial = self._new_partial()
                _install_with_pip(command, self.pins, self._partial, self._env, self._out)
            self.source = "pip" if not fetched else "index"
            assert self._partial is not None
            (self._partial / _COMPLETE).write_text("\n".join(requirements(self.pins)) + "\n")
            _publish(self._partial, self.target)
        finally:
            self.abandon()
        activate(self.target)
        self.ready = True
        return True

    def keep_fetched(self, *, within: float) -> None:
        """After a failed build: keep what the background fetch got, if it
        ends ``within`` seconds, so that the next build need not fetch it."""
        if self._fetch is not None and not self.ready and self._fetch.wait_for(within):
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
            self._announced = True

    def _new_partial(self) -> Path:
        # This runs before the cache lock: a live build's partial is spared.
        return atomic_dir.new_partial(self.target)


# Run by ``Dependencies.start`` as ``python -I -c``: -I keeps the app's and the
# user's Python settings out, so the package's path comes as an argument.
_FETCH_SCRIPT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from buildpack.selfdeps.bootstrap import fetch_main; sys.exit(fetch_main(sys.argv[2:]))"
)


def fetch_main(argv: list[str]) -> int:
    """``PARTIAL FINAL INDEX_URL CAFILE TRUSTED_HOSTS NAME==VERSION...``: fetch
    and unpack each pinned wheel into PARTIAL, and compile it as FINAL, where
    it will be. Exit 0, or 1 with the reason on the last line."""
    partial, final, url, cafile, trusted, *pins = argv
    index = package_index.IndexSettings(url, cafile or None, frozenset(trusted.split()))
    target = Path(partial)
    wheels = target / ".wheels"
    try:
        wheels.mkdir()
        package_index.fetch_pinned(
            index,
            [package_index.Pin(*pin.split("==", 1)) for pin in pins],
            Interpreter.running(),
            wheels,
            then=lambda wheel: wheel_install.unpack_into_target(wheel, target),
        )
        fs.remove_tree(wheels)
        # As pip --target does. Without bytecode, every build would write it
        # into the shared directory on import, changing it after the fact.
        compileall.compile_dir(target, quiet=2, ddir=final)
    except (package_index.IndexUnavailable, wheel_install.WheelError, OSError) as exc:
        print(exc)
        return 1
    return 0


def prepare(
    *,
    buildpack_dir: Path,
    cache_dir: Path,
    config: ConfigVars,
    environ: Mapping[str, str],
    out: Output,
) -> Dependencies:
    env = {k: v for k, v in environ.items() if not k.startswith("PYTHON")}
    for name in INDEX_VARS:
        value = lookup(name, config, environ)
        if value:
            env[name] = value
    return Dependencies(buildpack_dir=buildpack_dir, cache_dir=cache_dir, env=env, out=out)


def _install_with_pip(
    command: list[str], pins: Mapping[str, str], partial: Path, env: dict[str, str], out: Output
) -> None:
    args = [
        *command,
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--no-cache-dir",
        "--quiet",
        "--only-binary=:all:",
        "--target",
        str(partial),
        *requirements(pins),
    ]
    proc.run(
        args,
        out=out,
        env=env,
        show=False,
        on_failure=lambda r: errors.buildpack_dependencies_failed(r.output),
    )


def _publish(partial: Path, target: Path) -> None:
    """Move a finished install into place, unless a concurrent build did first."""
    atomic_dir.publish(partial, target, keep_existing=lambda t: (t / _COMPLETE).exists())
