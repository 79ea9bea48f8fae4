"""Running real builds from tests: bin/compile in a private mount namespace."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
BUILD_AND_RUN = ROOT / "scripts" / "build-and-run"


@dataclass
class BuildResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def log(self) -> str:
        return self.stdout + self.stderr


def require_namespaces() -> None:
    """Relocation tests need root and unshare; say why when they cannot run."""
    if os.geteuid() != 0:
        pytest.skip("relocation tests need root to mount a tmpfs on /app")
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True
    )
    if probe.returncode != 0:
        pytest.skip(f"cannot create a mount namespace: {probe.stderr.decode().strip()}")


def copy_fixture(name: str, dest: Path, *, python_version: str | None = None) -> Path:
    app = dest / name
    shutil.copytree(FIXTURES / name, app, symlinks=True)
    if python_version is not None:
        (app / ".python-version").write_text(python_version + "\n")
    return app


def build_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
    env.update({"STACK": "heroku-24", "PYTHONUNBUFFERED": "1"})
    env.update(extra)
    return env


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
    env_dir.mkdir(parents=True, exist_ok=True)
    run_env = dict(env)
    if build_dir is not None:
        run_env["BUILD_AND_RUN_BUILD_DIR"] = str(build_dir)
    proc = subprocess.run(
        [str(BUILD_AND_RUN), str(app), str(cache_dir), str(env_dir), *(command or [])],
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
