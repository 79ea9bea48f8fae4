"""Rewrite one absolute directory path to another inside small text files.

This module runs in two places: at build time (imported by
``buildpack.relocation``) and at dyno boot, where ``.profile.d`` runs its
source with the app's own Python as ``python3 -I -S -c <this file> ...``.
So it uses the standard library only, must work on every Python the buildpack
installs (3.10 and later), and never relies on ``site``: the files it repairs
are the ones ``site`` would read.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable
from typing import BinaryIO
from urllib.parse import quote

# Bytes that can continue a file name. A match followed by one of them is a
# different path (/tmp/build_x is not /tmp/build_xy), and one preceded by one
# of them (or by "/") is the tail of a longer path.
_NAME_BYTES = rb"\w.+~@%\-\x80-\xff"

# Files with a NUL byte this early are binary; we never edit those.
BINARY_SNIFF_BYTES = 8192


def path_forms(path: str) -> list[str]:
    """The spellings of ``path`` that installers write into site-packages.

    Order matters: ``Rewriter`` pairs the n-th form of the old path with the
    n-th form of the new one, so each spelling is replaced by the same
    spelling of the new path. Most forms equal the raw path unless it holds
    quotes, backslashes, spaces or non-ASCII characters.
    """
    return [
        path,
        # setuptools' editable finders hold paths as Python string literals.
        repr(path)[1:-1],
        # direct_url.json (pip escapes non-ASCII, uv does not).
        json.dumps(path)[1:-1],
        json.dumps(path, ensure_ascii=False)[1:-1],
        # uv's sh trampoline single-quotes the interpreter path.
        path.replace("'", "'\"'\"'"),
        # direct_url.json stores a file URL.
        "file://" + quote(path, errors="surrogateescape"),
    ]


class Rewriter:
    """Finds, and replaces, whole-path occurrences of some directories."""

    def __init__(self, olds: Iterable[str], new: str | None = None) -> None:
        self.replacements: dict[bytes, bytes] = {}
        new_forms = path_forms(new) if new is not None else None
        for old in olds:
            old = old.rstrip("/")
            if not old:
                continue  # "/" is a prefix of everything, never a build dir
            # Replacing a directory by itself or by a path inside it would
            # not converge: every run would find the old path again.
            if new is not None and (old == new or new.startswith(old + "/")):
                continue
            old_forms = path_forms(old)
            for i, form in enumerate(old_forms):
                target = new_forms[i] if new_forms is not None else ""
                self.replacements.setdefault(os.fsencode(form), os.fsencode(target))
        keys = sorted(self.replacements, key=len, reverse=True)
        # Plain substrings for a fast bytes search; any form that contains a
        # shorter one is found through it.
        self.needles: list[bytes] = [k for k in keys if not any(o in k for o in keys if o != k)]
        self.longest = len(keys[0]) if keys else 0
        alternatives = b"|".join(re.escape(k) for k in keys)
        self._pattern = (
            re.compile(
                rb"(?<!["
                + _NAME_BYTES
                + rb"/])(?:"
                + alternatives
                + rb")(?!["
                + _NAME_BYTES
                + rb"])"
            )
            if keys
            else None
        )
        # In binary data a path is often preceded by its length (marshal in
        # .pyc files), a byte that may look like part of a name; only the end
        # of the path can be checked there.
        self._binary_pattern = (
            re.compile(rb"(?:" + alternatives + rb")(?![" + _NAME_BYTES + rb"])") if keys else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mentions(self, data: bytes) -> bool:
        if self._pattern is None or not any(n in data for n in self.needles):
            return False
        return self._pattern.search(data) is not None

    def mentions_in_binary(self, data: bytes) -> bool:
        """Like ``mentions``, without the check before the path."""
        if self._binary_pattern is None or not any(n in data for n in self.needles):
            return False
        return self._binary_pattern.search(data) is not None

    def sub(self, data: bytes) -> tuple[bytes, int]:
        if self._pattern is None or not any(n in data for n in self.needles):
            return data, 0
        return self._pattern.subn(lambda m: self.replacements[m.group(0)], data)


def write_atomically(path: str, write: Callable[[BinaryIO], object], mode: int) -> None:
    """Replace ``path`` with what ``write`` produces, keeping its mode.

    The new file is complete, with the old file's permission bits, before it
    takes the old name, so a reader never sees a partial or non-executable
    file even if the build or the dyno is killed halfway.
    """
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fchmod(out.fileno(), stat.S_IMODE(mode))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def rewrite_file(path: str, rewriter: Rewriter) -> bool:
    """Rewrite the paths in one small text file; True if it changed."""
    st = os.lstat(path)
    if not stat.S_ISREG(st.st_mode):
        return False
    with open(path, "rb") as f:
        data = f.read()
    if b"\0" in data[:BINARY_SNIFF_BYTES]:
        return False
    new, count = rewriter.sub(data)
    if not count:
        return False
    write_atomically(path, lambda out: out.write(new), st.st_mode)
    return True


def discard_bytecode(path: str) -> int:
    """Delete the cached bytecode of the module ``path`` after rewriting it.

    The .pyc holds the old paths as constants, and Python trusts it while the
    source's size and mtime (in whole seconds) are what it recorded: a rewrite
    to a path of the same length within the same second would go unnoticed.
    Python compiles the module again on its next import. Returns how many
    files were deleted.
    """
    directory, name = os.path.split(path)
    stem, ext = os.path.splitext(name)
    if ext != ".py":
        return 0
    cache = os.path.join(directory, "__pycache__")
    try:
        names = os.listdir(cache)
    except OSError:
        return 0
    deleted = 0
    for cached in names:
        # <stem>.<tag>.pyc and <stem>.<tag>.opt-N.pyc
        if cached.startswith(stem + ".") and cached.endswith(".pyc"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(cache, cached))
                deleted += 1
    return deleted


def main(argv: list[str]) -> int:
    """Boot-time entry: ``NEW OLD... -- FILE...`` (FILEs relative to NEW)."""
    if "--" not in argv or argv.index("--") < 2:
        print("Python buildpack: usage: NEW OLD... -- FILE...", file=sys.stderr)
        return 2
    split = argv.index("--")
    new, olds, files = argv[0], argv[1:split], argv[split + 1 :]
    rewriter = Rewriter(olds, new)
    status = 0
    for name in files:
        path = os.path.join(new, name)
        try:
            if rewrite_file(path, rewriter):
                discard_bytecode(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            print(f"Python buildpack: could not update {path}: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
