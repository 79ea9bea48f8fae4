"""Shared fixtures for unit tests."""

from __future__ import annotations

import functools
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.unit.wheel_factory import Index, QuietHandler

# Real packages for the steps that run them (collectstatic, NLTK), pinned so
# a new release cannot change what the tests see.
APP_PACKAGES = ("Django==5.2.19", "nltk==3.10.4")


@pytest.fixture(scope="session")
def app_python_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Python home (a venv) with Django and nltk installed from the package index."""
    home = tmp_path_factory.mktemp("app-python") / "python"
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
    return home


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
