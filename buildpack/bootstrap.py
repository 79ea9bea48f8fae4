"""The buildpack's own dependencies, for the interpreter that runs it.

Standard library only: this runs before zstandard, requests and PyYAML exist.
They are installed once per interpreter and pin set into CACHE_DIR (the only
directory that persists between Heroku builds) and put on sys.path, never into
the app's Python or the system's site-packages.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from buildpack import cache_tree, errors, proc
from buildpack.config_vars import ConfigVars, lookup
from buildpack.output import Output
from buildpack.settings import parse_toml

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


def ensure_dependencies(
    *,
    buildpack_dir: Path,
    cache_dir: Path,
    config: ConfigVars,
    environ: Mapping[str, str],
    out: Output,
    pip_wheel_homes: list[Path],
) -> bool:
    """Make the pinned dependencies importable. False if no pip is available
    yet (the caller then unpacks a runtime first, whose bundled pip we use)."""
    pins = read_pins(buildpack_dir / "buildpack.toml")
    target = deps_dir_for(cache_dir, pins)
    if (target / _COMPLETE).exists():
        activate(target)
        return True
    command = pip_command(find_pip_wheel(pip_wheel_homes))
    if command is None:
        return False
    out.step("Installing the buildpack's own dependencies")
    env = {k: v for k, v in environ.items() if not k.startswith("PYTHON")}
    for name in INDEX_VARS:
        value = lookup(name, config, environ)
        if value:
            env[name] = value
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    # A build killed during this install (SIGKILL skips the cleanup below)
    # leaves its partial directory behind; it is never used, only removed.
    # Bootstrap runs before the cache lock, so spare a live build's partial.
    for stale in target.parent.glob(f".{target.name}.partial-*"):
        if not cache_tree.process_alive(stale.name.rsplit("-", 1)[-1]):
            shutil.rmtree(stale, ignore_errors=True)
    partial.mkdir(parents=True)
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
    try:
        proc.run(
            args,
            out=out,
            env=env,
            show=False,
            on_failure=lambda r: errors.buildpack_dependencies_failed(r.output),
        )
        (partial / _COMPLETE).write_text("\n".join(requirements(pins)) + "\n")
        _publish(partial, target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    activate(target)
    return True


def _publish(partial: Path, target: Path) -> None:
    """Move a finished install into place, unless a concurrent build did first."""
    if (target / _COMPLETE).exists():
        return  # another build's identical install is already in use: keep it
    # Only an incomplete leftover (a killed build's) can be here; it is unused.
    shutil.rmtree(target, ignore_errors=True)
    try:
        os.replace(partial, target)
    except OSError:
        if not (target / _COMPLETE).exists():
            raise
