"""Waiting for something a test cannot be told about directly."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

# A safety net against a hung test on a loaded machine, never a measurement.
SAFETY_TIMEOUT = 120.0


def wait_for(condition: Callable[[], bool], what: str, *, timeout: float = SAFETY_TIMEOUT) -> None:
    """Poll ``condition`` until it holds; fail the test, naming ``what``, if it
    still does not at the deadline."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:g} s waiting for {what}")
        time.sleep(0.01)
