"""What Heroku's own Python buildpack leaves in CACHE_DIR, for apps that move here.

Its files are read for the "sticky" Python version and to explain why the
cache is discarded; nothing in them is trusted beyond that.
"""

from __future__ import annotations

from pathlib import Path

_HEROKU_DIR = Path(".heroku")
VERSION_FILE = _HEROKU_DIR / "python-version"
_FILES = ("python-version", "python-stack", "requirements.txt")


def previous_python_version(cache_dir: Path) -> str | None:
    try:
        text = (cache_dir / VERSION_FILE).read_text(errors="replace").strip()
    except OSError:
        return None
    version = text.removeprefix("python-")
    return version or None


def written_by_heroku_buildpack(cache_dir: Path) -> bool:
    return any((cache_dir / _HEROKU_DIR / name).exists() for name in _FILES)
