#!/usr/bin/env python3
"""How long tools/build-runtime takes: a plain build (no PGO, no LTO) of CPython.

    python3 bench/build_runtime.py [--source TARBALL [--version X.Y.Z]] [--runs N]

Without --source it fetches the tarball the test suite builds (CPython
3.13.15 from Debian's source archive, with a private apt configuration; see
tests/support/debian_source.py). Each run builds into a fresh temporary
mirror and prints every phase's duration; the last lines give the median of
each phase and of the whole build, with the machine's load average, which
matters: a build uses every core.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from buildpack.core.output import Output  # noqa: E402
from tests.support import debian_source  # noqa: E402
from tests.support.source_runtime import DEBIAN_PACKAGE, DEBIAN_VERSION  # noqa: E402
from tools.runtime_archive.build import BuildFailed, BuildRequest, build_runtime  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="a CPython release tarball (default: Debian's 3.13.15)")
    parser.add_argument("--version", help="its version, X.Y.Z (needed with --source)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-build-runtime-") as tmp:
        work = Path(tmp)
        if args.source:
            source, version = args.source, args.version
            if not version:
                parser.error("--version is needed with --source")
        else:
            fetched = debian_source.fetch(DEBIAN_PACKAGE, DEBIAN_VERSION, work)
            source, version = str(fetched.tarball), fetched.upstream_version
            print(f"source: {fetched.describe()}", flush=True)
        runs: list[dict[str, float]] = []
        for run in range(1, args.runs + 1):
            request = BuildRequest(version, source, work / f"mirror-{run}", work_parent=work)
            try:
                result = build_runtime(request, Output(io.StringIO(), io.StringIO()))
            except BuildFailed as exc:
                print(f"bench/build_runtime.py: the build failed: {exc}", file=sys.stderr)
                return 1
            runs.append({**result.phases, "total": result.total})
            size = result.archive.stat().st_size / 1e6
            print(
                f"run {run}: {result.total:.1f} s, {result.archive.name} {size:.1f} MB", flush=True
            )
            for phase, seconds in result.phases.items():
                print(f"  {phase}: {seconds:.1f} s")
    print(f"median of {len(runs)} run(s), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}:")
    for phase in runs[0]:
        print(f"  {phase}: {statistics.median(r[phase] for r in runs):.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
