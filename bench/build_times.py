"""Time each phase of bin/compile on the example apps beside its floor.

    sudo python3 bench/build_times.py [--runs N] [--apps pip,uv,poetry,pipenv]
                                      [--scenarios cold,unchanged,changed] [--markdown]
                                      [--index loopback|configured] [--logs DIR]

For each example app in tests/fixtures, each run starts with an empty
CACHE_DIR and builds it cold (the buildpack's own bootstrap, the runtime
download, the package manager and every dependency), then unchanged (the
same app on that cache), then, if asked, changed (one more dependency,
re-locked with the real tool). Right after the cold build it measures the
floors of its phases (bench/floors.py): the runtime install beside
``zstd -dc | tar -x`` of the same archive (and beside ``curl | zstd -dc |
tar -x``), the package manager's download beside one plain GET of the same
bytes, the app's installer beside the same command run by hand on the same
app in a fresh runtime. Beside the unchanged rebuild: the interpreter's own
start-up (``python3 -I -c pass``, with the python3 that runs bin/compile:
a venv of this interpreter without pip, see bench_env.host_python). Each
timed build and floor starts after a ``sync`` (not timed), so that none
pays for the writeback of the one before.

The runtime comes from a loopback mirror serving this interpreter packed as
a runtime archive; with --index loopback (the default) everything pip's
index serves (pip, the buildpack's libraries, uv, Poetry's and Pipenv's
locked files, the apps' dependencies) comes from a loopback simple index
filled once with ``pip download``, and the apps are locked against it.
Medians over the runs; the machine's load average is printed with them,
since a shared machine's figures move with it. Needs root and unshare(1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import floors
from bench_env import (
    APPS,
    ROOT,
    Build,
    build_env,
    compile_once,
    host_python,
    index_requirements,
    load,
    machine,
    prepare_apps,
)

from buildpack.core.settings import Settings
from buildpack.package_managers import tool_lock
from buildpack.selfdeps.wheel_choice import Interpreter
from buildpack.selfdeps.wheel_lock import this_environment
from tests.support.fault_server import FaultServer
from tests.support.loopback_index import make_index
from tools.runtime_archive.pack import pack_runtime

SCENARIOS = ("cold", "unchanged", "changed")


@dataclass
class Row:
    scenario: str
    phase: str
    ours: Callable[[Build], float | None]
    floor: str = ""  # the key of the floor measured beside it
    floor_is: str = ""


def _outside(build: Build) -> float | None:
    total = build.phase("total")
    return None if total is None else build.wall - total


ROWS = [
    Row("cold", "runtime install", lambda b: b.phase("python_install"), "unpack",
        "`zstd -dc archive | tar -x`"),
    Row("cold", "  (same, download included)", lambda b: b.phase("python_install"),
        "fetch_unpack", "`curl URL | zstd -dc | tar -x`"),
    Row("cold", "package manager download", lambda b: b.phase("package_manager_fetch"),
        "get_tool", "one GET of the same bytes"),
    Row("cold", "  waited for it after the runtime",
        lambda b: b.phase("package_manager_fetch_wait")),
    Row("cold", "package manager install", lambda b: b.phase("package_manager_install")),
    Row("cold", "dependencies install", lambda b: b.phase("dependencies_install"), "by_hand",
        "the same installer by hand"),
    Row("cold", "before the first phase", _outside, "startup", "`python3 -I -c pass`"),
    Row("cold", "wall", lambda b: b.wall),
    Row("unchanged", "before the first phase", _outside, "startup", "`python3 -I -c pass`"),
    Row("unchanged", "phases", lambda b: b.phase("total")),
    Row("unchanged", "  of which package manager install",
        lambda b: b.phase("package_manager_install")),
    Row("unchanged", "  of which cache save", lambda b: b.phase("cache_save")),
    Row("unchanged", "wall", lambda b: b.wall),
    Row("changed", "wall", lambda b: b.wall),
]  # fmt: skip


@dataclass
class Results:
    builds: dict[tuple[str, str], list[Build]] = field(default_factory=dict)
    floors: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    overlapped: dict[str, list[bool]] = field(default_factory=dict)

    def add_floor(self, manager: str, key: str, seconds: float | None) -> None:
        if seconds is not None:
            self.floors.setdefault((manager, key), []).append(seconds)


def tool_files(manager: str, index_root: Path) -> list[Path]:
    """The files the build fetches for the package manager, from the index."""
    settings = Settings.load(ROOT / "buildpack.toml")
    version = settings.tools[manager]
    files = index_root / "files"
    if manager in tool_lock.LOCKED_TOOLS:
        lock = tool_lock.load(tool_lock.lock_path(ROOT))
        locked = tool_lock.files_for(
            lock, manager, version, this_environment(), Interpreter.running()
        )
        return [files / f.filename for f in locked]
    return sorted(files.glob(f"{manager}-{version}-*.whl"))[:1]


def run(args: argparse.Namespace, work: Path) -> Results:
    managers = [m.strip() for m in args.apps.split(",") if m.strip()]
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    version = ".".join(map(str, sys.version_info[:3]))
    mirror_dir = work / "mirror"
    print(f"packing this interpreter as the Python {version} runtime...", flush=True)
    archive = pack_runtime(Path(sys.base_prefix), mirror_dir, version=version)
    results = Results()
    with FaultServer(mirror_dir) as mirror, FaultServer(work / "index-root") as index:
        index_url = None
        if args.index == "loopback":
            print("copying what the builds need into a loopback package index...", flush=True)
            wanted, exact = index_requirements(managers)
            make_index(index.root, wanted, exact)
            index_url = f"{index.url}/simple/"
        apps, home = prepare_apps(work, managers, version, index_url)
        env = build_env(mirror.url, home, index_url, work)
        env_dir = work / "env"
        env_dir.mkdir()
        for manager, (base, changed) in apps.items():
            blob = floors.blob(index.root, manager, tool_files(manager, index.root))
            for i in range(args.runs):
                cache = work / f"cache-{manager}-{i}"
                for scenario in scenarios:
                    app = changed if scenario == "changed" else base
                    log = args.logs / f"{manager}-{i + 1}-{scenario}.log" if args.logs else None
                    build = compile_once(app, cache, env_dir, env, log)
                    results.builds.setdefault((manager, scenario), []).append(build)
                    print(f"  {manager:<7} run {i + 1}/{args.runs} {scenario:<9} "
                          f"{build.wall:6.2f} s ({load()})", flush=True)  # fmt: skip
                    if scenario == "cold":
                        results.overlapped.setdefault(manager, []).append(
                            build.fields.get("package_manager_fetch_overlapped") is True
                        )
                        measure_floors(
                            results, manager, base, cache, archive, env, index, blob, work
                        )
                shutil.rmtree(cache, ignore_errors=True)
    return results


def measure_floors(
    results: Results,
    manager: str,
    app: Path,
    cache: Path,
    archive: Path,
    env: dict[str, str],
    index: FaultServer,
    blob: str,
    work: Path,
) -> None:
    results.add_floor(manager, "unpack", floors.unpack(archive))
    mirror_url = env["BUILDPACK_S3_BASE_URL"]
    results.add_floor(manager, "fetch_unpack", floors.fetch_unpack(f"{mirror_url}/{archive.name}"))
    if env.get("PIP_INDEX_URL", "").startswith(index.url):
        results.add_floor(manager, "get_tool", floors.plain_get(index.url + blob))
    results.add_floor(
        manager, "by_hand", floors.installer_by_hand(manager, app, cache, archive, env)
    )
    python3 = str(host_python(work))
    results.add_floor(manager, "startup", floors.timed([python3, "-I", "-c", "pass"]))


def table(results: Results, runs: int, markdown: bool) -> None:
    header = ["app", "scenario", "phase", "ours (s)", "floor (s)", "ours/floor", "floor is"]
    rows = []
    for (manager, scenario), builds in results.builds.items():
        for row in ROWS:
            if row.scenario != scenario:
                continue
            values = [v for v in (row.ours(b) for b in builds) if v is not None]
            if not values:
                continue
            ours = statistics.median(values)
            floor = results.floors.get((manager, row.floor)) if row.floor else None
            base = statistics.median(floor) if floor else None
            ratio = f"{ours / base:.1f}x" if base else ""
            phase = row.phase
            if phase == "package manager download" and any(results.overlapped.get(manager, [])):
                phase += " (beside the runtime)"
            shown_floor = f"{base:.2f}" if base is not None else ""
            rows.append([manager, scenario, phase, f"{ours:.2f}", shown_floor, ratio, row.floor_is])
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for cells in rows:
            print("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    else:
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for cells in [header, *rows]:
            print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    print(f"\nmedians of {runs} run(s); {load()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--apps", default="pip,uv,poetry,pipenv")
    parser.add_argument("--scenarios", default="cold,unchanged")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--logs", type=Path, help="write each build's output into this directory")
    parser.add_argument("--index", choices=("loopback", "configured"), default="loopback")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/build_times.py needs root (it mounts a tmpfs on /app in a namespace)")
    unknown = {m.strip() for m in args.apps.split(",")} - set(APPS)
    unknown |= {s.strip() for s in args.scenarios.split(",")} - set(SCENARIOS)
    if unknown:
        sys.exit(f"unknown apps or scenarios: {', '.join(sorted(unknown))}")
    if args.logs is not None:
        args.logs.mkdir(parents=True, exist_ok=True)
    os.makedirs("/app", exist_ok=True)  # the mount point; its contents are never touched
    print(f"machine: {machine()}; {load()}")
    work = Path(tempfile.mkdtemp(prefix="bench-build-times-"))
    try:
        (work / "index-root").mkdir()
        results = run(args, work)
        print()
        table(results, args.runs, args.markdown)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
