"""The bench's surroundings: the machine, the servers, the apps, one build."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COMPILE = ROOT / "bin" / "compile"
FIXTURES = ROOT / "tests" / "fixtures"
APPS = {"pip": "pip_app", "uv": "uv_app", "poetry": "poetry_app", "pipenv": "pipenv_app"}
EXTRA_DEPENDENCY = "six==1.17.0"


@dataclass
class Build:
    wall: float
    fields: dict[str, object]

    def phase(self, name: str) -> float | None:
        value = self.fields.get(f"{name}_duration")
        return float(value) if isinstance(value, (int, float)) else None


def machine() -> str:
    cpu = "unknown CPU"
    memory = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {memory} RAM, Linux {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def index_requirements(managers: list[str]) -> tuple[list[str], list[str]]:
    """What the builds fetch through pip's index (with dependencies), and the
    tools' locked files (exactly, for this interpreter)."""
    from tests.support.loopback_index import build_requirements, locked_requirements

    tools = [m for m in managers if m != "pip"]
    wanted = [*build_requirements(*tools), EXTRA_DEPENDENCY, "iniconfig==2.1.0"]
    locked = [m for m in managers if m in ("poetry", "pipenv")]
    return wanted, locked_requirements(*locked) if locked else []


def prepare_apps(
    work: Path, managers: list[str], version: str, index_url: str | None
) -> tuple[dict[str, tuple[Path, Path]], Path]:
    """(base, changed) app dirs per manager with lockfiles made by the real
    tools (against ``index_url`` when given), and the HOME they were made with."""
    from tests.support.builds import copy_fixture
    from tests.support.lockfiles import LockedApps, make_lock_stale

    locked = LockedApps(work / "locked", version, index_url=index_url)
    apps: dict[str, tuple[Path, Path]] = {}
    for manager in managers:
        fixture = APPS[manager]
        print(f"preparing {manager} ({fixture})...", flush=True)
        if manager == "pip":
            base = copy_fixture(fixture, work / "base", python_version=version)
            changed = copy_fixture(fixture, work / "changed", python_version=version)
            with open(changed / "requirements.txt", "a") as f:
                f.write(EXTRA_DEPENDENCY + "\n")
        else:
            base = locked.app(fixture, work / "base", manager)
            changed = locked._prepared(fixture, work / "changed", manager)
            make_lock_stale(changed, manager)
            locked._lock(changed, manager, locked.settings.tools[manager])
        apps[manager] = (base, changed)
    return apps, locked.home


def build_env(mirror: str, home: Path, index: str | None, work: Path) -> dict[str, str]:
    from tests.support.loopback_index import only_this_index

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    env.update(STACK="heroku-24", PYTHONUNBUFFERED="1", BUILDPACK_S3_BASE_URL=mirror)
    env["HOME"] = str(home)
    env["PATH"] = f"{host_python(work).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
    if index is not None:
        # Only the loopback index: none of this machine's pip config.
        env = only_this_index(env, index, work)
    return env


def host_python(work: Path) -> Path:
    """The python3 that runs bin/compile: a venv of this interpreter without
    pip, made once in ``work``, as the end-to-end tests use (see
    tests/support/builds.py) and like the python3 of Heroku's images. Not
    this interpreter's own: a version manager's shim before it (pyenv's is
    a bash script) and the packages in its site-packages (a .pth file
    there may import some at every start) are not a build host's."""
    from tests.support.builds import make_pipless_python

    venv = work / "host-python"
    if not venv.exists():
        make_pipless_python(venv)
    return venv / "bin" / "python3"


def compile_once(
    app: Path, cache: Path, env_dir: Path, env: dict[str, str], log: Path | None = None
) -> Build:
    """bin/compile alone on a fresh copy of ``app``, as a build system runs
    it: in a private mount namespace with a tmpfs on /app."""
    build = Path(tempfile.mkdtemp(prefix="build_", dir="/tmp"))
    try:
        shutil.copytree(app, build, symlinks=True, dirs_exist_ok=True)
        (cache / "build-data" / "python.json").unlink(missing_ok=True)
        script = 'mount -t tmpfs -o mode=0755 tmpfs /app && exec "$@"'
        args = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script]
        # Not timed: the copy and earlier builds written out first (see
        # floors.settle_disk), so that no build pays for the one before it.
        os.sync()
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
    return Build(wall, json.loads((cache / "build-data" / "python.json").read_text()))
