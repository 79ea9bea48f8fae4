"""Names that look like a Python version file but are not exactly one.

A version in a misspelt file would be silently ignored, so the build fails
on any of them (see version_files.RootFiles).
"""

from __future__ import annotations

PYTHON_VERSION_FILE = ".python-version"
RUNTIME_TXT = "runtime.txt"

# Near misses of the two version file names, compared after lower-casing and
# dropping everything but letters and digits (so '.python_version',
# 'Python-Version ' and 'python.version' are all 'pythonversion').
_PYTHON_VERSION_KEYS = frozenset(
    {
        "pythonversion",
        "pythonversions",
        "pythonversoin",
        "pythonverison",
        "pythonverson",
        "pythonvresion",
        "pyversion",
        "pythonver",
    }
)
_RUNTIME_TXT_KEYS = frozenset({"runtimetxt", "runtimetxttxt", "runtimetext", "runtimestxt"})
# The names Heroku's buildpack fails on, as seen in real apps: the fuzzy match
# above catches most, this list the rest (another extension after the name).
# A file named exactly like this is never an app's module: they start with a dot.
HEROKU_MISSPELLED_NAMES = frozenset(
    {
        ".python-version ",
        ".python-version.cfg",
        ".python-version.ini",
        ".python-version.json",
        ".python-version.md",
        ".python-version.py",
        ".python-version.toml",
        ".python-version.txt",
        ".python-version.yaml",
        ".python-version.yml",
        ".python-versions",
        ".python.version",
        ".python_version",
        ".python_version.txt",
        ".pythonversion",
        ".python-verison",
        ".python-verson",
        "python-version",
        "python-version.txt",
        "python_version",
        "python_version.txt",
        "runtime.txt.txt",
    }
)
_TEXT_SUFFIXES = ("txt", "text")


def misspelled(name: str) -> str:
    """Which version file ``name`` is a near miss of, or "" if none."""
    if name in (PYTHON_VERSION_FILE, RUNTIME_TXT):
        return ""
    if name in HEROKU_MISSPELLED_NAMES:
        return RUNTIME_TXT if name.startswith("runtime") else PYTHON_VERSION_FILE
    key = "".join(c for c in name.lower() if c.isascii() and c.isalnum())
    if key in _RUNTIME_TXT_KEYS:
        return RUNTIME_TXT
    for _ in range(2):  # '.python-version.txt', even '.python-version.txt.txt'
        for suffix in _TEXT_SUFFIXES:
            key = key.removesuffix(suffix)
    return PYTHON_VERSION_FILE if key in _PYTHON_VERSION_KEYS else ""
