"""Time bin/detect the way a build system runs it: exec the script, wait for it.

    python3 bench/detect.py [--runs N] [APP_DIR]

Without APP_DIR, a sample app (a Django-like tree with requirements.txt) is
made in a temporary directory. Prints median and min wall time in ms, for a
pass and for a refusal (an empty directory). The budget is 100 ms a run.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN_DETECT = ROOT / "bin" / "detect"
BUDGET_MS = 100.0


def make_sample_app(app_dir: Path) -> None:
    for name in ("requirements.txt", "manage.py", "Procfile", "README.md", ".gitignore"):
        (app_dir / name).write_text("")
    for package in ("mysite", "polls", "static", "templates"):
        (app_dir / package).mkdir()
        for i in range(20):
            (app_dir / package / f"module{i}.py").write_text("")


def time_runs(app_dir: Path, runs: int, expected_rc: int) -> list[float]:
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        result = subprocess.run([str(BIN_DETECT), str(app_dir)], capture_output=True, check=False)
        timings.append((time.perf_counter() - start) * 1000)
        if result.returncode != expected_rc:
            sys.exit(f"bin/detect exited {result.returncode}, expected {expected_rc}")
    return timings


def report(label: str, timings: list[float]) -> float:
    median = statistics.median(timings)
    print(f"{label:<8} median {median:6.1f} ms   min {min(timings):6.1f} ms   runs {len(timings)}")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("app_dir", nargs="?", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sample = args.app_dir or Path(tmp, "app")
        if args.app_dir is None:
            sample.mkdir()
            make_sample_app(sample)
        empty = Path(tmp, "empty")
        empty.mkdir()
        time_runs(sample, 3, 0)  # warm the page cache
        worst = max(
            report("pass", time_runs(sample, args.runs, 0)),
            report("refuse", time_runs(empty, args.runs, 1)),
        )
    print(f"budget   {BUDGET_MS:.0f} ms: {'OK' if worst < BUDGET_MS else 'OVER BUDGET'}")
    return 0 if worst < BUDGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
