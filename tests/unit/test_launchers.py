"""The scripts a kept venv's check expects (launchers) are installer's, byte for byte.

launchers tells installer's output without importing installer; these
tests hold it to the pinned installer's own functions and to what a real
install through wheel_install writes.
"""

from __future__ import annotations

import zipfile
from io import BytesIO
from pathlib import Path

import pytest
from installer.scripts import Script
from installer.utils import fix_shebang, parse_entrypoints

from buildpack.selfdeps import launchers, wheel_install
from tests.unit.wheel_factory import build_wheel

PYTHONS = [
    "/app/.heroku/python/bin/python",
    "/cache dir/.heroku/tools/poetry/venv/bin/python",  # a space: through /bin/sh
    "/" + "p" * 123,  # 127 bytes with "#!" and the newline: the longest plain shebang
    "/" + "p" * 124,  # one more: through /bin/sh
    "/tmp/it's/python",  # quoted for /bin/sh only when it must be
]


@pytest.mark.parametrize("python", PYTHONS)
@pytest.mark.parametrize(
    ("module", "attr"), [("poetry.console.application", "main"), ("tool.cli", "App.run")]
)
@pytest.mark.parametrize("section", ["console", "gui"])
def test_a_launcher_is_the_one_installer_generates(
    python: str, module: str, attr: str, section: str
) -> None:
    _, expected = Script("name", module, attr, section).generate(python, "posix")  # type: ignore[arg-type]
    assert launchers.launcher(python, module, attr) == expected


ENTRY_POINTS = """\
[console_scripts]
poetry = poetry.console.application:main
Tool-Name = tool.cli : App.run [extra1, extra2]

[gui_scripts]
tool-gui=tool.gui:start

[poetry.application.plugin]
export = poetry_plugin_export.plugins:ExportApplicationPlugin
"""


def test_entry_points_are_read_as_installer_reads_them() -> None:
    expected = [(name, module, attr) for name, module, attr, _ in parse_entrypoints(ENTRY_POINTS)]
    assert launchers.entry_points(ENTRY_POINTS) == expected
    assert [name for name, _, _ in expected] == ["poetry", "Tool-Name", "tool-gui"]


@pytest.mark.parametrize("value", ["tool.cli", "tool.cli:", ":main", "tool cli:main"])
def test_an_entry_point_installer_would_refuse_is_refused(value: str) -> None:
    with pytest.raises(launchers.Unreadable):
        launchers.entry_points(f"[console_scripts]\ntool = {value}\n")


@pytest.mark.parametrize(
    "script",
    [
        b"#!python\nimport demo\n",
        b"#!pythonw\nimport demo\n",
        b"#!python",  # no newline: nothing after the shebang
        b"#!/bin/sh\necho hi\n",
        b"",
    ],
)
def test_a_wheels_own_script_names_the_python_as_installer_makes_it(script: bytes) -> None:
    with fix_shebang(BytesIO(script), "/app/.heroku/python/bin/python") as fixed:
        expected = fixed.read()
    assert launchers.with_python(script, "/app/.heroku/python/bin/python") == expected


@pytest.mark.parametrize("python", [PYTHONS[0], PYTHONS[1]])
def test_written_is_what_an_install_writes_into_bin(tmp_path: Path, python: str) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    wheel = build_wheel(
        wheels,
        "demo",
        "1.0",
        {
            "demo/__init__.py": b"",
            "demo/cli.py": b"def main():\n    return 0\n",
            "demo-1.0.data/scripts/demo-run": b"#!python\nimport demo\n",
            "demo-1.0.data/scripts/demo-sh": b"#!/bin/sh\necho hi\n",
        },
        console_scripts={"demo": "demo.cli:main", "demo-two": "demo.cli:main"},
        gui_scripts={"demo-gui": "demo.cli:main"},
    )
    site, scripts = tmp_path / "site", tmp_path / "bin"
    site.mkdir()
    scripts.mkdir()
    wheel_install.install_into_prefix(
        wheel, site_packages=site, scripts_dir=scripts, python=python, python_minor="3.11"
    )
    installed = {path.name: path.read_bytes() for path in scripts.iterdir()}
    with zipfile.ZipFile(wheel) as zf:
        assert launchers.written(zf, python) == installed
    assert wheel_install.scripts_written(wheel, python) == installed
    assert set(installed) == {"demo", "demo-two", "demo-gui", "demo-run", "demo-sh"}
