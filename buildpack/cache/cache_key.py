"""What a cached tree was built from, and why a cached tree no longer fits this build."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from buildpack.cache.install_inputs import MISSING
from buildpack.core.context import BuildContext

if TYPE_CHECKING:
    from buildpack.package_managers import Installer

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

    def plain_inputs(self, buildpack_version: str) -> str | None:
        """install_inputs, if written by ``buildpack_version``: inputs that
        version found to decide the install (see install_inputs.compute)."""
        return self.install_inputs if self.buildpack_version == buildpack_version else None

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
    except json.JSONDecodeError as exc:
        raise MetadataProblem(f"The cache metadata is unreadable ({exc.msg})") from None
    except ValueError as exc:  # e.g. a number too large to convert
        raise MetadataProblem(f"The cache metadata is unreadable ({exc})") from None
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
    """Why a tree built for ``previous`` must not be used for ``current``.

    Every field of the key counts: a field without its own wording below
    still discards the cache, with a plain one.
    """
    if previous.package_manager != current.package_manager:
        # Its version and files mean nothing across managers.
        skip = {"package_manager_version", "dependency_files"}
    else:
        skip = set()
    reasons = []
    for f in fields(CacheKey):
        before, after = getattr(previous, f.name), getattr(current, f.name)
        if f.name in skip or before == after:
            continue
        if f.name == "dependency_files":
            reasons.extend(_file_reasons(before, after))
        elif f.name == "install_dev":
            which = "now" if after else "no longer"
            reasons.append(f"The build {which} installs development dependencies")
        else:
            what = _WHAT.get(f.name) or f"The {f.name.replace('_', ' ')}"
            what = what.format(manager=current.package_manager)
            reasons.append(f"{what} has changed from {before} to {after}")
    return reasons


_WHAT = {
    "stack": "The stack",
    "arch": "The CPU architecture",
    "python_version": "The Python version",
    "package_manager": "The package manager",
    "package_manager_version": "The {manager} version",
}


def _file_reasons(old: dict[str, str], new: dict[str, str]) -> list[str]:
    reasons = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None or before == MISSING:
            reasons.append(f"{name} is new since the cached build")
        elif after is None or after == MISSING:
            reasons.append(f"{name} is no longer used")
        else:
            reasons.append(f"The contents of {name} changed")
    return reasons


def build_key(
    ctx: BuildContext, manager: str, installer: Installer, python_version: str
) -> CacheKey:
    discard_files = installer.install_inputs(ctx).discard_files
    return CacheKey(
        stack=ctx.stack,
        arch=ctx.arch,
        python_version=python_version,
        package_manager=manager,
        package_manager_version=ctx.tool_version(manager),
        # An installer that never uninstalls keeps a CI build's dev packages:
        # then whether they were installed is part of what the tree is.
        install_dev=ctx.install_dev and bool(discard_files),
        dependency_files=discard_files,
    )
