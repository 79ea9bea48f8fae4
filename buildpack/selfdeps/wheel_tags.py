"""Which wheel files an interpreter on this machine can install, best first.

Only what the buildpack fetches itself needs this (its own dependencies and
the pinned package-manager wheels): CPython on glibc Linux, pure wheels and
manylinux wheels. Anything else (musl, a free-threaded or debug build, a
platform tag it does not know) ranks as unusable, and the caller lets pip
choose instead.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass

# manylinux tags from before PEP 600 and the glibc each stands for.
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
_MANYLINUX = re.compile(r"manylinux_(\d+)_(\d+)_(\w+)\Z")
_LEGACY = re.compile(r"(manylinux1|manylinux2010|manylinux2014)_(\w+)\Z")
_WHEEL_NAME = re.compile(
    r"(?P<name>[^-]+)-(?P<version>[^-]+)(-(?P<build>\d[^-]*))?"
    r"-(?P<python>[^-]+)-(?P<abi>[^-]+)-(?P<platform>[^-]+)\.whl\Z"
)


@dataclass(frozen=True)
class Interpreter:
    major: int
    minor: int
    # Empty for a standard CPython build; "t" for free-threaded, "d" for debug.
    abiflags: str
    machine: str  # platform.machine(): x86_64, aarch64
    glibc: tuple[int, int] | None  # None: not glibc, so no manylinux wheel

    @classmethod
    def running(cls) -> Interpreter:
        return cls(
            sys.version_info[0],
            sys.version_info[1],
            getattr(sys, "abiflags", ""),
            platform.machine(),
            glibc_version(),
        )

    @classmethod
    def runtime(cls, minor_version: str) -> Interpreter:
        """A standard CPython ``3.X`` build for this machine (the app's runtime)."""
        major, minor = (int(part) for part in minor_version.split(".")[:2])
        return cls(major, minor, "", platform.machine(), glibc_version())


@dataclass(frozen=True)
class WheelName:
    name: str
    version: str
    python: frozenset[str]
    abi: frozenset[str]
    platform: frozenset[str]


def parse_wheel_name(filename: str) -> WheelName | None:
    m = _WHEEL_NAME.match(filename)
    if m is None:
        return None
    return WheelName(
        m["name"],
        m["version"],
        frozenset(m["python"].split(".")),
        frozenset(m["abi"].split(".")),
        frozenset(m["platform"].split(".")),
    )


def glibc_version() -> tuple[int, int] | None:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return None
    m = re.fullmatch(r"glibc (\d+)\.(\d+).*", text)
    return (int(m[1]), int(m[2])) if m else None


def rank(filename: str, interp: Interpreter) -> int | None:
    """How well the wheel ``filename`` fits ``interp``: higher is better,
    None if it cannot be installed there."""
    wheel = parse_wheel_name(filename)
    if wheel is None:
        return None
    best_platform = max((_platform_rank(p, interp) for p in wheel.platform), default=-1)
    if best_platform < 0:
        return None
    best_abi = max((_abi_rank(wheel.python, a, interp) for a in wheel.abi), default=-1)
    if best_abi < 0:
        return None
    if best_platform == 0 and best_abi > 1:
        return None  # a compiled ABI with no platform: not a real wheel
    return best_abi * 1000 + best_platform


def _abi_rank(pythons: frozenset[str], abi: str, interp: Interpreter) -> int:
    exact = f"cp{interp.major}{interp.minor}"
    if abi == "none":
        # pip takes py3 and py3X for any X up to the running minor.
        pure = {f"py{interp.major}", exact}
        pure |= {f"py{interp.major}{m}" for m in range(interp.minor + 1)}
        return 1 if pythons & pure else -1
    if interp.abiflags:
        return -1  # binary wheels for non-standard builds: leave them to pip
    if abi == exact:
        return 3 if exact in pythons else -1
    if abi == "abi3":
        usable = {f"cp{interp.major}{m}" for m in range(2, interp.minor + 1)}
        return 2 if pythons & usable else -1
    return -1


def _platform_rank(tag: str, interp: Interpreter) -> int:
    """0 for 'any', the glibc it needs (as 2XX) for manylinux, -1 if unusable."""
    if tag == "any":
        return 0
    if interp.glibc is None:
        return -1
    m = _MANYLINUX.match(tag)
    if m:
        needs, arch = (int(m[1]), int(m[2])), m[3]
    else:
        legacy = _LEGACY.match(tag)
        if legacy is None:
            return -1
        needs, arch = _LEGACY_MANYLINUX[legacy[1]], legacy[2]
    if arch != interp.machine or needs > interp.glibc:
        return -1
    return needs[0] * 100 + needs[1]
