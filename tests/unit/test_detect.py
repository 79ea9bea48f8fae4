"""bin/detect: which directories count as Python apps, and the refusal message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from buildpack.cli.detect import looks_like_python_app, main, no_python_app_message
from buildpack.core.settings import buildpack_root

BIN_DETECT = buildpack_root() / "bin" / "detect"

DETECTED_FILES = [
    "requirements.txt",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "uv.lock",
    "pdm.lock",
    ".python-version",
    "runtime.txt",
    "manage.py",
    "app.py",
    "main.py",
    "server.py",
    "__init__.py",
    "requeriments.txt",
    "requirement.txt",
    "requirements",
    "requirements.text",
    "Requirements.txt",
    "requirements.txt.txt",
    "requirments.txt",
]
DETECTED_DIRS = [".venv", "venv", "__pycache__"]


@pytest.mark.parametrize("name", DETECTED_FILES)
def test_detects_file(tmp_path, name):
    (tmp_path / "README.md").write_text("hello\n")
    (tmp_path / name).write_text("")
    assert looks_like_python_app(tmp_path)


@pytest.mark.parametrize("name", DETECTED_DIRS)
def test_detects_directory(tmp_path, name):
    (tmp_path / name).mkdir()
    assert looks_like_python_app(tmp_path)


def test_empty_directory_is_not_python(tmp_path):
    assert not looks_like_python_app(tmp_path)
    text = no_python_app_message(tmp_path)
    assert "(nothing: the directory is empty)" in text


def test_other_files_are_not_python(tmp_path):
    for name in ("package.json", "index.js", "README.md", "requirements.in", "script.py"):
        (tmp_path / name).write_text("")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "requirements.txt").write_text("")
    assert not looks_like_python_app(tmp_path)


def test_missing_directory_is_not_python(tmp_path):
    assert not looks_like_python_app(tmp_path / "missing")
    assert "could not be read: No such file or directory" in no_python_app_message(
        tmp_path / "missing"
    )


def test_message_lists_the_directory_like_ls(tmp_path):
    (tmp_path / "README.md").write_text("")
    (tmp_path / ".gitignore").write_text("")
    (tmp_path / "src").mkdir()
    (tmp_path / "link-to-src").symlink_to("src")
    lines = [line.removeprefix(" !     ") for line in no_python_app_message(tmp_path).splitlines()]
    start = lines.index("The app's root directory contains:") + 1
    assert lines[start : start + 4] == ["  .gitignore", "  README.md", "  link-to-src", "  src/"]


def test_message_names_the_package_manager_files_and_the_checklist(tmp_path):
    text = no_python_app_message(tmp_path)
    for name in ("requirements.txt", "uv.lock", "poetry.lock", "Pipfile.lock"):
        assert name in text
    assert "root directory, not in a subdirectory" in text
    assert "exactly this case" in text
    assert ".gitignore" in text
    assert "committed" in text
    assert "touch requirements.txt" in text
    assert all(line.startswith(" !") for line in text.splitlines())


def test_message_caps_the_listing(tmp_path):
    for i in range(120):
        (tmp_path / f"file{i:03}.txt").write_text("")
    text = no_python_app_message(tmp_path)
    assert "file049.txt" in text and "file050.txt" not in text
    assert "... and 70 more" in text


def test_message_escapes_odd_file_names(tmp_path):
    (tmp_path / "evil\nname\x1b[2J").write_text("")
    text = no_python_app_message(tmp_path)
    assert "\x1b" not in text
    assert "evil\\nname\\x1b[2J" in text


def test_message_points_at_projects_in_subdirectories(tmp_path):
    (tmp_path / "backend").mkdir()
    (tmp_path / "backend" / "requirements.txt").write_text("")
    (tmp_path / "frontend").mkdir()
    (tmp_path / "frontend" / "package.json").write_text("")
    text = no_python_app_message(tmp_path)
    assert "backend/requirements.txt" in text
    assert "frontend/" in text and "frontend/package.json" not in text


def test_main_usage(capsys):
    assert main([]) == 2
    assert "usage: bin/detect BUILD_DIR" in capsys.readouterr().err


# --- the real script, run the way a build system runs it -----------------------------


def run_detect(build_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    # The shebang finds python3 on PATH; make sure it is a supported one.
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    return subprocess.run(
        [str(BIN_DETECT), str(build_dir)],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        check=False,
    )


def test_bin_detect_is_executable():
    assert os.access(BIN_DETECT, os.X_OK)


def test_bin_detect_passes_a_python_app(tmp_path):
    (tmp_path / "requirements.txt").write_text("")
    result = run_detect(tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "Python\n", "")


def test_bin_detect_refuses_an_empty_directory(tmp_path):
    result = run_detect(tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Error: No Python project files found." in result.stderr
    assert "Traceback" not in result.stderr


def test_bin_detect_refuses_a_missing_directory(tmp_path):
    result = run_detect(tmp_path / "missing")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_importing_detect_loads_nothing_heavy():
    # bin/detect runs on every build of every app: it must only use modules
    # the interpreter has already loaded at startup.
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); before = set(sys.modules)\n"
        "import buildpack.cli.detect\n"
        "print(' '.join(sorted(set(sys.modules) - before)))"
    )
    result = subprocess.run(
        [sys.executable, "-I", "-c", code, str(buildpack_root())],
        capture_output=True,
        text=True,
        check=True,
    )
    assert set(result.stdout.split()) <= {
        "__future__",
        "buildpack",
        "buildpack.cli",
        "buildpack.cli.detect",
    }
