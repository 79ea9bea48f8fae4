#!/usr/bin/env python3
"""Runtime download + extraction from a loopback mirror, against curl | tar.

    python3 bench/runtime_download.py [--runs N]

Packs the host Python with tools/pack-runtime's code, serves it on
127.0.0.1, and times, alternating, N runs each of:
  curl -s URL | tar --zstd -x         (what Heroku's buildpack does)
  download_and_extract, requests + zstandard (our normal path)
  download_and_extract, urllib + zstd tool   (our path before bootstrap)
Prints median/min/max and the ratio to curl | tar. Needs curl and GNU tar.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from buildpack.core.output import Output  # noqa: E402
from buildpack.runtime import download  # noqa: E402
from tests.support.fault_server import FaultServer  # noqa: E402
from tools.runtime_archive.pack import pack_runtime  # noqa: E402


def ours(url: str, **kwargs: object) -> float:
    work = Path(tempfile.mkdtemp(dir="/tmp"))
    start = time.perf_counter()
    download.download_and_extract(
        url,
        work / "python",
        connect_timeout=5,
        read_timeout=30,
        retries=2,
        backoff=0.5,
        out=Output(),
        **kwargs,  # type: ignore[arg-type]
    )
    elapsed = time.perf_counter() - start
    shutil.rmtree(work)
    return elapsed


def curl_tar(url: str) -> float:
    work = Path(tempfile.mkdtemp(dir="/tmp"))
    start = time.perf_counter()
    curl = subprocess.Popen(["curl", "-s", "--fail", url], stdout=subprocess.PIPE)
    subprocess.run(["tar", "--zstd", "-x", "-C", str(work)], stdin=curl.stdout, check=True)
    assert curl.wait() == 0
    elapsed = time.perf_counter() - start
    shutil.rmtree(work)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as mirror:
        archive = pack_runtime(Path(sys.base_prefix), Path(mirror))
        print(f"archive: {archive.name}, {archive.stat().st_size / 1e6:.1f} MB")
        results: dict[str, list[float]] = {
            "curl | tar --zstd -x": [],
            "ours: requests + zstandard": [],
            "ours: urllib + zstd tool": [],
        }
        with FaultServer(Path(mirror)) as server:
            url = f"{server.url}/{archive.name}"
            curl_tar(url), ours(url)  # warm the page cache
            for _ in range(args.runs):
                results["curl | tar --zstd -x"].append(curl_tar(url))
                results["ours: requests + zstandard"].append(ours(url))
                results["ours: urllib + zstd tool"].append(
                    ours(url, transport="urllib", force_zstd_tool=True)
                )
    base = statistics.median(results["curl | tar --zstd -x"])
    for name, times in results.items():
        median = statistics.median(times)
        print(
            f"{name:28s} median {median:.3f}s  min {min(times):.3f}s  "
            f"max {max(times):.3f}s  x{median / base:.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
