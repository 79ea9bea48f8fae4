"""Entrypoint scripts whose interpreter names the build directory, pointed at /app."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO

from buildpack.relocation.path_rewrite import (
    Rewriter,
    write_atomically,
)
from buildpack.relocation.records import path_spellings

# A shebang line is at most a few hundred bytes; the trampoline's exec line
# holds a path (PATH_MAX is 4096). Reading this much decides every script.
_SCRIPT_HEAD_BYTES = 8192
# The second line of the sh trampoline that pip (distlib) and uv write when
# the interpreter path is too long for a shebang or contains spaces.
_TRAMPOLINE_EXEC = b"'''exec'"


def fix_shebangs(bin_dir: Path, *, build_python_home: Path, app_python_home: Path) -> list[Path]:
    """Point scripts in ``bin_dir`` that run the build's Python at the app's.

    Only the interpreter lines change: the shebang, and for the sh trampoline
    its ``'''exec'`` line. Binaries, symlinks and scripts that do not name the
    build's Python home are not rewritten. Returns the scripts fixed.
    """
    rewriter = Rewriter(path_spellings(build_python_home), os.fspath(app_python_home))
    if not rewriter:
        return []
    fixed: list[Path] = []
    try:
        entries = sorted(os.scandir(bin_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    for entry in entries:
        # A symlink's target is either in bin_dir (checked as itself) or not
        # ours to edit.
        if entry.is_file(follow_symlinks=False) and _fix_script(entry.path, rewriter):
            fixed.append(Path(entry.path))
    return fixed


def _fix_script(path: str, rewriter: Rewriter) -> bool:
    with open(path, "rb") as script:
        head = script.read(_SCRIPT_HEAD_BYTES)
        if not head.startswith(b"#!"):
            return False
        end = _interpreter_lines_end(head, at_eof=len(head) < _SCRIPT_HEAD_BYTES)
        if end is None:
            return False
        new_lines, count = rewriter.sub(head[:end])
        if not count:
            return False
        mode = os.fstat(script.fileno()).st_mode

        def write(out: BinaryIO) -> None:
            out.write(new_lines)
            script.seek(end)
            shutil.copyfileobj(script, out)

        write_atomically(path, write, mode)
    return True


def _interpreter_lines_end(head: bytes, *, at_eof: bool) -> int | None:
    """Where the lines naming the interpreter end: the shebang, plus the
    trampoline's exec line when there is one. None when they do not fit in
    ``head``, which no script an installer writes does."""
    first = _line_end(head, 0, at_eof=at_eof)
    if first is None:
        return None
    if head.startswith(_TRAMPOLINE_EXEC, first):
        return _line_end(head, first, at_eof=at_eof)
    return first


def _line_end(data: bytes, start: int, *, at_eof: bool) -> int | None:
    newline = data.find(b"\n", start)
    if newline >= 0:
        return newline + 1
    return len(data) if at_eof else None
