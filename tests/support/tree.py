"""Fingerprints of directory trees, to prove a build left files alone.

Standard library only: it also runs as a script inside a relocated slug,
with the slug's Python (``python3 tree.py /app`` prints the JSON fingerprint
after a ``TREE:`` marker).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import sys
from collections.abc import Iterable

# What bin/compile adds to BUILD_DIR; everything else is the app's own.
BUILDPACK_OWNED = (".heroku", ".profile.d")
MARKER = "TREE: "


def tree_digest(root: str | os.PathLike[str], *, exclude_top: Iterable[str] = ()) -> dict[str, str]:
    """Every entry under ``root`` (relative path -> kind, mode and content hash).

    Symbolic links are recorded, never followed. Names are kept exactly,
    spaces and newlines included.
    """
    excluded = set(exclude_top)
    result: dict[str, str] = {}
    base = os.fspath(root)
    for dirpath, dirnames, filenames in os.walk(base):
        rel_dir = os.path.relpath(dirpath, base)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in excluded]
            filenames = [f for f in filenames if f not in excluded]
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else os.path.join(rel_dir, name)
            result[rel] = _describe(path)
    return result


def files_only(digest: dict[str, str]) -> dict[str, str]:
    """The entries that hold data (files and links), not the directories."""
    return {k: v for k, v in digest.items() if not v.startswith("dir ")}


def _describe(path: str) -> str:
    st = os.lstat(path)
    mode = f"{stat.S_IMODE(st.st_mode):o}"
    if stat.S_ISLNK(st.st_mode):
        return f"link {os.readlink(path)}"
    if stat.S_ISDIR(st.st_mode):
        return f"dir {mode}"
    if stat.S_ISREG(st.st_mode):
        sha = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1024 * 1024), b""):
                sha.update(chunk)
        return f"file {mode} {sha.hexdigest()}"
    return f"other {stat.S_IFMT(st.st_mode):o} {mode}"


def parse_marker(stdout: str) -> dict[str, str]:
    """The fingerprint printed by running this file as a script."""
    for line in stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :])
    raise AssertionError(f"no {MARKER!r} line in the output:\n{stdout}")


if __name__ == "__main__":
    excluded = sys.argv[2:] if len(sys.argv) > 2 else BUILDPACK_OWNED
    print(MARKER + json.dumps(tree_digest(sys.argv[1], exclude_top=excluded), sort_keys=True))
