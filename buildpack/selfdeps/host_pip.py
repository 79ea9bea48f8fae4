"""The pip the buildpack falls back on for its own libraries: the one of the
interpreter running it, or the one CPython bundles with a runtime."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def find_pip_wheel(python_homes: list[Path]) -> Path | None:
    """The pip wheel that CPython bundles for ensurepip, in any given runtime."""
    for home in python_homes:
        wheels = sorted(home.glob("lib/python3*/ensurepip/_bundled/pip-*.whl"))
        if wheels:
            return wheels[-1]
    return None


def pip_command(pip_wheel: Path | None) -> list[str] | None:
    """How to run a pip for the interpreter running the buildpack."""
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    if pip_wheel is not None:
        # A pip wheel runs from the zip itself: <python> pip-X.whl/pip ...
        return [sys.executable, str(pip_wheel / "pip")]
    return None


def describe_pip(command: list[str]) -> str:
    """Which pip ``pip_command`` chose, for the log."""
    if command[1:3] == ["-m", "pip"]:
        return f"the pip of {command[0]}"
    return f"the pip bundled with the Python runtime ({Path(command[1]).parent.name})"
