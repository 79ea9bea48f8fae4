"""Paths to the app source rewritten to $HOME when the dyno boots."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from buildpack.core.python_home import site_packages_dirs
from buildpack.relocation import path_rewrite
from buildpack.relocation.path_rewrite import (
    BINARY_SNIFF_BYTES,
    Rewriter,
)
from buildpack.relocation.records import path_record_files, path_spellings


def find_app_path_references(python_home: Path, build_dir: Path) -> list[str]:
    """Editable-install records that still name ``build_dir``, relative to it.

    Run after ``rewrite_build_paths``, what is left points at the app's own
    source (``-e .``). A record still naming BUILD_DIR/.heroku/python is
    listed too: rewriting BUILD_DIR to $HOME fixes it just as well.
    """
    matcher = Rewriter(path_spellings(build_dir))
    prefix = app_relative_prefix(python_home, build_dir)
    found: list[str] = []
    for site_packages in site_packages_dirs(python_home):
        for record in path_record_files(site_packages):
            data = record.read_bytes()
            if b"\0" not in data[:BINARY_SNIFF_BYTES] and matcher.mentions(data):
                found.append(prefix + record.relative_to(python_home).as_posix())
    return found


def discard_boot_rewritten_bytecode(build_dir: Path, files: list[str]) -> int:
    """Delete the bytecode of the modules (finders) the boot rewrite edits.

    It names the build directory, and is stale from the first boot on: it
    would only be noise in the audit. ``files`` are relative to ``build_dir``
    as ``find_app_path_references`` returns them.
    """
    return sum(path_rewrite.discard_bytecode(os.path.join(build_dir, f)) for f in files)


def boot_rewrite_script(build_dir: Path, files: list[str]) -> str:
    """A POSIX sh snippet for .profile.d that points ``files`` at $HOME.

    ``files`` are relative to the app root (as ``find_app_path_references``
    returns them). Returns "" when there is nothing to rewrite.

    Why Python rather than sed: the paths appear escaped differently per file
    (raw in .pth, a Python literal in finders, JSON and a percent-encoded
    file:// URL in direct_url.json), and BUILD_DIR or $HOME may hold spaces,
    quotes or sed metacharacters. The rewrite is ``path_rewrite`` itself, the
    same code the build uses, run by the app's Python with ``-I -S`` so that
    neither the environment nor the .pth files being fixed affect it; every
    value reaches it as an argument, never as code. A ``grep -F`` check first
    keeps boots that have nothing to do from starting Python at all.

    The snippet is sourced, so it defines a function (for its own "$@"),
    prefixes its variables, and unsets them all; it never exits.
    """
    if not files:
        return ""
    olds = path_spellings(build_dir)
    needles = Rewriter(olds).needles
    program = Path(path_rewrite.__file__).read_text(encoding="utf-8")
    grep_patterns = " ".join(f"-e {_sh(os.fsdecode(n))}" for n in needles)
    old_args = " ".join(_sh(old) for old in olds)
    file_args = " \\\n    ".join(_sh(f) for f in files)
    return f"""\
# Python buildpack: editable installs recorded paths to the app's source in
# the directory it was built in. Point them to where the app runs ($HOME).
# Reads only the files listed; starts Python only when one needs a change.
__python_buildpack_relocate() {{
    _pbr_todo=
    for _pbr_file in "$@"; do
        [ -f "$HOME/$_pbr_file" ] || continue
        _pbr_status=0
        LC_ALL=C grep -q -F {grep_patterns} -- "$HOME/$_pbr_file" || _pbr_status=$?
        # 1 means "not found"; on 0 or an error let Python decide.
        [ "$_pbr_status" = 1 ] || _pbr_todo=1
    done
    if [ -n "$_pbr_todo" ]; then
        LD_LIBRARY_PATH="$HOME/.heroku/python/lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" \\
            "$HOME/.heroku/python/bin/python3" -I -S -c {_sh(program)} \\
            "$HOME" {old_args} -- "$@" \\
            || echo "Python buildpack: could not update paths to the build directory" >&2
    fi
    unset _pbr_todo _pbr_file _pbr_status
}}
__python_buildpack_relocate \\
    {file_args}
unset -f __python_buildpack_relocate
"""


def _sh(value: str) -> str:
    """Quote for sh; single quotes make every other character literal."""
    return shlex.quote(value)


def app_relative_prefix(python_home: Path, build_dir: Path) -> str:
    """ "".heroku/python/" for BUILD_DIR/.heroku/python, lexically or once
    symlinks are resolved; the absolute path when it is elsewhere."""
    pairs = (
        (Path(os.path.abspath(python_home)), Path(os.path.abspath(build_dir))),
        (Path(os.path.realpath(python_home)), Path(os.path.realpath(build_dir))),
    )
    for home, root in pairs:
        try:
            rel = home.relative_to(root).as_posix()
        except ValueError:
            continue
        return "" if rel == "." else rel + "/"
    return os.path.abspath(python_home).rstrip("/") + "/"
