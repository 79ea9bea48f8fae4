"""Reads buildpack.toml: pinned versions, supported Pythons, mirror address."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def parse_toml(text: str) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib

        return tomllib.loads(text)
    try:
        import tomli
    except ImportError:
        from buildpack.core import mini_toml

        return mini_toml.loads(text)
    data: dict[str, Any] = tomli.loads(text)
    return data


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

    @classmethod
    def load(cls, path: Path) -> Settings:
        data = parse_toml(path.read_text())
        python = data["python"]
        runtime = data["runtime"]
        return cls(
            buildpack_version=data["buildpack"]["version"],
            default_minor=python["default_minor"],
            supported_minors=tuple(python["supported_minors"]),
            deprecated_minors=tuple(python.get("deprecated_minors", [])),
            latest_patch=dict(python["latest_patch"]),
            runtime_base_url=runtime["base_url"],
            archive_name=runtime["archive_name"],
            stacks=dict(runtime["stacks"]),
            connect_timeout=float(runtime["connect_timeout_seconds"]),
            read_timeout=float(runtime["read_timeout_seconds"]),
            retries=int(runtime["retries"]),
            backoff=float(runtime["backoff_seconds"]),
            tools=dict(data["tools"]),
            buildpack_dependencies=dict(data["buildpack-dependencies"]),
        )


def buildpack_root() -> Path:
    return Path(__file__).resolve().parents[2]
