"""What goes into a runtime archive, taken from a CPython installation.

The archive has ``bin/``, ``include/``, ``lib/`` (and ``share/``) at its root,
like Heroku's. It leaves out what a deployed app never needs and what would
make the runtime differ from a fresh one: installed packages (site-packages is
kept, empty), their scripts in ``bin/``, the stdlib test suite and the static
libpython (the same cuts as the official Docker images). The bundled wheels
in ``ensurepip/_bundled`` stay: the buildpack installs pip from them.
Absolute links into the prefix become relative ones, and scripts in ``bin/``
name ``/app/.heroku/python/bin/...`` in their shebang.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# Where the buildpack runs every runtime from; scripts in bin/ get it in their
# shebang instead of the prefix they were installed to on the packing host.
APP_PYTHON_HOME = "/app/.heroku/python"
TOP_LEVEL = ("bin", "include", "lib", "share")
TEST_DIRS = frozenset({"test", "tests", "idle_test"})
# CPython's own programs: python3, python3.13, python3.13t, python3-config,
# pydoc3, idle3.13, 2to3-3.11... Anything else in bin/ was installed by a
# package from site-packages (which is not packed) or by the tool that built
# Python (pyenv's python3.X-gdb.py, a gdb helper with a #!/usr/bin/python line).
_CPYTHON_PROGRAM = re.compile(r"(python|pydoc|idle|2to3)(\d+(\.\d+)?t?)?(-\d+\.\d+)?(-config)?\Z")


class LayoutError(Exception):
    """The installation has something that cannot go into a runtime archive."""


@dataclass
class Entry:
    info: tarfile.TarInfo
    source: Path | None = None  # a regular file's data
    data: bytes | None = None  # or rewritten data


class Planner:
    """Every entry of the archive, in order, from an installation at ``prefix``.

    ``keep_bytecode`` keeps the ``.pyc`` files a build compiled on purpose
    (tools/build-runtime); an installed interpreter's are left out, since
    they were compiled in whatever mode its installer chose.
    """

    def __init__(
        self,
        prefix: Path,
        stdlib: str,
        minor: str,
        log: Callable[[str], None],
        *,
        keep_bytecode: bool = False,
    ) -> None:
        self.prefix = prefix
        self.keep_bytecode = keep_bytecode
        # Absolute links may name the prefix as given or as resolved.
        self.prefix_forms = {os.path.abspath(prefix), os.path.realpath(prefix)}
        self.stdlib = stdlib
        self.stdlib_rel = f"lib/{stdlib}"
        self.site_packages = f"lib/{stdlib}/site-packages"
        self.minor = minor
        self.log = log
        self.entries: list[Entry] = []
        self.left_out: list[str] = []

    def plan(self) -> list[Entry]:
        for top in TOP_LEVEL:
            path = self.prefix / top
            if path.is_dir() and not path.is_symlink():
                self._walk(path, top)
        if self.left_out:
            self.log(
                f"Left out {len(self.left_out)} entries that are not CPython's own: "
                f"{', '.join(self.left_out)}"
            )
        return self.entries

    def _walk(self, path: Path, rel: str) -> None:
        dir_st = os.lstat(path)
        self.entries.append(Entry(self._info(rel, dir_st, tarfile.DIRTYPE)))
        if rel == self.site_packages:
            return  # kept, empty: the app's packages go here
        children = os.listdir(path)
        added = self._missing_python_links(children) if rel == "bin" else {}
        for child in sorted([*children, *added]):
            child_path = path / child
            child_rel = f"{rel}/{child}"
            if child in added:
                info = self._info(child_rel, dir_st, tarfile.SYMTYPE)
                info.mode = 0o777
                info.linkname = added[child]
                self.entries.append(Entry(info))
                continue
            if self._skipped(child_rel, child, child_path):
                continue
            st = os.lstat(child_path)
            if stat.S_ISDIR(st.st_mode):
                self._walk(child_path, child_rel)
            elif stat.S_ISLNK(st.st_mode):
                self._symlink(child_path, child_rel, st)
            elif stat.S_ISREG(st.st_mode):
                self._file(child_path, child_rel, st)
            else:
                raise LayoutError(f"{child_path} is not a file, directory or symlink")

    def _skipped(self, rel: str, name: str, path: Path) -> bool:
        bytecode = name == "__pycache__" or name.endswith((".pyc", ".pyo"))
        if bytecode and not self.keep_bytecode:
            return True
        if not self._cpython_owns(rel.rpartition("/")[0], name):
            self.left_out.append(rel)
            return True
        if rel.startswith(self.stdlib_rel + "/") and name in TEST_DIRS and path.is_dir():
            return True
        # The static library is only for embedding; a shared one is in lib/.
        return name.startswith("libpython") and name.endswith(".a")

    def _cpython_owns(self, parent: str, name: str) -> bool:
        """Whether CPython's ``make install`` puts ``name`` in ``parent``.

        In a shared prefix such as /usr/local, bin/, lib/, include/ and share/
        also hold other software, which must not end up in the runtime.
        """
        if parent == "bin":
            return bool(_CPYTHON_PROGRAM.match(name))
        if parent == "lib":
            return name in (self.stdlib, "pkgconfig") or name.startswith("libpython")
        if parent in ("lib/pkgconfig", "share/man/man1"):
            return name.startswith("python")
        if parent == "include":
            return name.startswith(f"python{self.minor}")
        if parent == "share":
            return name == "man"
        if parent == "share/man":
            return name == "man1"
        return True

    def _info(self, rel: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
        info = tarfile.TarInfo(rel)
        info.type = kind
        info.mode = stat.S_IMODE(st.st_mode) & 0o777
        info.mtime = int(st.st_mtime)
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    def _file(self, path: Path, rel: str, st: os.stat_result) -> None:
        info = self._info(rel, st, tarfile.REGTYPE)
        data = self._rewritten_shebang(path) if rel.startswith("bin/") else None
        if data is not None:
            info.size = len(data)
            self.entries.append(Entry(info, data=data))
        else:
            info.size = st.st_size
            self.entries.append(Entry(info, source=path))

    def _rewritten_shebang(self, path: Path) -> bytes | None:
        with open(path, "rb") as f:
            if f.read(2) != b"#!":
                return None
            data = b"#!" + f.read()
        first, sep, rest = data.partition(b"\n")
        for form in sorted(self.prefix_forms, key=len, reverse=True):
            old = os.fsencode(form) + b"/bin/"
            if old in first:
                new = first.replace(old, APP_PYTHON_HOME.encode() + b"/bin/")
                return new + sep + rest
        return None

    def _symlink(self, path: Path, rel: str, st: os.stat_result) -> None:
        target = os.readlink(path)
        if os.path.isabs(target):
            target = self._relative_link(rel, target)
        resolved = os.path.normpath(os.path.join(os.path.dirname(rel), target))
        if resolved == ".." or resolved.startswith("../"):
            raise LayoutError(f"{path} links to '{target}', outside {self.prefix}")
        info = self._info(rel, st, tarfile.SYMTYPE)
        info.mode = 0o777
        info.linkname = target
        self.entries.append(Entry(info))

    def _relative_link(self, rel: str, target: str) -> str:
        target = os.path.normpath(target)
        for form in self.prefix_forms:
            if target == form or target.startswith(form + "/"):
                inside = os.path.relpath(target, form)
                return os.path.relpath(inside, os.path.dirname(rel) or ".")
        raise LayoutError(f"{self.prefix}/{rel} links to '{target}', outside {self.prefix}")

    def _missing_python_links(self, present: list[str]) -> dict[str, str]:
        """``python3`` and ``python`` links to add to bin/, where the install lacks them."""
        names = set(present)
        links = {}
        for link, target in (("python3", f"python{self.minor}"), ("python", "python3")):
            if link not in names and target in names:
                links[link] = target
                names.add(link)
        return links
