"""bin/detect: does a directory look like a Python project?

The test is deliberately generous: anything that hints at Python passes, so
that bin/compile, which can say exactly what is missing, gets to explain it.
A refusal here only tells the user "not a Python app".

Standard library only, and only modules Python has already imported at
startup (os, sys), because every build on the platform runs this script.
"""

from __future__ import annotations

import os
import sys

# Not typing.TYPE_CHECKING: importing typing costs startup time on every build.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

# Names at the root of the app that mark a Python project. Type is not checked
# (a `requirements/` directory of requirement files counts too): detection only
# needs a hint, and a stat call per name would cost time on every build.
MARKERS = frozenset(
    {
        # Package managers and their lock files.
        "requirements.txt",
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "Pipfile",
        "Pipfile.lock",
        "poetry.lock",
        "uv.lock",
        "pdm.lock",
        # Version files.
        ".python-version",
        "runtime.txt",
        # Common entry points of apps with no packaging at all.
        "manage.py",
        "app.py",
        "main.py",
        "server.py",
        "__init__.py",
        # Misspellings of requirements.txt, so compile can point them out.
        "requeriments.txt",
        "requirement.txt",
        "requirements",
        "requirements.text",
        "Requirements.txt",
        "requirements.txt.txt",
        "requirments.txt",
        # Committed environments and bytecode.
        ".venv",
        "venv",
        "__pycache__",
    }
)

# The files bin/compile uses to choose a package manager, with the tool each one means.
PACKAGE_MANAGER_FILES = (
    ("requirements.txt", "pip"),
    ("uv.lock", "uv"),
    ("poetry.lock", "Poetry"),
    ("Pipfile.lock", "Pipenv"),
)

MAX_LISTED_ENTRIES = 50
BANG = " !     "


def looks_like_python_app(app_dir: Path | str) -> bool:
    try:
        names = os.listdir(app_dir)
    except OSError:
        return False
    return not MARKERS.isdisjoint(names)


def no_python_app_message(app_dir: Path | str) -> str:
    """The error text for a directory without Python project files."""
    lines = [
        "Error: No Python project files found.",
        "",
        "The Python buildpack ran for this app, but the app's root directory has",
        "none of the files that mark a Python project. A Python app needs one of",
        "these at its root; it also tells the buildpack which installer to use:",
        "",
    ]
    width = max(len(name) for name, _ in PACKAGE_MANAGER_FILES)
    lines += [f"  {name.ljust(width)}  ({tool})" for name, tool in PACKAGE_MANAGER_FILES]
    lines += ["", "The app's root directory contains:"]
    entries, problem = _list_dir(app_dir)
    if problem:
        lines.append(f"  (could not be read: {problem})")
    elif not entries:
        lines.append("  (nothing: the directory is empty)")
    else:
        shown = entries[:MAX_LISTED_ENTRIES]
        lines += [f"  {_printable(name)}{'/' if is_dir else ''}" for name, is_dir in shown]
        if len(entries) > len(shown):
            lines.append(f"  ... and {len(entries) - len(shown)} more")
    nested = _nested_project_dirs(app_dir, entries)
    if nested:
        lines += [
            "",
            "These subdirectories contain a package manager file:",
            *(f"  {_printable(path)}" for path in nested),
            "The buildpack only looks at the root. If one of them is the app, deploy",
            "that directory as the root of the app.",
        ]
    lines += [
        "",
        "Check that:",
        "- the file is in the root directory, not in a subdirectory;",
        "- its name has exactly this case (requirements.txt, not Requirements.TXT);",
        "- it is not excluded by .gitignore (see: git check-ignore -v requirements.txt);",
        "- it has been committed (git add requirements.txt && git commit) before deploying.",
        "",
        "Tip: an app without dependencies only needs an empty requirements.txt:",
        "  touch requirements.txt",
        "",
        "Using uv? Run 'uv lock' and commit uv.lock together with .python-version.",
        "If this app is not written in Python, use the buildpack for its language.",
    ]
    return "\n".join((BANG + line).rstrip() for line in lines)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: bin/detect BUILD_DIR", file=sys.stderr)
        return 2
    app_dir = argv[0]
    if looks_like_python_app(app_dir):
        print("Python")
        return 0
    # Blank lines around it, like every error block in the build log.
    print(f"\n{no_python_app_message(app_dir)}\n", file=sys.stderr)
    return 1


def _list_dir(app_dir: Path | str) -> tuple[list[tuple[str, bool]], str]:
    """Like `ls -1A --indicator-style=slash`: (name, is a directory) sorted by name."""
    try:
        with os.scandir(app_dir) as it:
            entries = [(e.name, _is_dir(e)) for e in it]
    except OSError as exc:
        return [], exc.strerror or str(exc)
    return sorted(entries), ""


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        # Like ls: a symlink to a directory is shown as a symlink, without '/'.
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def _nested_project_dirs(app_dir: Path | str, entries: list[tuple[str, bool]]) -> list[str]:
    """Paths like 'backend/requirements.txt': the usual cause is a monorepo."""
    found = []
    for name, is_dir in entries[:MAX_LISTED_ENTRIES]:
        if not is_dir:
            continue
        for marker, _ in PACKAGE_MANAGER_FILES:
            if os.path.isfile(os.path.join(app_dir, name, marker)):
                found.append(f"{name}/{marker}")
    return found


def _printable(name: str) -> str:
    # A file name can hold newlines or terminal escapes; show them escaped.
    return name if name.isprintable() else repr(name)[1:-1]
