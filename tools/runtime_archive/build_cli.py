"""The command line of tools/build-runtime."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from buildpack.core.output import Output
from buildpack.core.redact import redact_text
from tools.runtime_archive import toolchain
from tools.runtime_archive.build import (
    DEFAULT_ZSTD_LEVEL,
    BuildFailed,
    BuildRequest,
    build_runtime,
)
from tools.runtime_archive.pack import DEFAULT_STACK

USAGE_EXAMPLE = """\
example:
  tools/build-runtime 3.13.15 --source Python-3.13.15.tar.xz --dest /srv/mirror

Needs the Debian/Ubuntu packages listed by --print-build-deps."""


def main(argv: list[str]) -> int:
    if "--print-build-deps" in argv:
        print(" ".join(toolchain.debian_packages()))
        return 0
    parser = argparse.ArgumentParser(
        prog="build-runtime",
        description="Build CPython from an upstream source tarball into a runtime archive "
        "for a buildpack mirror (python-X.Y.Z-ubuntu-NN.04-ARCH.tar.zst, its .sha256 "
        "and the mirror's runtimes.json).",
        epilog=USAGE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("version", help="the release to build, X.Y.Z")
    parser.add_argument(
        "--source",
        required=True,
        help="the release tarball (.tgz or .tar.xz): a path, or an http(s) URL",
    )
    parser.add_argument("--sha256", help="the tarball's SHA-256 (required for a URL)")
    parser.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        help="heroku-NN: names ubuntu-NN.04 (default: %(default)s)",
    )
    parser.add_argument(
        "--arch", choices=("amd64", "arm64"), help="default (and only choice): this machine's"
    )
    parser.add_argument(
        "--optimize",
        action="store_true",
        help="PGO and LTO, as release runtimes are built (several times slower)",
    )
    parser.add_argument("--dest", type=Path, required=True, help="the mirror directory")
    parser.add_argument(
        "--zstd-level",
        type=int,
        default=DEFAULT_ZSTD_LEVEL,
        choices=range(1, 23),
        metavar="1-22",
        help="zstd level, always with --long (default: %(default)s; Heroku's use 22)",
    )
    parser.add_argument("--work-dir", type=Path, help="where to build (default: $TMPDIR)")
    parser.add_argument("--print-build-deps", action="store_true", help="list them and exit")
    parser.add_argument("--verbose", action="store_true", help="show configure's and make's output")
    args = parser.parse_args(argv)
    request = BuildRequest(
        version=args.version,
        source=args.source,
        dest=args.dest,
        sha256=args.sha256,
        stack=args.stack,
        arch=args.arch,
        optimize=args.optimize,
        zstd_level=args.zstd_level,
        work_parent=args.work_dir,
        verbose=args.verbose,
    )
    try:
        result = build_runtime(request, Output())
    except BuildFailed as exc:
        # A --source URL may carry credentials: never print them.
        print(f"build-runtime: error: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    print(result.archive)
    return 0
