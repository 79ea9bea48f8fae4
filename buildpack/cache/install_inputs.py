"""What decides an installer's result, to know when running it again is a no-op.

An unchanged rebuild skips the installer only when the cache says the same
installer, with the same files and the same settings, already ran to success
on this very tree, *and* those files name only locked or plain named
packages: something already installed by name stays installed, while a local
path, a URL, a VCS checkout or an editable install (the app's own code) can
change without any of these files changing. Everything here errs towards
"run the installer": a needless run costs seconds, a wrong skip ships stale code.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from buildpack.core.context import BuildContext
from buildpack.package_managers import requirements_files

# The installers' own settings; any change means "run it again".
_ENV_PREFIXES = ("PIP_", "UV_", "POETRY_", "PIPENV_")
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
# Sources in uv.lock / poetry.lock whose contents are not pinned by the lock.
_UNPINNED_UV_SOURCES = ("editable", "directory", "path", "git")
_UNPINNED_POETRY_SOURCES = ("directory", "file", "git")
_UNPINNED_PIPFILE_KEYS = ("path", "file", "editable", "git", "hg", "svn", "bzr")


@dataclass
class InstallInputs:
    digest: str
    files: dict[str, str] = field(default_factory=dict)
    # Why the files do not fully decide the result; empty when they do.
    not_plain: list[str] = field(default_factory=list)

    @property
    def skippable(self) -> bool:
        return not self.not_plain


def compute(ctx: BuildContext, manager: str, python_version: str) -> InstallInputs:
    env = ctx.build_env()
    files, not_plain = _manager_files(ctx, manager)
    config_files = _config_files(env, ctx.build_dir)
    for path in config_files:
        files.setdefault(path, _sha256(Path(path)))
    for name in _ALWAYS_ACTS:
        if env.get(name, "").strip().lower() not in _FALSE:
            not_plain.append(f"{name} is set")
    settings = {
        k: v for k, v in sorted(env.items()) if k.startswith(_ENV_PREFIXES) or k in _ENV_NAMES
    }
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
    return InstallInputs(digest=digest, files=files, not_plain=not_plain)


def dependency_files(ctx: BuildContext, manager: str) -> dict[str, str]:
    """Files whose change must discard the cache: the installer would not
    remove what they no longer list (pip, Pipenv). uv and Poetry sync prune."""
    if manager == "pip":
        return pip_requirements(ctx).hashes
    if manager == "pipenv":
        return {"Pipfile.lock": _sha256(ctx.build_dir / "Pipfile.lock")}
    return {}


def pip_requirements(ctx: BuildContext) -> requirements_files.RequirementFiles:
    from buildpack.package_managers import pip

    return requirements_files.collect(ctx.build_dir, pip.requirement_files(ctx))


def _manager_files(ctx: BuildContext, manager: str) -> tuple[dict[str, str], list[str]]:
    app = ctx.build_dir
    if manager == "pip":
        reqs = pip_requirements(ctx)
        return dict(reqs.hashes), list(reqs.not_plain)
    if manager == "pipenv":
        files = _hash_all(app, ("Pipfile", "Pipfile.lock"))
        return files, _pipfile_lock_unpinned(app / "Pipfile.lock", ctx.install_dev)
    if manager == "poetry":
        files = _hash_all(app, ("pyproject.toml", "poetry.lock", "poetry.toml"))
        return files, _poetry_unpinned(app)
    if manager == "uv":
        files = _hash_all(app, ("pyproject.toml", "uv.lock", "uv.toml"))
        return files, _uv_unpinned(app / "uv.lock")
    return {}, [f"unknown package manager {manager}"]


def _hash_all(app: Path, names: tuple[str, ...]) -> dict[str, str]:
    return {name: _sha256(app / name) for name in names}


def _sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return requirements_files.MISSING


def _config_files(env: Mapping[str, str], app_dir: Path) -> list[str]:
    """pip's (and Pipenv's) config files, plus constraint files they name."""
    home = env.get("HOME", "")
    xdg_home = env.get("XDG_CONFIG_HOME") or (os.path.join(home, ".config") if home else "")
    xdg_dirs = (env.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")
    candidates = [os.path.join(d, "pip", "pip.conf") for d in xdg_dirs if d]
    candidates.append("/etc/pip.conf")
    if xdg_home:
        candidates.append(os.path.join(xdg_home, "pip", "pip.conf"))
    if home:
        candidates.append(os.path.join(home, ".pip", "pip.conf"))
    if env.get("PIP_CONFIG_FILE") and env["PIP_CONFIG_FILE"] != os.devnull:
        candidates.append(env["PIP_CONFIG_FILE"])
    found = [c for c in candidates if os.path.isfile(c)]
    named: list[str] = env.get("PIP_CONSTRAINT", "").split()
    for path in found:
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except (configparser.Error, UnicodeDecodeError):
            continue
        for section in parser.sections():
            for key in ("constraint", "constraints"):
                named.extend(parser.get(section, key, fallback="").split())
    # pip reads a relative constraint path from its working directory, the app.
    constraints = {os.path.join(app_dir, n) for n in named}
    return sorted(set(found) | constraints)


def _pipfile_lock_unpinned(lock: Path, install_dev: bool) -> list[str]:
    try:
        data = json.loads(lock.read_text())
    except (OSError, ValueError):
        return ["Pipfile.lock is unreadable"]
    sections = ("default", "develop") if install_dev else ("default",)
    found = []
    for section in sections:
        entries = data.get(section) if isinstance(data, dict) else None
        for name, entry in (entries or {}).items():
            if isinstance(entry, dict) and any(k in entry for k in _UNPINNED_PIPFILE_KEYS):
                found.append(f"Pipfile.lock: {name} is not from a package index")
    return found


def _toml(path: Path) -> dict | None:
    from buildpack.core.settings import parse_toml

    try:
        data = parse_toml(path.read_text())
    except Exception:  # any parse error: cannot prove anything
        return None
    return data if isinstance(data, dict) else None


def _poetry_unpinned(app: Path) -> list[str]:
    lock = _toml(app / "poetry.lock")
    project = _toml(app / "pyproject.toml")
    if lock is None or project is None:
        return ["poetry.lock or pyproject.toml is unreadable"]
    found = []
    for package in lock.get("package", []):
        source = package.get("source") if isinstance(package, dict) else None
        if isinstance(source, dict) and source.get("type") in _UNPINNED_POETRY_SOURCES:
            found.append(f"poetry.lock: {package.get('name')} is from a {source.get('type')}")
    if project.get("tool", {}).get("poetry", {}).get("package-mode", True) is not False:
        found.append("Poetry installs the app itself")
    return found


def _uv_unpinned(lock_path: Path) -> list[str]:
    lock = _toml(lock_path)
    if lock is None:
        return ["uv.lock is unreadable"]
    found = []
    for package in lock.get("package", []):
        source = package.get("source") if isinstance(package, dict) else None
        if isinstance(source, dict):
            kinds = [k for k in _UNPINNED_UV_SOURCES if k in source]
            if kinds:
                found.append(f"uv.lock: {package.get('name')} is from a {kinds[0]}")
    return found
