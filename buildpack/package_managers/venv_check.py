"""Whether a package manager's venv still works where it is meant to run."""

from __future__ import annotations

import os
from pathlib import Path

# How much of a script decides which interpreter it runs (see relocation).
_SCRIPT_HEAD_BYTES = 8192


def venv_tool_usable(tool_dir: Path, executable: str, venv_path: Path) -> bool:
    """The venv's script runs the venv's python (named as ``venv_path``, where
    the venv is meant to run), which runs (the link to the runtime resolves).
    False after the cache moved or the runtime changed."""
    python = tool_dir / "venv" / "bin" / "python"
    script = tool_dir / "bin" / executable
    if not python.exists() or not is_executable(script):
        return False
    try:
        with open(script, "rb") as f:
            head = f.read(_SCRIPT_HEAD_BYTES)
    except OSError:
        return False
    # A plain shebang, or the sh trampoline pip writes for long paths; both
    # name the interpreter in their first two lines.
    first_lines = b"\n".join(head.split(b"\n", 2)[:2])
    return os.fsencode(venv_path / "bin" / "python") in first_lines


def is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)
