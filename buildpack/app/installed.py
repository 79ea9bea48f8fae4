"""Which distributions the app's Python has installed, read from its files.

Build steps decide things like "is Django installed?" from the dist-info and
egg-info directories in site-packages instead of importing the package: an
import runs the app's code and can fail or be slow for reasons unrelated to
the question. importlib.metadata finds them by name with the standard
normalization (``Django``, ``psycopg2_binary`` and ``psycopg2-binary`` are
the same project), so this works before the buildpack has fetched its own
libraries, and in ``bin/release``, which never has them.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from buildpack.core.python_home import site_packages_dirs

_SEPARATORS = re.compile(r"[-_.]+")


def has_any(python_home: Path, *names: str) -> bool:
    """Whether a distribution of any of ``names`` is installed under ``python_home``."""
    path = [str(site) for site in site_packages_dirs(python_home)]
    # A cheap first pass: a name no entry's normalized name begins with
    # cannot be installed; importlib.metadata has the last word on the rest.
    entries = _normalized_entries(path)
    names = tuple(n for n in names if any(e.startswith(_normalized(n)) for e in entries))
    if not names:
        return False
    # Only now: importing it (and the email package it needs) costs more
    # than most builds spend asking, and most apps have none of ``names``.
    import importlib.metadata

    for name in names:
        for _ in importlib.metadata.distributions(name=name, path=path):
            return True
    return False


def _normalized_entries(path: list[str]) -> list[str]:
    """The names in every directory of ``path``, normalized (one listing each)."""
    found: list[str] = []
    for site in path:
        try:
            found.extend(_normalized(entry) for entry in os.listdir(site))
        except OSError:
            continue
    return found


def _normalized(name: str) -> str:
    return _SEPARATORS.sub("_", name.lower())
