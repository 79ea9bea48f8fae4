"""Which distributions the app's Python has installed, read from its files.

Build steps decide things like "is Django installed?" from the dist-info and
egg-info directories in site-packages instead of importing the package: an
import runs the app's code and can fail or be slow for reasons unrelated to
the question.
"""

from __future__ import annotations

import re
from pathlib import Path

from buildpack.core.python_home import site_packages_dirs

# "<name>-<version>.dist-info"; in the name, "-" is always escaped as "_".
_METADATA_DIR = re.compile(r"^(?P<name>[^-]+)-.+\.(dist|egg)-info$")


def normalize(name: str) -> str:
    """PEP 503 name normalization: 'Django', 'psycopg2_binary' -> 'psycopg2-binary'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions(python_home: Path) -> set[str]:
    """Normalized names of every distribution installed under ``python_home``."""
    found: set[str] = set()
    for site in site_packages_dirs(python_home):
        try:
            entries = list(site.iterdir())
        except OSError:
            continue
        for entry in entries:
            m = _METADATA_DIR.match(entry.name)
            if m:
                found.add(normalize(m.group("name")))
    return found


def has_any(python_home: Path, *names: str) -> bool:
    wanted = {normalize(n) for n in names}
    return bool(wanted & distributions(python_home))
