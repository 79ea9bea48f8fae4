"""Build log formatting in the style of Heroku's buildpacks."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import TextIO

from buildpack.core.errors import BuildError
from buildpack.core.redact import redact_text

INDENT = " " * 7
STEP = "-----> "
BANG = " !     "
# Heroku's colours for the ' !' blocks: bold red errors, bold yellow
# warnings, bold blue notes.
RED = "\033[1;31m"
YELLOW = "\033[1;33m"
BLUE = "\033[1;34m"
RESET = "\033[0m"


def colour_wanted(*sources: Mapping[str, str]) -> bool:
    """Colours unless NO_COLOR is set to anything but "" (no-color.org)."""
    return not any(source.get("NO_COLOR") for source in sources)


class Output:
    """Writes steps and tool output to stdout, warnings and errors to stderr.

    Every line goes through ``redact_text``: no URL credentials in the log.
    """

    def __init__(
        self, stdout: TextIO | None = None, stderr: TextIO | None = None, *, colour: bool = False
    ) -> None:
        self._out = stdout or sys.stdout
        self._err = stderr or sys.stderr
        self.colour = colour

    def step(self, text: str) -> None:
        self._write(self._out, STEP + text)

    def info(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._write(self._out, INDENT + line if line else "")

    def tool_line(self, line: str) -> None:
        self._write(self._out, INDENT + line if line.strip() else "")

    def warning(self, title: str, body: str) -> None:
        self._block(f"Warning: {title}", body, YELLOW)

    def note(self, title: str, body: str) -> None:
        self._block(f"Note: {title}", body, BLUE)

    def error(self, error: BuildError) -> None:
        parts = [error.cause]
        if error.action:
            parts.append(error.action)
        self._block(f"Error: {error.title}", "\n\n".join(parts), RED)

    def _block(self, headline: str, body: str, colour: str) -> None:
        lines = [headline, "", *body.splitlines()]
        self._err.write("\n")
        for line in lines:
            text = (BANG + redact_text(line)).rstrip()
            self._err.write((colour + text + RESET if self.colour else text) + "\n")
        self._err.write("\n")
        self._err.flush()

    @staticmethod
    def _write(stream: TextIO, text: str) -> None:
        stream.write(redact_text(text) + "\n")
        stream.flush()
