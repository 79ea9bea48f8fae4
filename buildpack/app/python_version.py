"""Which Python to install: the version the app asks for, resolved with buildpack.toml.

Sources, the first one found wins:

1. runtime.txt (deprecated, with a warning);
2. a misspelled .python-version (an error: its version would be ignored);
3. .python-version;
4. Pipfile.lock, for Pipenv apps only;
5. the minor version of the previous build ("sticky"), at its latest patch;
6. the default minor from buildpack.toml.

A minor version means its latest patch: the one buildpack.toml names, or,
when the runtime mirror publishes a manifest (runtimes.json), the newest
patch the mirror has.

uv apps must use .python-version, like uv itself. Each kind of mistake has its own
error, because "invalid version" alone does not tell a user what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from buildpack.app.version_files import (
    ORIGIN_CACHED,
    ORIGIN_DEFAULT,
    VERSION,
    RootFiles,
    requested_version,
)
from buildpack.core import errors
from buildpack.core.settings import Settings

RESOLVED_BY_SETTINGS = "buildpack.toml"
RESOLVED_BY_MANIFEST = "runtimes.json"


@dataclass(frozen=True)
class VersionChoice:
    version: str  # resolved X.Y.Z
    requested: str  # as written, e.g. "3.13" or "3.13.1"
    origin: str  # ".python-version" | "runtime.txt" | "Pipfile.lock" | "cached" | "default"
    pinned: bool  # an exact X.Y.Z was given
    outdated: bool  # an exact pin older than the latest patch this buildpack knows
    files: tuple[str, ...]  # python-version-like file names found at the root
    warnings: tuple[tuple[str, str], ...]  # (title, body) for Output.warning
    # Where the latest patch of a minor came from: buildpack.toml, or the
    # mirror's manifest (then the version is one the mirror has).
    resolved_by: str = RESOLVED_BY_SETTINGS

    @property
    def minor(self) -> str:
        return ".".join(self.version.split(".")[:2])

    def describe(self) -> str:
        """The build step line."""
        if self.origin == ORIGIN_DEFAULT:
            return f"Using Python {self.version} (the default, since no version was specified)"
        if self.origin == ORIGIN_CACHED:
            return f"Using Python {self.version} (the same minor as the previous build)"
        if self.pinned:
            return f"Using Python {self.version} specified in {self.origin}"
        return f"Using Python {self.version} ({self.requested} specified in {self.origin})"

    def report_fields(self) -> dict[str, object]:
        return {
            "python_version": self.version,
            "python_version_major": self.minor,
            "python_version_requested": self.requested,
            "python_version_origin": self.origin,
            "python_version_pinned": self.pinned,
            "python_version_outdated": self.outdated,
            "python_version_files": list(self.files),
            "python_version_resolved_by": self.resolved_by,
        }


class MirrorVersions(Protocol):
    """What the runtime mirror's manifest lists for this stack and CPU."""

    @property
    def versions(self) -> tuple[str, ...]: ...  # X.Y.Z, oldest first

    @property
    def where(self) -> str: ...  # the manifest's address, stack and CPU, for messages


def choose_python_version(
    app_dir: Path,
    settings: Settings,
    *,
    package_manager: str,
    cached_version: str | None,
    mirror: MirrorVersions | None = None,
) -> VersionChoice:
    """The Python version to install, or a BuildError explaining what to fix.

    ``cached_version`` is the full version of the previous build, if any;
    ``mirror`` what the runtime mirror's manifest lists, if it has one.
    """
    root = RootFiles.scan(app_dir)
    warnings: list[tuple[str, str]] = []
    requested, origin = requested_version(
        app_dir, root, settings, package_manager, cached_version, warnings
    )
    return _resolve(
        requested, origin, root, settings, warnings, previous=cached_version or "", mirror=mirror
    )


# --- resolution -----------------------------------------------------------------


def _resolve(
    requested: str,
    origin: str,
    root: RootFiles,
    settings: Settings,
    warnings: list[tuple[str, str]],
    *,
    previous: str,
    mirror: MirrorVersions | None = None,
) -> VersionChoice:
    match = VERSION.fullmatch(requested)
    if match is None:  # every source validated it already
        raise errors.internal_error(f"unvalidated Python version {requested!r} from {origin}")
    major, minor, patch = int(match[1]), int(match[2]), match[3]
    minor_name = f"{major}.{minor}"
    supported = [_minor_tuple(m) for m in settings.supported_minors]
    example = settings.default_minor
    if (major, minor) < min(supported):
        raise errors.python_version_eol(
            minor_name, origin, settings.supported_minors, example, previous=previous
        )
    if minor_name not in settings.supported_minors:
        raise errors.python_version_unknown(
            minor_name, origin, settings.supported_minors, example, previous=previous
        )
    pinned = patch is not None
    latest: str | None = settings.latest_patch.get(minor_name)
    if mirror is not None:
        latest = _newest_on_mirror(requested if pinned else minor_name, origin, mirror)
    if latest is None:
        raise errors.internal_error(f"buildpack.toml has no latest_patch for {minor_name}")
    version = requested if pinned else latest
    outdated = pinned and int(patch) < int(latest.rsplit(".", 1)[1])

    if origin in (ORIGIN_CACHED, ORIGIN_DEFAULT):
        warnings.append(_no_version_specified(version, origin, previous))
    if minor_name in settings.deprecated_minors:
        warnings.append(_deprecated_minor(minor_name, settings))
    if outdated:
        warnings.append(_patch_update_available(requested, latest, origin))
    return VersionChoice(
        version=version,
        requested=requested,
        origin=origin,
        pinned=pinned,
        outdated=outdated,
        files=root.version_files,
        warnings=tuple(warnings),
        resolved_by=RESOLVED_BY_SETTINGS if mirror is None else RESOLVED_BY_MANIFEST,
    )


def _newest_on_mirror(wanted: str, origin: str, mirror: MirrorVersions) -> str:
    """The newest patch of ``wanted``'s minor the mirror has; an error if it
    lacks that minor, or the exact version ``wanted`` (X.Y.Z) names."""
    minor = ".".join(wanted.split(".")[:2])
    same_minor = [v for v in mirror.versions if v.startswith(minor + ".")]
    exact_missing = wanted.count(".") == 2 and wanted not in mirror.versions
    if not same_minor or exact_missing:
        raise errors.python_version_not_on_mirror(wanted, origin, mirror.where, mirror.versions)
    return same_minor[-1]


def _minor_tuple(minor: str) -> tuple[int, int]:
    major_part, minor_part = minor.split(".")
    return int(major_part), int(minor_part)


# --- warnings -------------------------------------------------------------------


def _no_version_specified(version: str, origin: str, previous: str) -> tuple[str, str]:
    minor = ".".join(version.split(".")[:2])
    if origin == ORIGIN_CACHED:
        why = (
            f"so the buildpack kept the minor version of the previous build "
            f"(Python {previous}) at its latest patch, Python {version}."
        )
    else:
        why = (
            f"so the buildpack used its current default, Python {version}. The default "
            "changes with new buildpack releases, which could break the app unexpectedly."
        )
    return (
        "No Python version was specified",
        f"The app does not say which Python version it needs, {why}\n\n"
        "State the version in a .python-version file at the root of the app, so "
        "every build and your own machine use the same one:\n"
        f"  echo '{minor}' > .python-version\n\n"
        "A future release of the buildpack may make this an error.",
    )


def _deprecated_minor(minor: str, settings: Settings) -> tuple[str, str]:
    newest = settings.supported_minors[-1]
    dates = settings.deprecations.get(minor, {})
    upstream = dates.get("upstream_eol")
    removal = dates.get("removal")
    eol = (
        f"Python {minor} reaches its upstream end of life in {upstream}"
        if upstream
        else f"Python {minor} is close to its upstream end of life"
    )
    until = (
        f"this buildpack will stop supporting it on {removal}"
        if removal
        else "a future release of this buildpack will stop supporting it"
    )
    return (
        f"Python {minor} is deprecated",
        f"{eol}, after which it gets no security fixes, and {until}: builds of the "
        f"app will fail from then on. Upgrade the app to a newer Python, such as {newest}.",
    )


def _patch_update_available(requested: str, latest: str, origin: str) -> tuple[str, str]:
    minor = ".".join(requested.split(".")[:2])
    return (
        "A Python patch update is available",
        f"The app pins Python {requested} in {origin}, but Python {latest} is out, "
        "with bug and security fixes. To get each patch release automatically, "
        f"give only the minor version ('{minor}'), or update the pin to {latest}.",
    )
