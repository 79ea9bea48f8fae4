"""Running real builds from tests: bin/compile in a private mount namespace."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
BUILD_AND_RUN = ROOT / "scripts" / "build-and-run"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class BuildResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def log(self) -> str:
        return self.stdout + self.stderr

    @property
    def plain_stderr(self) -> str:
        """stderr without the colour codes of the error and warning blocks."""
        return _ANSI.sub("", self.stderr)


def require_namespaces() -> None:
    """Relocation tests need root and unshare; say why when they cannot run.

    Under CI=true a missing precondition fails the test instead: CI must not
    pass with every end-to-end test skipped.
    """
    problem = namespace_problem()
    if problem is not None:
        cannot_run(problem)


def namespace_problem() -> str | None:
    """Why builds cannot run in a private mount namespace here, or None."""
    if os.geteuid() != 0:
        return "relocation tests need root to mount a tmpfs on /app"
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed (util-linux)"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    if probe.returncode != 0:
        return f"cannot create a mount namespace: {probe.stderr.decode().strip()}"
    return None


def cannot_run(why: str) -> None:
    """Skip the test, or fail it under CI=true."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"CI=true, and an end-to-end test cannot run: {why}", pytrace=False)
    pytest.skip(why)


# --- the python3 that bin/* run with --------------------------------------------------

# bin/compile, bin/test-compile, bin/release and bin/report start with
# `#!/usr/bin/env -S python3 -I`: the first python3 on PATH runs the buildpack.
# Builds put one of these first:
# - "pipless": a venv of the host Python made --without-pip (made once per
#   session, see use_pipless_python), like the python3 of Heroku's images.
#   Nothing the test runner installed (pip, requests, zstandard, PyYAML) can
#   leak into the build: what the buildpack needs, it must fetch.
# - "runner": the interpreter running the tests, with all of those; only for
#   tests of a host python3 that has pip, which say so.
HostPython = Literal["pipless", "runner"]
_PIPLESS_BIN: list[Path] = []
# What a pip-less python3 must not be able to import.
RUNNER_ONLY_MODULES = ("pip", "requests", "zstandard", "yaml", "urllib3")


def make_pipless_python(dest: Path) -> Path:
    """A --without-pip venv of the host Python in ``dest``; its bin directory.
    Checked: none of RUNNER_ONLY_MODULES can be imported from it."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    bin_dir = dest / "bin"
    probe = "import importlib.util as u, sys; print(*[m for m in sys.argv[1:] if u.find_spec(m)])"
    found = subprocess.run(
        [str(bin_dir / "python3"), "-I", "-c", probe, *RUNNER_ONLY_MODULES],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert found == [], f"the pip-less python3 can import {found}"
    return bin_dir


def use_pipless_python(dest: Path) -> Path:
    """Make the pip-less python3 (once per session) that build_env puts first on PATH."""
    if not _PIPLESS_BIN:
        _PIPLESS_BIN.append(make_pipless_python(dest))
    return _PIPLESS_BIN[0]


def host_python_bin(which: HostPython) -> Path:
    """The directory whose python3 bin/* will run with."""
    if which == "runner":
        return Path(sys.executable).parent
    if not _PIPLESS_BIN:
        raise RuntimeError(
            "no pip-less python3 yet: the e2e session fixture (tests/e2e/conftest.py) makes it"
        )
    return _PIPLESS_BIN[0]


def read_report(cache_dir: Path) -> dict:
    """The build report bin/compile wrote into CACHE_DIR."""
    from buildpack.core.report import REPORT_PATH

    return json.loads((cache_dir / REPORT_PATH).read_text())


def copy_fixture(name: str, dest: Path, *, python_version: str | None = None) -> Path:
    app = dest / name
    shutil.copytree(FIXTURES / name, app, symlinks=True)
    if python_version is not None:
        (app / ".python-version").write_text(python_version + "\n")
    return app


# --- the package index builds fetch from ------------------------------------------

# Builds fetch from pip's index through this session's loopback mirror of it
# (tests/support/index_proxy.py), set up by the session fixture in
# tests/conftest.py: (its simple/ URL, a directory for an empty config dir).
# - "mirror": that mirror is pip's only index (PIP_INDEX_URL, no pip config),
#   so a cold build does not wait on the network for what an earlier test's
#   build fetched already.
# - "configured": the machine's own pip settings (its index, extra indexes,
#   find-links, certificate), for tests of how a build reads them.
IndexChoice = Literal["mirror", "configured"]
_INDEX_MIRROR: list[tuple[str, Path]] = []


def use_index_mirror(simple_url: str, work: Path) -> None:
    _INDEX_MIRROR[:] = [(simple_url, work)]


def build_env(
    *, host_python: HostPython = "pipless", index: IndexChoice = "mirror", **extra: str
) -> dict[str, str]:
    """The environment of a build: the runner's, with ``host_python``'s python3
    first on PATH (see HostPython), the heroku-24 stack, pip's ``index`` (see
    IndexChoice), and ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    env.pop("VIRTUAL_ENV", None)
    env.update({"STACK": "heroku-24", "PYTHONUNBUFFERED": "1"})
    env["PATH"] = f"{host_python_bin(host_python)}{os.pathsep}{env.get('PATH', os.defpath)}"
    if index == "mirror" and _INDEX_MIRROR:
        from tests.support.loopback_index import only_this_index

        env = only_this_index(env, *_INDEX_MIRROR[0])
    env.update(extra)
    return env


def run_bin(
    script: str, *args: str | Path, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """bin/<script> through its shebang, as the platform runs it: with the
    python3 that ``env`` puts first on PATH (see build_env)."""
    return subprocess.run(
        [str(ROOT / "bin" / script), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def bin_report(cache_dir: Path, *, env: dict[str, str] | None = None) -> dict:
    """bin/report's YAML for the last build in ``cache_dir``, parsed."""
    import yaml

    result = run_bin("report", "build", cache_dir, "env", env=env or build_env())
    assert result.returncode == 0 and result.stderr == "", result
    return yaml.safe_load(result.stdout)


def _invocation(
    app: Path,
    cache_dir: Path,
    env_dir: Path,
    env: dict[str, str],
    command: list[str] | None,
    build_dir: Path | None,
) -> tuple[list[str], dict[str, str]]:
    """The scripts/build-and-run command line and environment for one build."""
    env_dir.mkdir(parents=True, exist_ok=True)
    run_env = dict(env)
    if build_dir is not None:
        run_env["BUILD_AND_RUN_BUILD_DIR"] = str(build_dir)
    argv = [str(BUILD_AND_RUN), str(app), str(cache_dir), str(env_dir), *(command or [])]
    return argv, run_env


def build_and_run(
    app: Path,
    cache_dir: Path,
    env_dir: Path,
    *,
    env: dict[str, str],
    command: list[str] | None = None,
    build_dir: Path | None = None,
    timeout: float = 600,
) -> BuildResult:
    """scripts/build-and-run: detect, compile, relocate to /app, run ``command``."""
    argv, run_env = _invocation(app, cache_dir, env_dir, env, command, build_dir)
    proc = subprocess.run(
        argv,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return BuildResult(proc.returncode, proc.stdout, proc.stderr)


def compile_only(
    app: Path,
    cache_dir: Path,
    env_dir: Path,
    *,
    env: dict[str, str],
    timeout: float = 600,
) -> BuildResult:
    """bin/compile in a namespace (so /app is private), without relocating."""
    return build_and_run(app, cache_dir, env_dir, env=env, command=["true"], timeout=timeout)


def assert_clean_failure(result: BuildResult, reason_text: str) -> None:
    assert result.returncode != 0, result.log
    assert "Traceback" not in result.log, result.log
    assert " !     Error: " in result.stderr, result.log
    assert reason_text in result.stderr, result.log
    assert_random_build_dir_removed(result)


def announced_build_dir(result: BuildResult) -> str | None:
    """The build directory build-and-run announced ("=== compile DIR"), if it got that far."""
    found = re.search(r"^=== compile (\S+)$", result.stdout, re.MULTILINE)
    return found.group(1) if found else None


def is_random_build_dir(path: str) -> bool:
    """Whether ``path`` is one build-and-run made itself (mktemp's /tmp/build_XXXXXXXXXX)."""
    return re.fullmatch(r"/tmp/build_\w{10}", path) is not None


def assert_random_build_dir_removed(result: BuildResult) -> None:
    """A build directory build-and-run made itself is gone, even after a failure."""
    announced = announced_build_dir(result)
    if announced is not None and is_random_build_dir(announced):
        assert not os.path.lexists(announced), f"{announced} was left behind\n{result.log}"


# --- builds that a test interrupts --------------------------------------------------


class RunningBuild:
    """scripts/build-and-run started in its own session, watched line by line.

    The test waits for a step line (and whatever else shows the build is in
    the phase it wants), then signals bin/compile alone (as a build system's
    SIGTERM does) or kills the whole session (as a container kill does).
    """

    def __init__(self, popen: subprocess.Popen[str]) -> None:
        self.popen = popen
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(popen.stdout, self._stdout), daemon=True),
            threading.Thread(target=self._read, args=(popen.stderr, self._stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str] | None, lines: list[str]) -> None:
        assert stream is not None
        for line in stream:
            lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self._stdout) + "".join(self._stderr)

    def saw(self, text: str) -> bool:
        return any(text in line for line in list(self._stdout))

    def wait_until(self, condition: Callable[[], bool], what: str, *, timeout: float = 300) -> None:
        """Poll ``condition``; fail the test if the build ends (or hangs) first.

        The timeout is a safety net against a hung test, not a measurement.
        """
        deadline = time.monotonic() + timeout
        while not condition():
            if self.popen.poll() is not None:
                pytest.fail(f"the build ended before {what}:\n{self.log}")
            if time.monotonic() > deadline:
                self.kill_all()
                pytest.fail(f"gave up waiting for {what}:\n{self.log}")
            time.sleep(0.02)

    def compile_pid(self) -> int:
        """The bin/compile process (the Python running the buildpack)."""
        found = [
            pid
            for pid in _descendants(self.popen.pid)
            if "bin/compile" in " ".join(_cmdline(pid)[:3])
        ]
        # Not a child the buildpack forked (core.forked): it has the same
        # command line as its parent, and the build does not answer for it.
        found = [pid for pid in found if not _forked_from(_parent(pid), pid)]
        if not found:
            pytest.fail(f"no bin/compile process under {self.popen.pid}:\n{self.log}")
        return found[-1]

    def running(self, program: str) -> bool:
        """Whether a process of ``program`` (its file name) runs in the build now."""
        return any(
            Path(cmd[0]).name == program
            for cmd in map(_cmdline, _descendants(self.popen.pid))
            if cmd
        )

    def signal_compile(self, signum: int) -> None:
        os.kill(self.compile_pid(), signum)

    def kill_all(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def finish(self, timeout: float = 300) -> BuildResult:
        try:
            returncode = self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_all()
            returncode = self.popen.wait()
        for reader in self._readers:
            reader.join(timeout=10)
        return BuildResult(returncode, "".join(self._stdout), "".join(self._stderr))

    def survivors(self) -> list[str]:
        """Processes still running in the build's session, as 'pid cmdline'.

        Zombies (state Z) and processes in the middle of exiting (no command
        line any more) are dead already, merely not yet reaped.
        """
        found = []
        for pid in _all_pids():
            fields = _stat_fields(pid)
            if fields[3:4] == [str(self.popen.pid)] and fields[0] != "Z":
                cmdline = _cmdline(pid)
                if cmdline:
                    found.append(f"{pid} {' '.join(cmdline)}")
        return found


def start_build(
    app: Path,
    cache_dir: Path,
    env_dir: Path,
    *,
    env: dict[str, str],
    command: list[str] | None = None,
    build_dir: Path | None = None,
) -> RunningBuild:
    """Like build_and_run, but returns at once with the running build."""
    argv, run_env = _invocation(app, cache_dir, env_dir, env, command, build_dir)
    popen = subprocess.Popen(
        argv,
        env=run_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        # Its own session: the test can kill every process of the build at once,
        # and find any the build left running.
        start_new_session=True,
    )
    return RunningBuild(popen)


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _stat_fields(pid: int) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, pgrp, session, ..."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return []
    return text[text.rfind(")") + 2 :].split()


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def _parent(pid: int) -> int:
    fields = _stat_fields(pid)
    return int(fields[1]) if len(fields) > 1 else 0


def _forked_from(parent: int, pid: int) -> bool:
    return parent > 0 and _cmdline(parent) == _cmdline(pid) != []


def _descendants(root: int) -> list[int]:
    """Every process below ``root``, parents before children."""
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(pid)
    found: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop(0)
        for child in sorted(children.get(pid, [])):
            found.append(child)
            todo.append(child)
    return found
