"""Pack an installed CPython into a runtime archive, as the mirror serves them.

For an interpreter that is already installed (pyenv's, python.org's, one
built by hand): what goes in is chosen by layout.py, written by writer.py,
the same code tools/build-runtime ends with. Its bytecode is left out; the
buildpack compiles what it needs.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from buildpack.core.output import Output
from buildpack.core.proc import run
from buildpack.core.settings import Settings, buildpack_root
from buildpack.runtime.manifest import ManifestError
from tools.runtime_archive.layout import LayoutError, Planner
from tools.runtime_archive.versions import (
    MinorFacts,
    VersionError,
    archive_name,
    parse_version,
    ubuntu_for_stack,
)
from tools.runtime_archive.writer import Compression, WriteError, write_runtime_archive

_ARCHES = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}
DEFAULT_STACK = "heroku-24"


class PackError(Exception):
    """The installation cannot be packed as asked; the message says why."""


def pack_runtime(
    prefix: Path,
    out_dir: Path,
    *,
    version: str | None = None,
    stack: str = DEFAULT_STACK,
    arch: str | None = None,
    compression: Compression | None = None,
    force_zstd_tool: bool = False,
    keep_bytecode: bool = False,
    list_in_manifest: bool = True,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Write ``python-X.Y.Z-ubuntu-NN.04-ARCH.tar.zst``, its ``.sha256`` and
    the updated ``runtimes.json`` to ``out_dir``; return the archive's path."""
    prefix = Path(prefix)
    if not (prefix / "bin" / "python3").exists():
        raise PackError(f"{prefix} is not a Python installation (no bin/python3)")
    try:
        version, facts = parse_version(version or detect_version(prefix))
        ubuntu = ubuntu_for_stack(stack)
    except VersionError as exc:
        raise PackError(str(exc)) from None
    arch = arch or host_arch()
    stdlib = _stdlib_dir(prefix, facts)
    check_bundled_wheels(prefix, stdlib, facts)

    settings = Settings.load(buildpack_root() / "buildpack.toml")
    name = archive_name(settings.archive_name, version, ubuntu, arch)
    planner = Planner(
        prefix, stdlib, facts.minor, log or (lambda _msg: None), keep_bytecode=keep_bytecode
    )
    compression = compression or Compression(force_tool=force_zstd_tool)
    try:
        entries = planner.plan()
        written = write_runtime_archive(
            entries,
            out_dir,
            name=name,
            version=version,
            stack=stack,
            arch=arch,
            compression=compression,
            list_in_manifest=list_in_manifest,
        )
    except (LayoutError, WriteError, ManifestError) as exc:
        raise PackError(str(exc)) from None
    return written.path


def check_bundled_wheels(prefix: Path, stdlib: str, facts: MinorFacts) -> None:
    """The buildpack installs pip from the wheel ensurepip bundles: it must be there."""
    bundled = prefix / "lib" / stdlib / "ensurepip" / "_bundled"
    for pattern in facts.bundled_wheels:
        if not list(bundled.glob(pattern)):
            project = pattern.split("-")[0]
            raise PackError(
                f"{bundled} has no {project} wheel ({pattern}), and the buildpack installs "
                f"pip from the wheels CPython bundles there. Debian's and Ubuntu's own "
                "Python packages leave them out: pack a CPython installed from "
                "python.org's sources or by pyenv, or build one with tools/build-runtime"
            )


def detect_version(prefix: Path) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LD_LIBRARY_PATH": str(prefix / "lib"),
        "LANG": "C.UTF-8",
    }
    code = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    result = run([prefix / "bin" / "python3", "-I", "-c", code], out=Output(), env=env, show=False)
    version = result.output.strip().splitlines()[-1] if result.output.strip() else ""
    if result.returncode != 0 or not version.count(".") == 2:
        raise PackError(f"could not run {prefix}/bin/python3 to find its version:\n{result.output}")
    return version


def host_arch() -> str:
    if shutil.which("dpkg"):
        result = run(
            ["dpkg", "--print-architecture"], out=Output(), env=dict(os.environ), show=False
        )
        if result.returncode == 0 and result.output.strip() in ("amd64", "arm64"):
            return result.output.strip()
    machine = platform.machine().lower()
    if machine not in _ARCHES:
        raise PackError(f"runtimes are built for amd64 and arm64, not for '{machine}'")
    return _ARCHES[machine]


def _stdlib_dir(prefix: Path, facts: MinorFacts) -> str:
    for candidate in (f"python{facts.minor}", f"python{facts.minor}t"):
        if (prefix / "lib" / candidate / "os.py").is_file():
            return candidate
    raise PackError(f"no standard library for Python {facts.minor} under {prefix}/lib")


# --- command line ---------------------------------------------------------------------


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="pack-runtime",
        description="Pack an installed CPython into a runtime archive for a buildpack mirror.",
    )
    parser.add_argument(
        "prefix",
        type=Path,
        nargs="?",
        default=Path(sys.base_prefix),
        help="the installation's prefix (default: this Python's, %(default)s)",
    )
    parser.add_argument(
        "-o",
        "--out-dir",
        type=Path,
        default=Path("."),
        help="the mirror directory: the archive, its .sha256 and runtimes.json (default: .)",
    )
    parser.add_argument("--version", help="X.Y.Z (default: ask the installation's python3)")
    parser.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        help="heroku-NN: names ubuntu-NN.04 (default: %(default)s)",
    )
    parser.add_argument("--arch", choices=("amd64", "arm64"), help="default: this machine's")
    parser.add_argument(
        "--zstd-tool",
        action="store_true",
        help="compress with the zstd tool even if the zstandard module is there",
    )
    args = parser.parse_args(argv)
    try:
        path = pack_runtime(
            args.prefix,
            args.out_dir,
            version=args.version,
            stack=args.stack,
            arch=args.arch,
            force_zstd_tool=args.zstd_tool,
            log=lambda msg: print(msg, file=sys.stderr),
        )
    except PackError as exc:
        print(f"pack-runtime: error: {exc}", file=sys.stderr)
        return 1
    print(path)
    return 0
