"""Where things are inside a CPython installation (a runtime's Python home)."""

from __future__ import annotations

from pathlib import Path


def site_packages_dirs(python_home: Path) -> list[Path]:
    """Every ``lib/python3.X/site-packages``: one for a runtime, more after a change of minor."""
    return sorted(python_home.glob("lib/python3*/site-packages"))


def single_site_packages(python_home: Path) -> Path | None:
    """The site-packages directory, when there is exactly one (else None: unclear)."""
    found = site_packages_dirs(python_home)
    return found[0] if len(found) == 1 else None
