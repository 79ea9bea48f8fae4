"""The scripts installer writes for a wheel on POSIX, told without importing installer.

A kept tool venv is checked before each build runs it, and part of the
check is that every launcher in its ``bin/`` is exactly what installing
the locked wheels writes. installer makes those launchers, but importing
it (with the email parser it needs) took 0.06-0.10 s, as long as reading
and hashing the whole venv. So the check tells the expected bytes here:
installer's POSIX launcher and its ``#!python`` rewrite, for the pinned
installer. ``tests/unit/test_launchers.py`` holds this module to
installer's own output, so a pin whose launchers differ fails CI. The
install itself still goes through installer.
"""

from __future__ import annotations

import configparser
import re
import shlex
import zipfile

# installer's _SCRIPT_TEMPLATE.
_TEMPLATE = """\
# -*- coding: utf-8 -*-
import re
import sys
from {module} import {import_name}
if __name__ == "__main__":
    sys.argv[0] = re.sub(r"(-script\\.pyw|\\.exe)?$", "", sys.argv[0])
    sys.exit({func_path}())
"""
# installer's entry point pattern: module, attributes, extras.
_ENTRY_POINT = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attrs>[\w.]+))\s*(?P<extras>\[.*\])?\s*$")
# A shebang longer than this (with "#!" and the newline), or one with a
# space, is written as installer's /bin/sh trampoline.
_SIMPLE_SHEBANG_MAX = 127


class Unreadable(ValueError):
    """An entry point installer would refuse."""


def launcher(python: str, module: str, attr: str) -> bytes:
    """The launcher of the entry point ``module:attr`` running ``python``."""
    code = _TEMPLATE.format(module=module, import_name=attr.split(".")[0], func_path=attr)
    return _shebang(python) + b"\n" + code.encode("utf-8")


def entry_points(text: str) -> list[tuple[str, str, str]]:
    """(script name, module, attribute) of each console and GUI script in
    an ``entry_points.txt``, in its order."""
    config = configparser.ConfigParser(delimiters="=")
    config.optionxform = str  # type: ignore[assignment, method-assign]
    try:
        config.read_string(text)
    except configparser.Error as exc:
        raise Unreadable(str(exc)) from None
    found = []
    for section in config.sections():
        if section not in ("console_scripts", "gui_scripts"):
            continue
        for name, value in config.items(section):
            match = _ENTRY_POINT.match(value)
            if match is None or match["attrs"] is None:
                raise Unreadable(f"entry point {name} = {value!r} is not module:function")
            found.append((name, match["module"], match["attrs"]))
    return found


def with_python(script: bytes, python: str) -> bytes:
    """A wheel's own script as installed: ``#!python`` names ``python``."""
    if not script.startswith(b"#!python"):
        return script
    _, newline, rest = script.partition(b"\n")
    return f"#!{python}\n".encode() + (rest if newline else b"")


def dist_info_of(zf: zipfile.ZipFile) -> str:
    """The wheel's one top-level ``.dist-info`` directory (ValueError if not one)."""
    tops = {name.split("/", 1)[0] for name in zf.namelist()}
    [dist_info] = [top for top in tops if top.endswith(".dist-info")]
    return dist_info


def written(zf: zipfile.ZipFile, python: str) -> dict[str, bytes]:
    """What installing the wheel open as ``zf`` writes into the scripts
    directory, launchers running ``python``: name -> exact bytes (pip's
    pipX.Y launcher aside)."""
    dist_info = dist_info_of(zf)
    try:
        text = zf.read(f"{dist_info}/entry_points.txt").decode("utf-8")
    except KeyError:
        text = ""
    scripts = {name: launcher(python, module, attr) for name, module, attr in entry_points(text)}
    prefix = dist_info.removesuffix(".dist-info") + ".data/scripts/"
    for name in zf.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            scripts[name.removeprefix(prefix)] = with_python(zf.read(name), python)
    return scripts


def _shebang(python: str) -> bytes:
    raw = python.encode("utf-8")
    if b" " not in raw and len(raw) + 3 <= _SIMPLE_SHEBANG_MAX:
        return b"#!" + raw
    quoted = shlex.quote(python).encode("utf-8")
    return b"#!/bin/sh\n'''exec' " + quoted + b' "$0" "$@"\n' + b"' '''"
