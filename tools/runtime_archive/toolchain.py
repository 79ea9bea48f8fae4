"""What building CPython needs from the machine, and how it is configured.

The configure options follow Heroku's runtime builds (and, like them, the
official Docker images'): a shared libpython and no static one, loadable
sqlite extensions, fatal option checking, ensurepip not run (its bundled
wheels stay), the system's expat, no test modules where that works with
PGO, and PGO plus LTO only when asked (they make a build several times
slower). Compiler and linker flags are Debian's hardening defaults from
dpkg-buildflags, and the linker strips the binaries.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from buildpack.core.output import Output
from buildpack.core.proc import run
from tools.runtime_archive.versions import MinorFacts


@dataclass(frozen=True)
class Requirement:
    """A stdlib module the runtime must have, and what building it needs."""

    module: str  # as imported
    header: str  # the C header configure looks for
    package: str  # the Debian/Ubuntu package that has it


REQUIRED_MODULES = (
    Requirement("ssl", "openssl/ssl.h", "libssl-dev"),
    Requirement("sqlite3", "sqlite3.h", "libsqlite3-dev"),
    Requirement("ctypes", "ffi.h", "libffi-dev"),
    Requirement("zlib", "zlib.h", "zlib1g-dev"),
    Requirement("bz2", "bzlib.h", "libbz2-dev"),
    Requirement("lzma", "lzma.h", "liblzma-dev"),
    Requirement("readline", "readline/readline.h", "libreadline-dev"),
    Requirement("curses", "ncursesw/curses.h", "libncurses-dev"),
    Requirement("uuid", "uuid/uuid.h", "uuid-dev"),
    Requirement("pyexpat", "expat.h", "libexpat1-dev"),
)
# Programs, and the package that has each.
REQUIRED_PROGRAMS = {
    "cc": "build-essential",
    "make": "build-essential",
    "pkg-config": "pkg-config",
    "dpkg-buildflags": "dpkg-dev",
}


def debian_packages() -> list[str]:
    """Every package a build needs, for apt-get install (.ci/run uses this)."""
    found = [*REQUIRED_PROGRAMS.values(), *(r.package for r in REQUIRED_MODULES)]
    return list(dict.fromkeys(found))


def missing_build_dependencies(env: dict[str, str]) -> list[str]:
    """The packages to install before building: a program or header is missing."""
    missing = [pkg for prog, pkg in REQUIRED_PROGRAMS.items() if not shutil.which(prog)]
    cc = shutil.which("cc")
    if cc is None:
        return list(dict.fromkeys([*missing, *(r.package for r in REQUIRED_MODULES)]))
    for requirement in REQUIRED_MODULES:
        if not _header_found(cc, requirement.header, env):
            missing.append(requirement.package)
    return list(dict.fromkeys(missing))


def missing_modules_packages(modules: list[str]) -> list[str]:
    by_module = {r.module: r.package for r in REQUIRED_MODULES}
    return list(dict.fromkeys(by_module[m] for m in modules if m in by_module))


def import_check_code() -> str:
    """Python code that prints each required module that does not import."""
    names = [r.module for r in REQUIRED_MODULES]
    return (
        "import importlib\n"
        f"for name in {names!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError:\n"
        "        print('MISSING', name)\n"
    )


def configure_args(facts: MinorFacts, prefix: Path, *, optimize: bool) -> list[str]:
    args = [
        "./configure",
        "--enable-loadable-sqlite-extensions",
        "--enable-option-checking=fatal",
        "--enable-shared",
        f"--prefix={prefix}",
        "--with-ensurepip=no",
        "--with-system-expat",
        "--without-static-libpython",
    ]
    triplet = _query(["dpkg-architecture", "--query", "DEB_BUILD_GNU_TYPE"])
    if triplet:
        args.insert(1, f"--build={triplet}")
    if facts.disable_test_modules:
        args.append("--disable-test-modules")
    if optimize:
        args += ["--enable-optimizations", "--with-lto"]
    return args


def make_args(jobs: int, src: Path) -> list[str]:
    # Run in the source tree: the flags map its path away (-ffile-prefix-map).
    cflags = _query(["dpkg-buildflags", "--get", "CFLAGS"], cwd=src)
    ldflags = _query(["dpkg-buildflags", "--get", "LDFLAGS"], cwd=src)
    return [
        "make",
        f"-j{jobs}",
        f"EXTRA_CFLAGS={cflags}",
        # The linker strips the binaries and shared libraries it writes.
        f"LDFLAGS={ldflags} -Wl,--strip-all".strip(),
    ]


def _header_found(cc: str, header: str, env: dict[str, str]) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.c"
        probe.write_text(f"#include <{header}>\n")
        result = run([cc, "-E", "-o", os.devnull, probe], out=Output(), env=env, show=False)
    return result.returncode == 0


def _query(args: list[str], cwd: Path | None = None) -> str:
    if shutil.which(args[0]) is None:
        return ""
    result = run(args, out=Output(), env=dict(os.environ, LC_ALL="C"), cwd=cwd, show=False)
    return result.output.strip() if result.returncode == 0 else ""
