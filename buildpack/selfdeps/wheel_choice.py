"""Which wheel files an interpreter can install, best first: packaging.tags.

For the Python running the buildpack, its tags are ``sys_tags()``. The app's
runtime is another Python (``3.X``, a standard CPython build) on this same
machine: its tags are built for its version from this machine's platform
tags, as pip running in that Python would list them.

This module imports packaging, so it is imported only once the buildpack's
PyPA libraries are on sys.path (see pure_wheels); ``package_index.interpreter``
says when they are not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.tags import Tag, compatible_tags, cpython_tags, platform_tags, sys_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

# The manylinux tags from before PEP 600, and the glibc each stands for.
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}


@dataclass(frozen=True)
class Interpreter:
    """The wheel tags an interpreter accepts, best first."""

    tags: tuple[Tag, ...]
    _priority: dict[Tag, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        priority: dict[Tag, int] = {}
        for index, tag in enumerate(self.tags):
            priority.setdefault(tag, len(self.tags) - index)
        object.__setattr__(self, "_priority", priority)

    @classmethod
    def running(cls) -> Interpreter:
        return cls(tuple(sys_tags()))

    @classmethod
    def runtime(cls, minor_version: str, platforms: Iterable[str] | None = None) -> Interpreter:
        """A standard CPython ``3.X`` build (the app's runtime) on this
        machine, or on a machine with these ``platforms`` tags, best first."""
        major, minor = (int(part) for part in minor_version.split(".")[:2])
        version = (major, minor)
        plats = list(platform_tags() if platforms is None else platforms)
        # The ABI is given: cpython_tags would otherwise take the running
        # interpreter's build flags (debug, free-threaded) for the runtime's.
        exact = f"cp{major}{minor}"
        return cls(
            (
                *cpython_tags(version, abis=[exact], platforms=plats),
                *compatible_tags(version, interpreter=exact, platforms=plats),
            )
        )

    def rank(self, filename: str) -> int | None:
        """How well the wheel ``filename`` fits: higher is better, None if
        it cannot be installed here (or is no wheel file name)."""
        try:
            _, _, _, tags = parse_wheel_filename(filename)
        except (InvalidWheelFilename, InvalidVersion):
            return None
        return max((self._priority.get(tag, 0) for tag in tags), default=0) or None


def same_release(filename: str, project: str, version: str) -> bool:
    """Whether ``filename`` is a wheel of ``project`` ``version`` (PEP 440: 1.0.0 is 1.0)."""
    try:
        name, found, _, _ = parse_wheel_filename(filename)
        return name == canonicalize_name(project) and found == Version(version)
    except (InvalidWheelFilename, InvalidVersion):
        return False


def best_wheel(
    filenames: Iterable[str], project: str, version: str, interp: Interpreter
) -> str | None:
    """Of ``filenames``, the best wheel of ``project`` ``version`` for ``interp``."""
    best: tuple[int, str] | None = None
    for filename in filenames:
        score = interp.rank(filename)
        if score is None or not same_release(filename, project, version):
            continue
        if best is None or score > best[0]:
            best = (score, filename)
    return best[1] if best else None


def manylinux_platforms(machine: str, glibc: tuple[int, int] | None) -> list[str]:
    """The platform tags of glibc Linux ``glibc`` on ``machine``, best first,
    as ``packaging.tags.platform_tags()`` lists them on such a machine (for
    describing a machine other than this one; None: not glibc)."""
    # A wheel built on such a machine first, as packaging has it.
    tags = [f"linux_{machine}"]
    if glibc is None:
        return tags
    oldest = 5 if machine in ("x86_64", "i686") else 17
    for minor in range(glibc[1], oldest - 1, -1):
        tags.append(f"manylinux_{glibc[0]}_{minor}_{machine}")
        legacy = _LEGACY_MANYLINUX.get((glibc[0], minor))
        if legacy:
            tags.append(f"{legacy}_{machine}")
    return tags
