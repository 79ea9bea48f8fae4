"""What a package manager's failed install means, in words for the build log."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from buildpack.core import errors

if TYPE_CHECKING:
    from buildpack.package_managers.tools import ToolVersion

# pip's list of every version an index has; long lists are shortened in the log.
_FROM_VERSIONS = re.compile(r"^(.*\(from versions: )(.*)(\).*)$")
_SHOWN_VERSIONS = 12


def install_failure(tv: ToolVersion, output: str) -> errors.BuildError:
    """A missing release gets its own error; anything else the generic one."""
    if version_not_on_index(output):
        return errors.tool_version_not_found(tv.tool, tv.version, tv.origin, output)
    return errors.install_package_manager_failed(tv.tool, tv.version, output)


def sync_failure(
    tool: str, lockfile: str, stale_markers: tuple[str, ...], command: str, output: str
) -> errors.BuildError:
    """A failed sync: the lockfile out of date (``stale_markers`` in the output), or else."""
    if any(marker in output for marker in stale_markers):
        return errors.lockfile_outdated(tool, lockfile, command, output)
    return errors.install_dependencies_failed(tool, command, output)


def version_not_on_index(pip_output: str) -> bool:
    """pip reached the index, which lists releases of the tool, but not this one.

    "(from versions: none)" means pip saw no release at all: the index is
    unreachable or the name is wrong, which is not the user's version's fault.
    """
    if "No matching distribution found for" not in pip_output:
        return False
    return "(from versions: " in pip_output and "(from versions: none)" not in pip_output


def shorten_version_list(line: str) -> str:
    m = _FROM_VERSIONS.match(line)
    if not m:
        return line
    versions = m.group(2).split(", ")
    if len(versions) <= _SHOWN_VERSIONS:
        return line
    hidden = len(versions) - _SHOWN_VERSIONS
    shown = ", ".join(versions[-_SHOWN_VERSIONS:])
    return f"{m.group(1)}{hidden} older, ..., {shown}{m.group(3)}"
