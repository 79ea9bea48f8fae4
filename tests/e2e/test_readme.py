"""Every command in the README is run by a test or by .ci/run, or checked by one.

The README's ```sh blocks are read here. The self-hosting walkthrough (pack
an installed CPython, serve the mirror, build by hand) runs as written, with
its paths and port replaced by the test's own, as root in a private mount
namespace. The demo runs as written. The commands that need Heroku, dokku or
a long CPython build are checked against what the buildpack and the tests
really do. A new command that no test knows fails the first test.
"""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.builds import ROOT, require_namespaces
from tests.support.source_runtime import BUILD_RUNTIME, build_command
from tools.runtime_archive import manifest

pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
WALKTHROUGH = ("Self-hosting runtime archives", "Running bin/compile by hand")
_FENCE = re.compile(r"^```sh\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def sh_blocks() -> list[tuple[str, list[str]]]:
    """(section, commands) for each ```sh block; continuation lines joined."""
    text = README.read_text()
    blocks = []
    for match in _FENCE.finditer(text):
        headings = re.findall(r"^## (.+)$", text[: match.start()], re.MULTILINE)
        commands = []
        for line in match[1].replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
        blocks.append((headings[-1], commands))
    return blocks


def who_runs(section: str, command: str) -> str:
    if command == "python3 scripts/demo":
        return "test_the_demo_as_written"
    if command == "bash .ci/run":
        return "CI"
    if command.startswith(("heroku ", "dokku ")):
        return "test_install_commands"
    if command.startswith("apt-get install"):
        return "test_build_dependencies_are_what_ci_installs"
    if command.startswith("tools/build-runtime "):
        return "test_build_runtime_command_is_the_one_the_suite_runs"
    if section in WALKTHROUGH:
        return "test_the_walkthrough_as_written"
    return ""


def commands(run_by: str | None = None) -> list[str]:
    """Every README command, or those ``run_by`` runs (see who_runs)."""
    return [
        cmd
        for section, cmds in sh_blocks()
        for cmd in cmds
        if run_by is None or who_runs(section, cmd) == run_by
    ]


def test_every_readme_command_is_run_or_checked() -> None:
    blocks = sh_blocks()
    assert len(blocks) >= 8, "the README's commands are in ```sh blocks"
    unknown = [(s, c) for s, cmds in blocks for c in cmds if not who_runs(s, c)]
    assert unknown == [], "README commands no test runs or checks"
    # Indented code blocks would escape this test: there must be none.
    assert not re.search(r"\n\n    [a-zA-Z./]", README.read_text()), "use ```sh blocks"


def test_install_commands() -> None:
    found = [c for c in commands() if c.startswith(("heroku ", "dokku "))]
    urls = {word for c in found for word in c.split() if word.startswith("https://github.com/")}
    assert len(urls) == 1, urls  # one address for the buildpack everywhere
    [url] = urls
    assert f"heroku buildpacks:set {url} -a myapp" in found
    assert f"dokku buildpacks:set myapp {url}" in found
    [config] = [c for c in found if c.startswith("dokku config:set")]
    name = config.split()[3].split("=")[0]
    assert name == "BUILDPACK_S3_BASE_URL"
    assert f'ctx.setting("{name}")' in (ROOT / "buildpack" / "runtime" / "runtime.py").read_text()


def test_build_dependencies_are_what_ci_installs() -> None:
    [install] = [c for c in commands() if c.startswith("apt-get install")]
    assert install == "apt-get install -y $(tools/build-runtime --print-build-deps)"
    assert "$(python3 tools/build-runtime --print-build-deps)" in (ROOT / ".ci/run").read_text()


def test_build_runtime_command_is_the_one_the_suite_runs(tmp_path: Path) -> None:
    """The suite builds its 3.13 with this command line (plus the tarball's
    checksum, which the README's local file does not need)."""
    [line] = [c for c in commands() if c.startswith("tools/build-runtime ")]
    argv = shlex.split(line)
    version, source, dest = argv[1], argv[argv.index("--source") + 1], argv[-1]
    suite = build_command(version, source, "0" * 64, dest)
    del suite[suite.index("--sha256") : suite.index("--sha256") + 2]
    assert [str(BUILD_RUNTIME), *argv[1:]] == suite
    # The arguments parse: it gets as far as looking for the tarball.
    result = subprocess.run(
        [str(BUILD_RUNTIME), *argv[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Getting the source: {source} is not a file" in result.stderr


def test_the_demo_as_written() -> None:
    require_namespaces()
    [demo] = [c for c in commands() if "scripts/demo" in c]
    result = subprocess.run(
        shlex.split(demo),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Packing the CPython in {sys.base_prefix}" in result.stdout
    assert "RESPONSE: Hello from /app/.heroku/python" in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_WAIT_FOR_SERVER = """
server=$!
trap 'kill $server' EXIT
for _ in $(seq 1 100); do
  (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && break
  sleep 0.1
done
"""


def test_the_walkthrough_as_written(tmp_path: Path, installed_313: Path) -> None:
    """Pack an installed CPython (the from-source 3.13 here), serve the mirror,
    build by hand: the README's commands, in order, with this test's paths."""
    require_namespaces()
    port = _free_port()
    replace = {
        "/opt/python3.13": str(installed_313 / "python"),
        "/srv/mirror": str(tmp_path / "mirror"),
        "/tmp/build_app": str(tmp_path / "build_app"),
        "/tmp/cache": str(tmp_path / "cache"),
        "/tmp/env": str(tmp_path / "env"),
        "8000": str(port),
    }
    lines = ["set -euo pipefail", "mount -t tmpfs -o mode=0755 tmpfs /app"]
    for command in commands("test_the_walkthrough_as_written"):
        for old, new in replace.items():
            command = command.replace(old, new)
        lines.append(f"echo '$ {command}'")
        lines.append(command)
        if command.endswith("&"):
            lines.append(_WAIT_FOR_SERVER.format(port=port))
    Path("/app").mkdir(exist_ok=True)  # a mount point; nothing is written to it
    result = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", "\n".join(lines)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        stdin=subprocess.DEVNULL,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, log
    [entry] = manifest.read(tmp_path / "mirror")
    assert entry.version.startswith("3.13.")
    assert f"Using Python {entry.version} (3.13 specified in .python-version)" in result.stdout
    assert "The mirror's runtimes.json lists Python" in result.stdout
    # The link the build leaves, printed by the README's last command.
    assert result.stdout.rstrip().endswith(str(tmp_path / "build_app/.heroku/python")), log
    assert "Traceback" not in log
