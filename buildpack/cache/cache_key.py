"""What a cached tree was built from, and why a cached tree no longer fits this build."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from buildpack.cache import install_inputs
from buildpack.core.context import BuildContext

# Bump when the meaning of the tree or the metadata changes: every cache of
# another format is then discarded with a reason instead of being misread.
FORMAT = 1


@dataclass(frozen=True)
class CacheKey:
    """What a cached tree must match to be reused."""

    stack: str
    arch: str
    python_version: str
    package_manager: str
    package_manager_version: str
    install_dev: bool
    # relative path -> sha256 for files whose change the installer would not undo.
    dependency_files: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Metadata:
    key: CacheKey
    # install_inputs.compute() digest of the last successful install; None
    # when the installer did not run or its inputs could not be proven.
    install_inputs: str | None
    # Spellings of the BUILD_DIR the tree was built in.
    build_dir: tuple[str, ...]
    # Install records that name that BUILD_DIR (the app's editable installs).
    app_refs: tuple[str, ...]
    buildpack_version: str = ""

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "format": FORMAT,
            "buildpack_version": self.buildpack_version,
            "key": asdict(self.key),
            "install_inputs": self.install_inputs,
            "build_dir": list(self.build_dir),
            "app_refs": sorted(self.app_refs),
        }
        return json.dumps(data, indent=1, sort_keys=True) + "\n"


class MetadataProblem(Exception):
    """The metadata cannot describe the tree; the message is a discard reason."""


def parse_metadata(text: str) -> Metadata:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise MetadataProblem(f"The cache metadata is unreadable ({exc.msg})") from None
    if not isinstance(data, dict):
        raise MetadataProblem("The cache metadata is unreadable (not a JSON object)")
    version = data.get("format")
    if not isinstance(version, int) or isinstance(version, bool):
        raise MetadataProblem(
            "The cache was written in an unversioned format by an earlier buildpack release"
        )
    if version < FORMAT:
        raise MetadataProblem(
            f"The cache was written in an older format (format {version}, now {FORMAT})"
        )
    if version > FORMAT:
        raise MetadataProblem(
            f"The cache was written by a newer buildpack release (format {version}, "
            f"this release reads format {FORMAT})"
        )
    try:
        raw = data["key"]
        key = CacheKey(
            stack=_str(raw["stack"]),
            arch=_str(raw["arch"]),
            python_version=_str(raw["python_version"]),
            package_manager=_str(raw["package_manager"]),
            package_manager_version=_str(raw["package_manager_version"]),
            install_dev=bool(raw["install_dev"]),
            dependency_files={_str(k): _str(v) for k, v in dict(raw["dependency_files"]).items()},
        )
        inputs = data.get("install_inputs")
        return Metadata(
            key=key,
            install_inputs=_str(inputs) if inputs is not None else None,
            build_dir=tuple(_str(p) for p in data.get("build_dir", [])),
            app_refs=tuple(_str(p) for p in data.get("app_refs", [])),
            buildpack_version=str(data.get("buildpack_version", "")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise MetadataProblem(f"The cache metadata is incomplete ({exc!r})") from None


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def discard_reasons(previous: CacheKey, current: CacheKey) -> list[str]:
    """Why a tree built for ``previous`` must not be used for ``current``."""
    reasons = []
    if previous.stack != current.stack:
        reasons.append(f"The stack has changed from {previous.stack} to {current.stack}")
    if previous.arch != current.arch:
        reasons.append(f"The CPU architecture has changed from {previous.arch} to {current.arch}")
    if previous.python_version != current.python_version:
        reasons.append(
            f"The Python version has changed from {previous.python_version} "
            f"to {current.python_version}"
        )
    if previous.package_manager != current.package_manager:
        reasons.append(
            f"The package manager has changed from {previous.package_manager} "
            f"to {current.package_manager}"
        )
    elif previous.package_manager_version != current.package_manager_version:
        reasons.append(
            f"The {current.package_manager} version has changed from "
            f"{previous.package_manager_version} to {current.package_manager_version}"
        )
    if previous.package_manager == current.package_manager == "pipenv" and (
        previous.install_dev != current.install_dev
    ):
        # Pipenv does not uninstall the dev packages of a CI build.
        which = "now" if current.install_dev else "no longer"
        reasons.append(f"The build {which} installs development dependencies")
    if previous.package_manager == current.package_manager:
        reasons.extend(_file_reasons(previous.dependency_files, current.dependency_files))
    return reasons


def _file_reasons(old: dict[str, str], new: dict[str, str]) -> list[str]:
    reasons = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None or before == install_inputs.requirements_files.MISSING:
            reasons.append(f"{name} is new since the cached build")
        elif after is None or after == install_inputs.requirements_files.MISSING:
            reasons.append(f"{name} is no longer used")
        else:
            reasons.append(f"The contents of {name} changed")
    return reasons


def build_key(ctx: BuildContext, manager: str, python_version: str) -> CacheKey:
    return CacheKey(
        stack=ctx.stack,
        arch=ctx.arch,
        python_version=python_version,
        package_manager=manager,
        package_manager_version=ctx.tool_version(manager),
        install_dev=ctx.install_dev,
        dependency_files=install_inputs.dependency_files(ctx, manager),
    )
