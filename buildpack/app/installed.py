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
    names = tuple(name for name in names if _may_be_there(path, name))
    if not names:
        return False
    # Only now: importing it (and the email package it needs) costs more
    # than most builds spend asking, and most apps have none of ``names``.
    import importlib.metadata

    for name in names:
        for _ in importlib.metadata.distributions(name=name, path=path):
            return True
    return False


def _may_be_there(path: list[str], name: str) -> bool:
    """False only when no entry in ``path`` can be a distribution of ``name``.

    A cheap first pass: any entry whose normalized name begins with the
    normalized ``name`` counts, so importlib.metadata still has the last word.
    """
    wanted = _normalized(name)
    for site in path:
        try:
            entries = os.listdir(site)
        except OSError:
            continue
        if any(_normalized(entry).startswith(wanted) for entry in entries):
            return True
    return False


def _normalized(name: str) -> str:
    return _SEPARATORS.sub("_", name.lower())
