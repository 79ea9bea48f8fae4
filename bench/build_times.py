"""Time bin/compile on the example apps: cold, unchanged rebuild, one-line change.

    sudo python3 bench/build_times.py [--runs N] [--apps pip,uv,poetry,pipenv] [--markdown]
                                      [--index loopback|configured] [--logs DIR]

For each example app in tests/fixtures (pip_app, and uv_app, poetry_app,
pipenv_app when they exist), each run builds with a fresh CACHE_DIR:

- cold: empty cache, so it includes the buildpack's own bootstrap, the
  runtime download, the package manager and every dependency;
- unchanged: the same app again on that cache;
- changed: the app with one more dependency line (requirements.txt, or
  pyproject.toml / Pipfile re-locked), on that cache.

The runtime comes from a loopback HTTP mirror serving this interpreter's own
installation packed as a runtime archive (tools/runtime_archive), so the
apps get this interpreter's version. With --index loopback (the default),
what pip fetches (pip itself, the buildpack's own dependencies, the package
managers, the pip app's requirements) comes from a loopback simple index,
filled once with `pip download` and used with no pip config file of the
machine's, so the figures measure the buildpack rather than the internet;
with --index configured it comes from pip's configured index. uv, Poetry and
Pipenv apps install their locked dependencies from the index in their
lockfiles either way, and Pipenv builds always use the configured index
(Pipfile.lock's hash covers pip's index settings at lock time). Lockfiles
are made with the real tools (tests/support/lockfiles.py), since they record
the index address and are never committed.

Each build is bin/compile alone, as a build system runs it: the app is
copied to a fresh /tmp/build_*, then compile runs in a private mount
namespace with a tmpfs on /app (the host's /app is not touched); the wall
time is that process's, from start to exit. Per phase it reports the
*_duration fields of the build report. Prints medians over the runs and the
issue's targets. Needs root and unshare(1).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.runtime_archive.pack import pack_runtime  # noqa: E402

COMPILE = ROOT / "bin" / "compile"
FIXTURES = ROOT / "tests" / "fixtures"
APPS = {"pip": "pip_app", "uv": "uv_app", "poetry": "poetry_app", "pipenv": "pipenv_app"}
SCENARIOS = ("cold", "unchanged", "changed")
# From issue 7: seconds of wall time.
TARGETS = {
    ("pip", "unchanged"): 1.0,
    ("uv", "unchanged"): 1.5,
    ("poetry", "unchanged"): 1.5,
    ("pipenv", "unchanged"): 1.5,
    ("pip", "cold"): 4.0,
}
PHASES = (
    "cache_restore",
    "python_install",
    "package_manager_install",
    "pip_download",
    "dependencies_install",
    "pip_bytecode_wait",
    "buildpack_dependencies",
    "cache_save",
    "total",
)
EXTRA_DEPENDENCY = "six==1.17.0"


@dataclass
class Sample:
    wall: float
    phases: dict[str, float]
    status: str


@dataclass
class Results:
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)

    def add(self, app: str, scenario: str, sample: Sample) -> None:
        self.samples.setdefault((app, scenario), []).append(sample)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def serve(directory: Path) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(directory)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory} RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def prepare_apps(work: Path, managers: list[str], version: str) -> dict[str, tuple[Path, Path]]:
    """(base, changed) app dirs per manager, with lockfiles where needed."""
    from tests.support.builds import copy_fixture
    from tests.support.lockfiles import LockedApps, make_lock_stale

    locked = LockedApps(work / "locked", version)
    apps: dict[str, tuple[Path, Path]] = {}
    for manager in managers:
        fixture = APPS[manager]
        if not (FIXTURES / fixture).is_dir():
            print(f"skipping {manager}: no tests/fixtures/{fixture}")
            continue
        print(f"preparing {manager} ({fixture})...", flush=True)
        if manager == "pip":
            base = copy_fixture(fixture, work / "base", python_version=version)
            changed = copy_fixture(fixture, work / "changed", python_version=version)
            with open(changed / "requirements.txt", "a") as f:
                f.write(EXTRA_DEPENDENCY + "\n")
        else:
            base = locked.app(fixture, work / "base", manager)
            changed_dir = work / "changed"
            changed = locked._prepared(fixture, changed_dir, manager)
            make_lock_stale(changed, manager)
            locked._lock(changed, manager, locked.settings.tools[manager])
        apps[manager] = (base, changed)
    return apps


def build_env(mirror: str, home: Path, index: str | None, work: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    env.update(
        {
            "STACK": "heroku-24",
            "PYTHONUNBUFFERED": "1",
            "BUILDPACK_S3_BASE_URL": mirror,
            "HOME": str(home),
        }
    )
    if index is not None:
        # Only the loopback index: no pip config file of this machine's
        # (its find-links and extra indexes), no user config.
        for name in [k for k in env if k.startswith("PIP_") and k != "PIP_DEFAULT_TIMEOUT"]:
            del env[name]
        no_config = work / "no-pip-config"
        no_config.mkdir(exist_ok=True)
        env.update(PIP_INDEX_URL=index, PIP_CONFIG_FILE=os.devnull, XDG_CONFIG_DIRS=str(no_config))
    return env


def loopback_index(work: Path, requirements: list[str]) -> Path:
    """A PEP 503 simple index of every wheel ``requirements`` need, made with
    ``pip download`` from pip's configured index, to serve on loopback."""
    root = work / "index"
    files = root / "files"
    files.mkdir(parents=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            "--dest",
            str(files),
            *requirements,
        ],
        check=True,
    )
    projects: dict[str, list[Path]] = {}
    for wheel in sorted(files.glob("*.whl")):
        name = re.sub(r"[-_.]+", "-", wheel.name.split("-", 1)[0]).lower()
        projects.setdefault(name, []).append(wheel)
    for name, wheels in projects.items():
        page = root / "simple" / name / "index.html"
        page.parent.mkdir(parents=True)
        links = "".join(
            f'<a href="../../files/{w.name}#sha256={hashlib.sha256(w.read_bytes()).hexdigest()}">'
            f"{w.name}</a><br/>\n"
            for w in wheels
        )
        page.write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    return root


def index_requirements(managers: list[str]) -> list[str]:
    """What the builds fetch through pip's index: pip, the buildpack's own
    dependencies, the package managers pip installs, the pip app's needs."""
    from buildpack.core.settings import Settings
    from buildpack.selfdeps.bootstrap import read_pins, requirements

    settings = Settings.load(ROOT / "buildpack.toml")
    reqs = [f"pip=={settings.tools['pip']}", *requirements(read_pins(ROOT / "buildpack.toml"))]
    # Preinstalled for pip and Pipenv apps on Python 3.10-3.12.
    reqs.append(f"setuptools=={settings.tools['setuptools']}")
    reqs += [f"{m}=={settings.tools[m]}" for m in managers if m != "pip"]
    reqs += (FIXTURES / APPS["pip"] / "requirements.txt").read_text().split()
    return [*reqs, EXTRA_DEPENDENCY]


def compile_once(
    app: Path, cache: Path, env_dir: Path, env: dict[str, str], log: Path | None = None
) -> Sample:
    build = Path(tempfile.mkdtemp(prefix="build_", dir="/tmp"))
    try:
        shutil.copytree(app, build, symlinks=True, dirs_exist_ok=True)
        (cache / "build-data" / "python.json").unlink(missing_ok=True)
        script = 'mount -t tmpfs -o mode=0755 tmpfs /app && exec "$@"'
        args = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script]
        start = time.perf_counter()
        proc = subprocess.run(
            [*args, "bench", str(COMPILE), str(build), str(cache), str(env_dir)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - start
        if log is not None:
            log.write_text(proc.stdout + proc.stderr)
    finally:
        shutil.rmtree(build, ignore_errors=True)
    if proc.returncode != 0:
        sys.exit(f"bin/compile failed for {app}:\n{proc.stdout}{proc.stderr}")
    fields = json.loads((cache / "build-data" / "python.json").read_text())
    phases = {
        phase: float(fields.get(f"{phase}_duration", 0.0))
        for phase in PHASES
        if f"{phase}_duration" in fields
    }
    return Sample(wall, phases, str(fields.get("cache_status", "?")))


def run(
    apps: dict[str, tuple[Path, Path]],
    runs: int,
    envs: dict[str, dict[str, str]],
    work: Path,
    logs: Path | None = None,
) -> Results:
    results = Results()
    env_dir = work / "env"
    env_dir.mkdir(exist_ok=True)
    for manager, (base, changed) in apps.items():
        for i in range(runs):
            cache = work / f"cache-{manager}-{i}"
            shutil.rmtree(cache, ignore_errors=True)
            for scenario, app in (("cold", base), ("unchanged", base), ("changed", changed)):
                log = None if logs is None else logs / f"{manager}-{i + 1}-{scenario}.log"
                sample = compile_once(app, cache, env_dir, envs[manager], log)
                results.add(manager, scenario, sample)
                print(
                    f"  {manager:<7} run {i + 1}/{runs} {scenario:<9} {sample.wall:6.2f} s "
                    f"(cache {sample.status})",
                    flush=True,
                )
            shutil.rmtree(cache, ignore_errors=True)
    return results


def report(results: Results, runs: int, markdown: bool) -> bool:
    ok = True
    header = ["app", "scenario", "median wall", "min", "max", *PHASES, "outside", "target"]
    rows = []
    for (manager, scenario), samples in results.samples.items():
        walls = [s.wall for s in samples]
        median = statistics.median(walls)
        target = TARGETS.get((manager, scenario))
        verdict = ""
        if target is not None:
            good = median <= target
            ok = ok and good
            verdict = f"<= {target:.1f} s {'OK' if good else 'OVER'}"
        phase_cells = []
        for phase in PHASES:
            values = [s.phases[phase] for s in samples if phase in s.phases]
            phase_cells.append(f"{statistics.median(values):.2f}" if values else "-")
        # Before compile_app's clock starts: interpreter start-up and the
        # buildpack's own dependency bootstrap (cold builds only).
        outside = [s.wall - s.phases["total"] for s in samples if "total" in s.phases]
        phase_cells.append(f"{statistics.median(outside):.2f}" if outside else "-")
        rows.append(
            [
                manager,
                scenario,
                f"{median:.2f} s",
                f"{min(walls):.2f}",
                f"{max(walls):.2f}",
                *phase_cells,
                verdict,
            ]
        )
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    print(
        f"\nmedians of {runs} run(s); phases are the build report's *_duration fields (s); "
        "'outside' is wall minus total: interpreter start-up and, when cold, the "
        "buildpack's own dependency bootstrap"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--apps", default="pip,uv,poetry,pipenv")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--logs", type=Path, help="write each build's output into this directory")
    parser.add_argument(
        "--index",
        choices=("loopback", "configured"),
        default="loopback",
        help="where pip fetches from: a loopback copy of what the builds need (default), "
        "or the index pip is configured with on this machine",
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/build_times.py needs root (it mounts a tmpfs on /app in a namespace)")
    managers = [m.strip() for m in args.apps.split(",") if m.strip()]
    unknown = set(managers) - set(APPS)
    if unknown:
        sys.exit(f"unknown apps: {', '.join(sorted(unknown))}")
    os.makedirs("/app", exist_ok=True)  # the mount point; its contents are never touched

    print(f"machine: {machine()}")
    work = Path(tempfile.mkdtemp(prefix="bench-build-times-"))
    try:
        version = ".".join(map(str, sys.version_info[:3]))
        mirror_dir = work / "mirror"
        mirror_dir.mkdir()
        print(f"packing this interpreter as the Python {version} runtime...", flush=True)
        pack_runtime(Path(sys.base_prefix), mirror_dir, version=version)
        server, url = serve(mirror_dir)
        servers = [server]
        try:
            index_url = None
            if args.index == "loopback":
                print("copying what the builds need into a loopback package index...", flush=True)
                index_server, index_root = serve(loopback_index(work, index_requirements(managers)))
                servers.append(index_server)
                index_url = f"{index_root}/simple/"
            apps = prepare_apps(work, managers, version)
            home = work / "locked" / "home"
            # Pipfile.lock's hash covers pip's index settings: Pipenv builds
            # keep those it was locked with, the configured ones.
            envs = {
                manager: build_env(url, home, None if manager == "pipenv" else index_url, work)
                for manager in apps
            }
            if args.logs is not None:
                args.logs.mkdir(parents=True, exist_ok=True)
            results = run(apps, args.runs, envs, work, args.logs)
        finally:
            for each in servers:
                each.shutdown()
        print()
        ok = report(results, args.runs, args.markdown)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
