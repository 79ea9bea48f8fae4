"""Where bin/release finds the libraries bin/compile installed for the buildpack.

bin/release gets only BUILD_DIR, not CACHE_DIR, so bin/compile leaves a note
in the buildpack's own directory (which the platform keeps for the whole
build) naming the library directory it used for that BUILD_DIR. A missing or
stale note only means the minimal YAML writer does the job instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from buildpack.selfdeps import verified_copy

NOTES_DIR = ".selfdeps"


def _note(buildpack_dir: Path, build_dir: Path) -> Path:
    key = hashlib.sha256(os.fsencode(os.path.abspath(build_dir))).hexdigest()[:16]
    return buildpack_dir / NOTES_DIR / key


def remember(buildpack_dir: Path, build_dir: Path, deps_dir: Path) -> None:
    note = _note(buildpack_dir, build_dir)
    # A read-only buildpack directory only costs bin/release its PyYAML.
    with contextlib.suppress(OSError):
        note.parent.mkdir(exist_ok=True)
        tmp = note.with_name(f".{note.name}.{os.getpid()}")
        tmp.write_text(str(deps_dir), encoding="utf-8")
        os.replace(tmp, note)


def activate_for(buildpack_dir: Path, build_dir: Path) -> bool:
    """Put the libraries bin/compile used for ``build_dir`` on sys.path, if
    every file there is still the locked wheels' (they are in CACHE_DIR)."""
    try:
        deps_dir = Path(_note(buildpack_dir, build_dir).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return False
    return verified_copy.activate_if_verified(buildpack_dir, deps_dir)
