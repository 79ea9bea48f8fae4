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

import importlib.metadata
from pathlib import Path

from buildpack.core.python_home import site_packages_dirs


def has_any(python_home: Path, *names: str) -> bool:
    """Whether a distribution of any of ``names`` is installed under ``python_home``."""
    path = [str(site) for site in site_packages_dirs(python_home)]
    if not path:
        return False
    for name in names:
        for _ in importlib.metadata.distributions(name=name, path=path):
            return True
    return False
