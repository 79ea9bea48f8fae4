"""Time and size limits of a download: per attempt, for the whole download, per body.

A read timeout alone never ends a transfer that trickles: a byte every few
seconds keeps every read within it. So each attempt also has a deadline for
all of it, which a watchdog enforces by aborting the connection (the reading
thread then fails at once), and all the attempts of one download share a
budget, so that retries cannot add up to more. Heroku's curl does the same
with --max-time and --retry-max-time; CURL_TIMEOUT sets both there, and
download_settings maps it onto these.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from buildpack.runtime.transports import Body, DownloadError, TransientError


@dataclass(frozen=True)
class Budget:
    attempt: float  # seconds one attempt may take, from connecting to the last byte
    total: float  # seconds the whole download may take, retries included


class TooSlow(TransientError):
    """An attempt that did not finish in time; retried while the budget lasts."""

    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(
            url, f"the mirror is too slow: the download did not finish within {seconds:g} seconds"
        )


class MirrorTooSlow(DownloadError):
    """The download's time is up: the last attempt was too slow, and there is
    no time (or no retry) left for another. Never retried."""


class Clock:
    """The time left for one download and for its current attempt."""

    def __init__(self, budget: Budget, now: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self._now = now
        self._started = now()
        self._attempt_started = self._started

    def start_attempt(self) -> None:
        self._attempt_started = self._now()

    def remaining(self) -> float:
        return self.budget.total - (self._now() - self._started)

    def attempt_left(self) -> float:
        """Seconds the current attempt may still take (never past the budget)."""
        used = self._now() - self._attempt_started
        return max(0.0, min(self.budget.attempt - used, self.remaining()))


@contextlib.contextmanager
def deadline(url: str, clock: Clock | None, abort: Callable[[], None]) -> Iterator[None]:
    """Abort the transfer when the current attempt's time is up; whatever
    error that makes the reading code raise becomes ``TooSlow``."""
    if clock is None:
        yield
        return
    seconds = clock.attempt_left()
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        abort()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as exc:
        if fired.is_set():
            raise TooSlow(url, round(seconds, 1)) from exc
        raise
    finally:
        timer.cancel()


def final_error(
    exc: TransientError, clock: Clock | None, *, tries: str, delay: float, last: bool
) -> DownloadError | None:
    """The error that ends the download after ``exc``, or None to retry in
    ``delay`` seconds. It ends after the ``last`` attempt, or when the budget
    would be up before the retry starts; a transfer that was too slow says so."""
    out_of_time = clock is not None and clock.remaining() <= delay
    if not (last or out_of_time):
        return None
    if isinstance(exc, TooSlow) and clock is not None:
        budget = clock.budget
        return MirrorTooSlow(
            exc.url,
            "the mirror is too slow: the download did not finish in the time allowed "
            f"({budget.attempt:g} seconds per attempt, {budget.total:g} seconds in all; "
            f"tried {tries})",
        )
    up = f"; the {clock.budget.total:g} seconds allowed are up" if clock and not last else ""
    return DownloadError(exc.url, f"{exc.problem} (tried {tries}{up})")


class CappedBody:
    """``body`` refusing to go past ``limit`` bytes: a compressed runtime is
    tens of megabytes, and a mirror sending gigabytes is broken."""

    def __init__(self, body: Body, limit: int, url: str) -> None:
        self._body = body
        self._limit = limit
        self._url = url

    def read(self, size: int = -1) -> bytes:
        data = self._body.read(size)
        if self._body.bytes_read > self._limit:
            raise DownloadError(
                self._url, f"it is larger than {_size(self._limit)}, more than any runtime archive"
            )
        return data

    def drain(self) -> None:
        while self.read(1024 * 1024):
            pass

    def hexdigest(self) -> str:
        return self._body.hexdigest()

    @property
    def bytes_read(self) -> int:
        return self._body.bytes_read


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n} bytes"
