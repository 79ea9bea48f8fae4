"""What decides an installer's result, to know when running it again is a no-op.

An unchanged rebuild skips the installer only when the cache says the same
installer, with the same files and the same settings, already ran to success
on this very tree, *and* those files name only locked or plain named
packages: something already installed by name stays installed, while a local
path, a URL, a VCS checkout or an editable install (the app's own code) can
change without any of these files changing. Everything here errs towards
"run the installer": a needless run costs seconds, a wrong skip ships stale code.

Each package manager declares its own part (``Installer.install_inputs`` and
``Installer.SETTINGS_PREFIXES``); this module adds what every installer shares:
pip's config files, the settings in the environment, the build's identity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildpack.core.context import BuildContext
from buildpack.core.settings import toml_loads
from buildpack.selfdeps import pip_config

if TYPE_CHECKING:
    from buildpack.package_managers import Installer

# The sha256 recorded for a file that does not exist.
MISSING = "missing"
# Where installers look for their config files.
_ENV_NAMES = ("HOME", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS")
# Settings under which a run installs something even when nothing changed.
_ALWAYS_ACTS = (
    "PIP_UPGRADE",
    "PIP_FORCE_REINSTALL",
    "PIP_IGNORE_INSTALLED",
    "PIP_EDITABLE",
    "PIP_REQUIREMENT",
    "UV_UPGRADE",
    "UV_REINSTALL",
)
_FALSE = ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class ManagerInputs:
    """A package manager's own answer: which app files decide its result."""

    # relative path -> sha256 (or MISSING) of every file the installer reads.
    files: dict[str, str] = field(default_factory=dict)
    # Why those files do not fully decide the result; empty when they do.
    not_plain: list[str] = field(default_factory=list)
    # The subset whose change must discard the cached tree, because the
    # installer would not remove what they no longer list.
    discard_files: dict[str, str] = field(default_factory=dict)
    # More reasons, costly to find (pip parses every requirement); the
    # answer depends on the files alone, so it is not asked again for the
    # very inputs the cached build found plain.
    more_not_plain: Callable[[], list[str]] | None = None


@dataclass
class InstallInputs:
    digest: str
    files: dict[str, str] = field(default_factory=dict)
    not_plain: list[str] = field(default_factory=list)

    @property
    def skippable(self) -> bool:
        return not self.not_plain


def compute(
    ctx: BuildContext,
    manager: str,
    installer: Installer,
    python_version: str,
    *,
    found_plain: str | None = None,
) -> InstallInputs:
    """The digest of what decides the install, and why it may not decide it.

    ``found_plain`` is the digest a build of this buildpack version found
    plain (the cached build's), if any.
    """
    env = ctx.build_env()
    own = installer.install_inputs(ctx)
    files = dict(own.files)
    not_plain = list(own.not_plain)
    for path in _config_files(env, ctx.build_dir, [ctx.build_python_home]):
        files.setdefault(path, file_sha256(Path(path)))
    for name in _ALWAYS_ACTS:
        if env.get(name, "").strip().lower() not in _FALSE:
            not_plain.append(f"{name} is set")
    prefixes = tuple(installer.SETTINGS_PREFIXES)
    settings = {k: v for k, v in sorted(env.items()) if k.startswith(prefixes) or k in _ENV_NAMES}
    payload = {
        "manager": manager,
        "tool_version": ctx.tool_version(manager),
        "python_version": python_version,
        "stack": ctx.stack,
        "arch": ctx.arch,
        "install_dev": ctx.install_dev,
        "env": settings,
        "files": dict(sorted(files.items())),
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    if own.more_not_plain is not None:
        reuse = digest == found_plain
        if not reuse:
            not_plain.extend(own.more_not_plain())
        ctx.report.set("dependency_files_checked", "cache" if reuse else "parsed")
    return InstallInputs(digest=digest, files=files, not_plain=not_plain)


def hash_files(app: Path, names: Iterable[str]) -> dict[str, str]:
    return {name: file_sha256(app / name) for name in names}


def file_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return MISSING


def read_toml(path: Path) -> dict[str, Any] | None:
    """An app's TOML file, or None when it cannot be read (or, on Python
    3.10, before the build has tomli): then nothing is proven."""
    loads = toml_loads()
    if loads is None:
        return None
    try:
        data = loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):  # TOMLDecodeError is a ValueError
        return None
    return data if isinstance(data, dict) else None


def _config_files(
    env: Mapping[str, str], app_dir: Path, site_prefixes: Iterable[Path]
) -> list[str]:
    """pip's (and Pipenv's) config files, plus the constraint files they name."""
    found = [str(path) for path in pip_config.config_files(env, site_prefixes) if path.is_file()]
    named: list[str] = env.get("PIP_CONSTRAINT", "").split()
    for path in found:
        try:
            sections = pip_config.read(Path(path))
        except pip_config.PipConfigError:
            continue  # its hash is among the inputs all the same
        for section in sections.values():
            for key in ("constraint", "constraints"):
                named.extend(section.get(key, "").split())
    # pip reads a relative constraint path from its working directory, the app.
    constraints = {str(app_dir / n) for n in named}
    return sorted(set(found) | constraints)
