"""Config vars from ENV_DIR: one file per variable, the file name is the name."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Names that would break the build or the dyno if an app's config var replaced
# the value the buildpack sets. They are never exported to build steps.
PROTECTED = frozenset(
    {
        "BUILD_DIR",
        "CACHE_DIR",
        "ENV_DIR",
        "PATH",
        "LD_LIBRARY_PATH",
        "LIBRARY_PATH",
        "C_INCLUDE_PATH",
        "CPLUS_INCLUDE_PATH",
        "PKG_CONFIG_PATH",
        "PYTHONHOME",
        "GIT_DIR",
        "CPATH",
        "LD_PRELOAD",
    }
)
# Given to the app's own build code only (bin/pre_compile, bin/post_compile,
# collectstatic), as on Heroku, where a src layout sets PYTHONPATH=src. Never
# to the buildpack's own interpreter or the installers: it would change which
# packages they import.
APP_CODE_ONLY = frozenset({"PYTHONPATH"})
_VALID_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# A config var file larger than this is not a config var anyone meant to set.
MAX_VALUE_BYTES = 1024 * 1024


@dataclass
class ConfigVars:
    values: dict[str, str] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def exportable(self) -> dict[str, str]:
        """For every build step: all but the APP_CODE_ONLY ones."""
        return {k: v for k, v in self.values.items() if k not in APP_CODE_ONLY}

    def app_code_only(self) -> dict[str, str]:
        return {k: v for k, v in self.values.items() if k in APP_CODE_ONLY}


def read_env_dir(env_dir: Path | None) -> ConfigVars:
    """Read every regular file in ``env_dir``; note the ones we refuse."""
    result = ConfigVars()
    if env_dir is None or not env_dir.is_dir():
        return result
    for entry in sorted(env_dir.iterdir(), key=lambda p: p.name):
        name = entry.name
        if not _VALID_NAME.match(name):
            result.skipped.append((name, "not a valid variable name"))
            continue
        if name in PROTECTED:
            result.skipped.append((name, "set by the buildpack"))
            continue
        # Only plain files directly in ENV_DIR: a symlink could point anywhere.
        if entry.is_symlink() or not entry.is_file():
            result.skipped.append((name, "not a regular file"))
            continue
        if entry.stat().st_size > MAX_VALUE_BYTES:
            result.skipped.append((name, "larger than 1 MiB"))
            continue
        result.values[name] = entry.read_bytes().decode("utf-8", "replace")
    return result


def lookup(name: str, config: ConfigVars, environ: Mapping[str, str]) -> str | None:
    """A buildpack setting: the app's config var wins over the process env."""
    value = config.values.get(name)
    if value is None:
        value = environ.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None
