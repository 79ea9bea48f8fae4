"""Code run by this interpreter in a fresh process without site-packages:
what the buildpack's modules do before its own libraries are there."""

from __future__ import annotations

import subprocess
import sys


def run_without_site(code: str, *args: str) -> str:
    """The standard output of ``python -I -S -c code args...`` (which must succeed)."""
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout
