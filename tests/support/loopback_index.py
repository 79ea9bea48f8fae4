"""A PEP 503 package index on loopback, filled from pip's configured index.

``make_index`` copies, with ``pip download``, every wheel some requirements
need into ``ROOT/files`` and writes ``ROOT/simple/<project>/index.html``
pages linking to them with sha256 fragments (and ``ROOT/simple-nohash``
without). Served by a FaultServer, a build fetches from it exactly as from
a real index, and the test sees every request (``FaultServer.hits``).

``only_this_index`` is the environment for a build that may use this index
and nothing else: none of the machine's pip config files or PIP_* variables
(their extra indexes and find-links).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from buildpack.core.settings import Settings, buildpack_root
from buildpack.package_managers import tool_lock
from buildpack.selfdeps.bootstrap import read_pins, requirements
from buildpack.selfdeps.wheel_choice import Interpreter
from buildpack.selfdeps.wheel_lock import this_environment
from tests.support import pure_wheel_files

TOML = buildpack_root() / "buildpack.toml"
FIXTURES = buildpack_root() / "tests" / "fixtures"


def project_of(wheel_name: str) -> str:
    return re.sub(r"[-_.]+", "-", wheel_name.split("-", 1)[0]).lower()


def build_requirements(*tools: str) -> list[str]:
    """What a pip_app build fetches (the pinned pip, the buildpack's own
    libraries, the app's requirements), and each of ``tools`` at its pin."""
    pins = Settings.load(TOML).tools
    wanted = [f"pip=={pins['pip']}", *requirements(read_pins(TOML))]
    # Preinstalled for pip and Pipenv apps on Python 3.10-3.12.
    wanted.append(f"setuptools=={pins['setuptools']}")
    wanted += (FIXTURES / "pip_app" / "requirements.txt").read_text().split()
    return wanted + [f"{tool}=={pins[tool]}" for tool in tools]


def locked_requirements(*tools: str) -> list[str]:
    """Each package of the tools' locks (tool-locks.json) for this interpreter."""
    pins = Settings.load(TOML).tools
    lock = tool_lock.load(tool_lock.lock_path(buildpack_root()))
    return [
        f"{f.project}=={f.version}"
        for tool in tools
        for f in tool_lock.files_for(
            lock, tool, pins[tool], this_environment(), Interpreter.running()
        )
    ]


def make_index(
    root: Path, wanted: list[str], exact: Sequence[str] = (), *, source: str | None = None
) -> Path:
    """Download the wheels ``wanted`` needs, and the ``exact`` ones without
    their dependencies, into ``root`` and index them: from the index at
    ``source`` alone, else from the one pip is set up to use."""
    files = root / "files"
    env = None if source is None else only_this_index(dict(os.environ), source, root)
    download = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:"]
    subprocess.run([*download, "-d", files, *wanted], check=True, env=env)
    if exact:
        subprocess.run([*download, "--no-deps", "-d", files, *exact], check=True, env=env)
    pure_wheel_files.download(files, env)  # the PyPA wheels, as the lock names them
    add_pages(root)
    return root


def add_pages(root: Path) -> None:
    """(Re)write the simple/ and simple-nohash/ pages for ``root/files``."""
    pages: dict[str, list[str]] = {}
    for wheel in sorted((root / "files").glob("*.whl")):
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        pages.setdefault(project_of(wheel.name), []).append(f"{wheel.name}#sha256={digest}")
    for project, links in pages.items():
        for tree, keep_hash in (("simple", True), ("simple-nohash", False)):
            page = root / tree / project / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            anchors = [
                f'<a href="../../files/{link if keep_hash else link.split("#")[0]}">'
                f"{link.split('#')[0]}</a>"
                for link in links
            ]
            page.write_text("\n".join(anchors) + "\n")


def only_this_index(env: dict[str, str], index_url: str, work: Path) -> dict[str, str]:
    """``env`` with ``index_url`` as pip's only index and no pip config."""
    env = {k: v for k, v in env.items() if not k.startswith("PIP_")}
    no_config = work / "no-pip-config"
    no_config.mkdir(parents=True, exist_ok=True)
    env.update(
        PIP_INDEX_URL=index_url,
        PIP_CONFIG_FILE=os.devnull,
        XDG_CONFIG_DIRS=str(no_config),
    )
    return env
