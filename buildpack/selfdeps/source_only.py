"""Importing a checked directory's modules from their source only.

The buildpack's own libraries live in CACHE_DIR and are checked file by
file before each use (verified_tree); bytecode cannot be checked without
compiling the source again, so none may be written there or read from
there. Setting ``sys.dont_write_bytecode`` would do that for the whole
process, and the buildpack's own modules imported after it (the runtime
download, pip's seed...) would then be compiled from source in every build.
Instead, every directory under the checked one gets a finder whose loader
compiles each module from its source and writes nothing, and which finds
no module in a lone ``.pyc``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from importlib.machinery import (
    EXTENSION_SUFFIXES,
    SOURCE_SUFFIXES,
    ExtensionFileLoader,
    FileFinder,
    SourceFileLoader,
)
from types import CodeType


class SourceOnlyLoader(SourceFileLoader):
    """A module from its source file: no bytecode read, none written."""

    def get_code(self, fullname: str) -> CodeType:
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)


def import_from_source(root: str) -> None:
    """Import whatever comes from ``root`` or below it from source only.

    Once per directory; the finders already made for it are dropped, so the
    next import from there gets one of these."""
    if any(getattr(hook, "source_only_root", None) == root for hook in sys.path_hooks):
        return
    sys.path_hooks.insert(0, _hook(root))
    for entry in [e for e in sys.path_importer_cache if _under(e, root)]:
        del sys.path_importer_cache[entry]


def _hook(root: str) -> Callable[[str], FileFinder]:
    loaders = [(ExtensionFileLoader, EXTENSION_SUFFIXES), (SourceOnlyLoader, SOURCE_SUFFIXES)]

    def finder_for(entry: str) -> FileFinder:
        if not _under(entry, root):
            raise ImportError("not under the checked directory")  # the next hook's
        return FileFinder(entry, *loaders)

    finder_for.source_only_root = root  # type: ignore[attr-defined]
    return finder_for


def _under(entry: str, root: str) -> bool:
    return entry == root or entry.startswith(root.rstrip(os.sep) + os.sep)
