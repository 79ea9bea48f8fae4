"""What differs between the CPython minors the buildpack supports.

Building and packing a runtime depends on the minor in a few places: the
standard library's directory, which wheels ``ensurepip`` bundles, which
programs ``make install`` puts in ``bin/`` and whether ``configure`` can
leave the test modules out. One row per minor keeps those facts together, so
that supporting a new minor is one line here (the unit tests check every row
against ``buildpack.toml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from buildpack.runtime.manifest import FULL_VERSION


class VersionError(Exception):
    """A version this tool cannot build or pack; the message says why."""


@dataclass(frozen=True)
class MinorFacts:
    minor: str
    # ensurepip/_bundled holds a setuptools wheel beside pip's (gone in 3.12).
    bundles_setuptools: bool
    # make install writes bin/2to3 (lib2to3 was removed in 3.13).
    ships_2to3: bool
    # --disable-test-modules works together with PGO (fixed in 3.11).
    disable_test_modules: bool
    # The standard library has tomllib (3.11+): a host this old needs tomli.
    has_tomllib: bool

    @property
    def stdlib_dir(self) -> str:
        return f"lib/python{self.minor}"

    @property
    def bundled_dir(self) -> str:
        return f"{self.stdlib_dir}/ensurepip/_bundled"

    @property
    def bundled_wheels(self) -> tuple[str, ...]:
        """Glob patterns of the wheels ``ensurepip/_bundled`` must hold."""
        pip = "pip-*-py3-none-any.whl"
        return (pip, "setuptools-*-py3-none-any.whl") if self.bundles_setuptools else (pip,)

    @property
    def removed_programs(self) -> tuple[str, ...]:
        """Programs in bin/ a runtime does not ship (as Heroku's builds remove them)."""
        return ("idle*", "pydoc*", "2to3*") if self.ships_2to3 else ("idle*", "pydoc*")


MINORS: dict[str, MinorFacts] = {
    facts.minor: facts
    for facts in (
        MinorFacts("3.10", True, True, False, False),
        MinorFacts("3.11", True, True, True, True),
        MinorFacts("3.12", False, True, True, True),
        MinorFacts("3.13", False, False, True, True),
        MinorFacts("3.14", False, False, True, True),
    )
}


def parse_version(version: str) -> tuple[str, MinorFacts]:
    """``version`` checked as a final release X.Y.Z of a minor this tool knows."""
    if not FULL_VERSION.match(version):
        raise VersionError(
            f"'{version}' is not a full Python release version such as 3.13.1 "
            "(three numbers, no pre-release suffix)"
        )
    minor = version.rsplit(".", 1)[0]
    facts = MINORS.get(minor)
    if facts is None:
        known = ", ".join(MINORS)
        raise VersionError(f"Python {minor} is not one of the minors this tool knows: {known}")
    return version, facts


def archive_name(pattern: str, version: str, ubuntu: str, arch: str) -> str:
    """The runtime archive's file name (``pattern`` is buildpack.toml's archive_name)."""
    return pattern.format(version=version, ubuntu=ubuntu, arch=arch)


def ubuntu_for_stack(stack: str) -> str:
    """heroku-NN builds on Ubuntu NN.04: the NN of the archive name."""
    match = re.fullmatch(r"heroku-([0-9]{2})", stack)
    if match is None:
        raise VersionError(f"'{stack}' is not a stack name such as heroku-24")
    return match[1]
