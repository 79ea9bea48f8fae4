"""scripts/demo run by Debian's own python3, which cannot be packed (it
leaves out the pip wheel CPython bundles): it packs another CPython the
machine has, or says what to install."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.support.builds import ROOT

pytestmark = pytest.mark.e2e

SYSTEM_PYTHON = Path("/usr/bin/python3")


def run_demo(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    if not SYSTEM_PYTHON.exists():
        pytest.skip("this machine has no system python3")
    return subprocess.run(
        [str(SYSTEM_PYTHON), str(ROOT / "scripts/demo"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        stdin=subprocess.DEVNULL,
    )


def test_with_nothing_packable_it_says_what_to_install(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    env = dict(
        os.environ,
        HOME=str(empty),
        PYENV_ROOT=str(empty / "pyenv"),
        UV_PYTHON_INSTALL_DIR=str(empty / "uv"),
    )
    result = run_demo(env)
    assert result.returncode == 1
    assert "no CPython on this machine can be packed" in result.stderr
    assert "  /usr: no pip wheel in ensurepip/_bundled" in result.stderr
    assert "pyenv install 3.13" in result.stderr
    assert "tools/build-runtime" in result.stderr
    assert "Traceback" not in result.stderr


def test_it_packs_another_cpython_the_machine_has(tmp_path: Path) -> None:
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    if not (pyenv / "versions").is_dir():
        pytest.skip("this machine has no pyenv installations")
    # An app that bin/detect refuses: the demo stops right after packing.
    not_an_app = tmp_path / "not-an-app"
    not_an_app.mkdir()
    result = run_demo(dict(os.environ), "--app", str(not_an_app))
    assert f"Packing the CPython in {pyenv}/versions/3." in result.stdout, result.stderr
    assert "=== detect" in result.stdout
    assert "Traceback" not in result.stderr
