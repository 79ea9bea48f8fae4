"""Downloads from the runtime mirror: retries, timeouts, checksums, streaming.

Two transports sit behind one small interface: ``requests`` (the buildpack's
own pinned dependency) and ``urllib`` for the first build on a host without
pip, before that dependency is installed. ``file://`` URLs are read directly.

A retry cannot resume a half-extracted tar, so ``download_and_extract`` treats
one attempt as "open, stream, extract, verify" and starts again from scratch
when the stream breaks; extraction is atomic, so a failed attempt leaves
nothing behind.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from buildpack.core import errors
from buildpack.core.output import Output
from buildpack.runtime.limits import Budget, CappedBody, Clock, MirrorTooSlow, deadline, final_error
from buildpack.runtime.transports import (
    Body,
    DownloadError,
    NotFound,
    Response,
    Timeouts,
    TransientError,
    Transport,
    open_url,
)

__all__ = [
    "Budget",
    "DownloadError",
    "MirrorTooSlow",
    "NotFound",
    "download_and_extract",
    "fetch_stream",
    "parse_sha256",
    "read_bounded",
]

# A .sha256 file is one line; anything bigger is not one.
_MAX_CHECKSUM_FILE = 64 * 1024
_MAX_BACKOFF = 30.0
_SHA256 = re.compile(r"[0-9a-fA-F]{64}\Z")

T = TypeVar("T")


# --- public API -------------------------------------------------------------------


@contextlib.contextmanager
def fetch_stream(
    url: str,
    *,
    connect_timeout: float,
    read_timeout: float,
    retries: int,
    backoff: float,
    out: Output | None = None,
    transport: Transport = "auto",
    cafile: str | None = None,
    budget: Budget | None = None,
) -> Iterator[Response]:
    """Open ``url`` for streaming, retrying the connection and 5xx/429 answers.

    Raises ``NotFound`` for 404/403 (never retried) and ``DownloadError``
    once the retries are used up. Errors while reading the body are
    ``TransientError`` and are the caller's to retry. ``cafile`` replaces
    the system's certificate authorities (pip's ``cert`` setting). With a
    ``budget``, the caller's reading is aborted when the attempt's time is
    up (``TooSlow``), and retries stop when the whole budget is
    (``MirrorTooSlow``).
    """
    timeouts = Timeouts(connect_timeout, read_timeout)
    clock = Clock(budget) if budget is not None else None

    def attempt() -> Response:
        if clock is not None:
            clock.start_attempt()
        return open_url(url, timeouts, transport, cafile)

    response = _with_retries(
        attempt, url=url, retries=retries, backoff=backoff, out=out, clock=clock
    )
    try:
        with deadline(url, clock, response.abort):
            yield response
    finally:
        response.close()


def download_and_extract(
    url: str,
    dest: Path,
    *,
    connect_timeout: float,
    read_timeout: float,
    retries: int,
    backoff: float,
    out: Output,
    verify_sha256: bool = True,
    replace: bool = False,
    transport: Transport = "auto",
    force_zstd_tool: bool = False,
    budget: Budget | None = None,
    max_bytes: int | None = None,
    listed_sha256: str | None = None,
) -> str:
    """Stream the .tar.zst at ``url`` into ``dest``, verified when a .sha256 exists.

    ``listed_sha256`` is the checksum the mirror's manifest gives: the
    .sha256 file must agree with it, and it is checked when there is none.
    Returns the transport that fetched the archive ("requests", "urllib" or
    "file"). Raises ``NotFound`` when the archive does not exist (the caller
    knows which Python version that means); every other failure is a BuildError.
    ``budget`` limits the time of each attempt and of the whole download
    (.sha256 included), ``max_bytes`` the archive's size.
    """
    timeouts = Timeouts(connect_timeout, read_timeout)
    expected: str | None = None
    clock = Clock(budget) if budget is not None else None

    def retrying(action: Callable[[], T]) -> T:
        def timed() -> T:
            if clock is not None:
                clock.start_attempt()
            return action()

        return _with_retries(timed, url=url, retries=retries, backoff=backoff, out=out, clock=clock)

    def attempt() -> str:
        response = open_url(url, timeouts, transport)
        try:
            with deadline(url, clock, response.abort):
                extract(response)
        finally:
            response.close()
        return response.transport

    def extract(response: Response) -> None:
        # Here, not at the top: a rebuild reads the mirror's manifest with
        # this module and unpacks nothing (tarfile alone costs it 3 ms).
        from buildpack.runtime.extract import extract_tar_stream
        from buildpack.runtime.zstd_stream import open_zstd_reader

        body = response.raw if max_bytes is None else CappedBody(response.raw, max_bytes, url)

        def verify() -> None:
            body.drain()  # trailing bytes count too: the checksum covers the file
            actual = body.hexdigest()
            if expected is not None and actual != expected:
                raise errors.runtime_checksum_mismatch(url, expected, actual)

        with open_zstd_reader(body, force_tool=force_zstd_tool) as reader:
            try:
                extract_tar_stream(reader, dest, source=url, replace=replace, before_commit=verify)
            except BaseException:
                # Leaving the reader waits for its read-ahead thread, which may be
                # blocked on a stalled network read for the whole read timeout:
                # an interrupted build must end now, not then.
                response.abort()
                raise

    try:
        if verify_sha256:
            expected = retrying(
                lambda: _expected_sha256(url + ".sha256", timeouts, transport, clock)
            )
            if listed_sha256 and expected and expected != listed_sha256:
                raise errors.runtime_manifest_checksum_mismatch(url, listed_sha256, expected)
            expected = expected or listed_sha256
        return retrying(attempt)
    except NotFound:
        raise
    except MirrorTooSlow as exc:
        raise errors.runtime_download_too_slow(exc.url, exc.problem) from None
    except DownloadError as exc:
        raise errors.runtime_download_failed(exc.url, exc.problem) from None


def parse_sha256(text: str) -> str:
    """The checksum in a ``<hex>`` or ``<hex>  <filename>`` line (lowercase)."""
    fields = text.split()
    if not fields or not _SHA256.match(fields[0]):
        raise ValueError("it does not start with a SHA-256 checksum in hex")
    return fields[0].lower()


def read_bounded(body: Body, limit: int) -> bytes | None:
    """The whole body, or None if it is longer than ``limit`` bytes."""
    data = b""
    while len(data) <= limit:
        more = body.read(limit + 1 - len(data))
        if not more:
            return data
        data += more
    return None


# --- retries ------------------------------------------------------------------------


def _with_retries(
    action: Callable[[], T],
    *,
    url: str,
    retries: int,
    backoff: float,
    out: Output | None,
    clock: Clock | None = None,
) -> T:
    attempts = max(retries, 0) + 1
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except TransientError as exc:
            delay = min(backoff * 2 ** (attempt - 1), _MAX_BACKOFF)
            tries = "once" if attempt == 1 else f"{attempt} times"
            final = final_error(exc, clock, tries=tries, delay=delay, last=attempt == attempts)
            if final is not None:
                raise final from exc
            if out is not None:
                out.info(
                    f"Download failed ({exc.problem}); retrying in {delay:.2g}s "
                    f"(retry {attempt} of {attempts - 1})"
                )
            time.sleep(delay)
    raise AssertionError("unreachable")


def _expected_sha256(
    url: str, timeouts: Timeouts, transport: Transport, clock: Clock | None
) -> str | None:
    try:
        response = open_url(url, timeouts, transport)
    except NotFound:
        return None  # the mirror publishes no checksums (Heroku's does not)
    try:
        with deadline(url, clock, response.abort):
            data = read_bounded(response.raw, _MAX_CHECKSUM_FILE)
    finally:
        response.close()
    problem = "it is larger than a checksum file can be"
    if data is not None:
        try:
            return parse_sha256(data.decode("ascii", "replace"))
        except ValueError as exc:
            problem = str(exc)
    raise errors.runtime_checksum_file_invalid(url, problem)
