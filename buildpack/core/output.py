"""Build log formatting in the style of Heroku's buildpacks."""

from __future__ import annotations

import sys
from typing import TextIO

from buildpack.core.errors import BuildError
from buildpack.core.redact import redact_text

INDENT = " " * 7
STEP = "-----> "
BANG = " !     "


class Output:
    """Writes steps and tool output to stdout, warnings and errors to stderr.

    Every line goes through ``redact_text``: no URL credentials in the log.
    """

    def __init__(self, stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self._out = stdout or sys.stdout
        self._err = stderr or sys.stderr

    def step(self, text: str) -> None:
        self._write(self._out, STEP + text)

    def info(self, text: str) -> None:
        for line in text.splitlines() or [""]:
            self._write(self._out, INDENT + line if line else "")

    def tool_line(self, line: str) -> None:
        self._write(self._out, INDENT + line if line.strip() else "")

    def warning(self, title: str, body: str) -> None:
        self._block(f"Warning: {title}", body)

    def note(self, title: str, body: str) -> None:
        self._block(f"Note: {title}", body)

    def error(self, error: BuildError) -> None:
        parts = [error.cause]
        if error.action:
            parts.append(error.action)
        self._block(f"Error: {error.title}", "\n\n".join(parts))

    def _block(self, headline: str, body: str) -> None:
        lines = [headline, "", *body.splitlines()]
        self._err.write("\n")
        for line in lines:
            self._err.write((BANG + redact_text(line)).rstrip() + "\n")
        self._err.write("\n")
        self._err.flush()

    @staticmethod
    def _write(stream: TextIO, text: str) -> None:
        stream.write(redact_text(text) + "\n")
        stream.flush()
