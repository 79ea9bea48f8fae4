"""Shared fixtures for unit tests."""

from __future__ import annotations

import functools
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.support import pure_wheel_files as pure_wheel_files_module
from tests.support import shared
from tests.unit.wheel_factory import Index, QuietHandler

# Real packages for the steps that run them (collectstatic, NLTK), pinned so
# a new release cannot change what the tests see.
APP_PACKAGES = ("Django==5.2.19", "nltk==3.10.4")


@pytest.fixture(scope="session")
def app_python_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python home (a venv) with Django and nltk installed from the package index."""
    return shared.made_once(tmp_path_factory, "app-python", _install_app_packages) / "python"


def _install_app_packages(root: Path) -> None:
    home = root / "python"
    subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
    install = subprocess.run(
        [
            str(home / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-input",
            "--disable-pip-version-check",
            *APP_PACKAGES,
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    if install.returncode != 0:
        pytest.fail(
            "could not install the test app's packages:\n" + install.stdout + install.stderr
        )


@pytest.fixture
def index(tmp_path: Path) -> Iterator[Index]:
    root = tmp_path / "index"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield Index(root, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def pure_wheel_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """project -> the real pinned packaging/installer/tomli wheel, from the index."""
    return pure_wheel_files_module.download(tmp_path_factory.mktemp("pure-wheels"))


@pytest.fixture
def pure_index(index: Index, pure_wheel_files: dict[str, Path]) -> Index:
    """The loopback index, serving the PyPA wheels buildpack.toml pins."""
    for project, wheel in pure_wheel_files.items():
        copy = index.files / wheel.name
        shutil.copyfile(wheel, copy)
        index.publish(project, [copy])
    return index
