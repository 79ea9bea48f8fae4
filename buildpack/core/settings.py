"""Reads buildpack.toml: pinned versions, supported Pythons, mirror address."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def toml_loads() -> Callable[[str], dict[str, Any]] | None:
    """tomllib, or on Python 3.10 tomli once the build has fetched it
    (see selfdeps.pure_wheels); None before that."""
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads
    try:
        import tomli
    except ImportError:
        return None
    loads: Callable[[str], dict[str, Any]] = tomli.loads
    return loads


def parse_toml(text: str) -> dict[str, Any]:
    """buildpack.toml's contents. Before tomli is there on Python 3.10, a
    reader of the small subset of TOML that buildpack.toml uses (never an
    app's file: see ``toml_loads``)."""
    loads = toml_loads()
    if loads is None:
        from buildpack.core import mini_toml

        return mini_toml.loads(text)
    return loads(text)


@dataclass(frozen=True)
class Settings:
    buildpack_version: str
    default_minor: str
    supported_minors: tuple[str, ...]
    deprecated_minors: tuple[str, ...]
    latest_patch: dict[str, str]
    runtime_base_url: str
    archive_name: str
    stacks: dict[str, str]
    connect_timeout: float
    read_timeout: float
    retries: int
    backoff: float
    tools: dict[str, str]
    buildpack_dependencies: dict[str, str]
    # stack -> the CPU architectures it has runtime archives for.
    stack_arches: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Patterns (fnmatch) of stacks past their end of life.
    eol_stacks: tuple[str, ...] = ()
    # minor -> {"upstream_eol": ..., "removal": ...} for the deprecation warning.
    deprecations: dict[str, dict[str, str]] = field(default_factory=dict)
    attempt_timeout: float = 60.0
    total_timeout: float = 120.0
    max_archive_bytes: int = 512 * 1024 * 1024
    # Where setuptools is preinstalled: Python minors and package managers.
    setuptools_minors: tuple[str, ...] = ()
    setuptools_managers: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: Path) -> Settings:
        data = parse_toml(path.read_text())
        python = data["python"]
        runtime = data["runtime"]
        stacks = runtime["stacks"]
        setuptools = data.get("setuptools", {})
        return cls(
            buildpack_version=data["buildpack"]["version"],
            default_minor=python["default_minor"],
            supported_minors=tuple(python["supported_minors"]),
            deprecated_minors=tuple(python.get("deprecated_minors", [])),
            latest_patch=dict(python["latest_patch"]),
            runtime_base_url=runtime["base_url"],
            archive_name=runtime["archive_name"],
            stacks={name: str(stack["ubuntu"]) for name, stack in stacks.items()},
            connect_timeout=float(runtime["connect_timeout_seconds"]),
            read_timeout=float(runtime["read_timeout_seconds"]),
            retries=int(runtime["retries"]),
            backoff=float(runtime["backoff_seconds"]),
            tools=dict(data["tools"]),
            buildpack_dependencies=dict(data["buildpack-dependencies"]),
            stack_arches={name: tuple(stack["arches"]) for name, stack in stacks.items()},
            eol_stacks=tuple(runtime.get("eol_stacks", ())),
            deprecations={k: dict(v) for k, v in python.get("deprecation", {}).items()},
            attempt_timeout=float(runtime["attempt_timeout_seconds"]),
            total_timeout=float(runtime["total_timeout_seconds"]),
            max_archive_bytes=int(runtime["max_archive_megabytes"]) * 1024 * 1024,
            setuptools_minors=tuple(setuptools.get("minors", ())),
            setuptools_managers=tuple(setuptools.get("package_managers", ())),
        )


def buildpack_root() -> Path:
    return Path(__file__).resolve().parents[2]
