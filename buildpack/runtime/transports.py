"""How the buildpack opens a URL: requests, urllib or a file, behind one interface.

``requests`` (the buildpack's own pinned dependency) is used whenever it is
importable; ``urllib`` only for the first build on a host without pip, before
that dependency is installed. ``file://`` URLs are read directly. Every
transport error becomes a ``DownloadError`` subclass, so callers never need to
know which transport is in use.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import socket
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from buildpack.core import errors
from buildpack.runtime import transport_policy

Transport = Literal["auto", "requests", "urllib"]

CHUNK = 1024 * 1024
_NOT_AVAILABLE = frozenset({403, 404})  # S3 answers 403 for a missing key


class DownloadError(Exception):
    """A download that failed for good; ``problem`` is a short explanation."""

    def __init__(self, url: str, problem: str) -> None:
        super().__init__(f"{url}: {problem}")
        self.url = url
        self.problem = problem


class TransientError(DownloadError):
    """A failure worth retrying: connection problems, timeouts, 5xx, 429."""


class NotFound(DownloadError):
    """The server says the file does not exist (404, or S3's 403)."""

    def __init__(self, url: str, status: int) -> None:
        super().__init__(url, f"HTTP {status}")
        self.status = status


@dataclass(frozen=True)
class Timeouts:
    connect: float
    read: float


class Body:
    """The response body: hashes and counts what is read, maps network errors.

    Every transport error while reading becomes ``TransientError``, so the
    layers above (zstd, tar) never need to know which transport is in use.
    """

    def __init__(
        self,
        url: str,
        read: Callable[[int], bytes],
        *,
        length: int | None,
        errors_: tuple[type[BaseException], ...],
        timeouts: Timeouts,
    ) -> None:
        self._url = url
        self._read = read
        self._length = length
        self._errors = errors_
        self._timeouts = timeouts
        self._sha256 = hashlib.sha256()
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._read(CHUNK if size is None or size < 0 else size)
        except self._errors as exc:
            raise TransientError(self._url, _describe(exc, self._timeouts, "read")) from exc
        if data:
            self._sha256.update(data)
            self.bytes_read += len(data)
        elif size != 0 and self._length is not None and self.bytes_read < self._length:
            # Not every transport notices a connection closed before
            # Content-Length was reached (http.client does not).
            raise TransientError(
                self._url,
                f"the connection closed after {self.bytes_read} of {self._length} bytes",
            )
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    def hexdigest(self) -> str:
        return self._sha256.hexdigest()


@dataclass
class Response:
    url: str
    status: int
    headers: Mapping[str, str]
    raw: Body
    close: Callable[[], None]
    # Unblocks a read waiting on the network in another thread (see attempt()).
    abort: Callable[[], None] = lambda: None
    # Which transport fetched it: "requests", "urllib" or "file".
    transport: str = "file"


def requests_available() -> bool:
    """Whether requests can be imported now.

    Asked at each download, never at import time: on a cold cache the
    buildpack's own libraries are put on sys.path while the build runs, and
    every download after that must use them.
    """
    try:
        import requests  # noqa: F401
    except ImportError:
        return False
    return True


def open_url(
    url: str, timeouts: Timeouts, transport: Transport, cafile: str | None = None
) -> Response:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme == "file":
        return _open_file(url, timeouts)
    if scheme not in ("http", "https"):
        raise errors.runtime_url_invalid(url)
    if transport == "requests" or (transport == "auto" and requests_available()):
        return _open_requests(url, timeouts, cafile)
    return _open_urllib(url, timeouts, cafile)


def _check_status(url: str, status: int) -> None:
    if status == 200:
        return
    if status in _NOT_AVAILABLE:
        raise NotFound(url, status)
    if status >= 500 or status in (408, 429):
        raise TransientError(url, f"the server answered HTTP {status}")
    raise DownloadError(url, f"the server answered HTTP {status}")


def _length(headers: Mapping[str, str]) -> int | None:
    # With a Content-Encoding the length counts encoded bytes, not what we read.
    if headers.get("Content-Encoding", "identity").lower() != "identity":
        return None
    try:
        return int(headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _open_file(url: str, timeouts: Timeouts) -> Response:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise errors.runtime_url_invalid(url)
    path = urllib.request.url2pathname(parts.path)
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed by Response.close
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        raise NotFound(url, 404) from None
    except PermissionError:
        raise NotFound(url, 403) from None
    body = Body(url, f.read, length=None, errors_=(OSError,), timeouts=timeouts)
    return Response(url, 200, {}, body, f.close)


def _open_requests(url: str, timeouts: Timeouts, cafile: str | None = None) -> Response:
    import requests
    import urllib3

    exc_mod = requests.exceptions
    try:
        with transport_policy.requests_session() as session:
            resp = session.get(
                url, stream=True, timeout=(timeouts.connect, timeouts.read), verify=cafile or True
            )
    except transport_policy.RedirectRefused as exc:
        raise DownloadError(exc.url, exc.problem) from None
    except exc_mod.ConnectTimeout as exc:
        raise TransientError(url, _describe(exc, timeouts, "connect")) from exc
    except (exc_mod.ConnectionError, exc_mod.Timeout, exc_mod.ChunkedEncodingError) as exc:
        raise TransientError(url, _describe(exc, timeouts, "read")) from exc
    except exc_mod.RequestException as exc:
        raise DownloadError(url, _describe(exc, timeouts, "connect")) from exc
    try:
        _check_status(resp.url, resp.status_code)
    except BaseException:
        resp.close()
        raise
    body = Body(
        resp.url,
        lambda n: resp.raw.read(n, decode_content=True),
        length=_length(resp.headers),
        errors_=(urllib3.exceptions.HTTPError, exc_mod.RequestException, OSError),
        timeouts=timeouts,
    )
    return Response(
        resp.url,
        resp.status_code,
        resp.headers,
        body,
        resp.close,
        lambda: _shutdown(resp.raw),
        transport="requests",
    )


def _shutdown(raw: object) -> None:
    # urllib3 >= 2.3 can shut the socket down under a reading thread.
    shutdown = getattr(raw, "shutdown", None)
    if callable(shutdown):
        with contextlib.suppress(Exception):
            shutdown()


class _TimedHTTPConnection(http.client.HTTPConnection):
    """Connects within the connect timeout, then reads with the read timeout.

    urllib has a single timeout for both; the mirror may be slow to connect
    to and then fast, or the other way round.
    """

    read_timeout: float = 30.0

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None
        self.sock.settimeout(self.read_timeout)


class _TimedHTTPSConnection(http.client.HTTPSConnection):
    read_timeout: float = 30.0

    def connect(self) -> None:
        super().connect()
        assert self.sock is not None
        self.sock.settimeout(self.read_timeout)


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, read_timeout: float) -> None:
        super().__init__()
        self._read_timeout = read_timeout

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        def connection(host: str, /, **kwargs: Any) -> http.client.HTTPConnection:
            conn = _TimedHTTPConnection(host, **kwargs)
            conn.read_timeout = self._read_timeout
            return conn

        return self.do_open(connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, read_timeout: float, cafile: str | None) -> None:
        super().__init__()
        self._read_timeout = read_timeout
        self._cafile = cafile

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        def connection(host: str, /, **kwargs: Any) -> http.client.HTTPConnection:
            conn = _TimedHTTPSConnection(host, **kwargs)
            conn.read_timeout = self._read_timeout
            return conn

        context = ssl.create_default_context(cafile=self._cafile)
        return self.do_open(connection, req, context=context)


def _open_urllib(url: str, timeouts: Timeouts, cafile: str | None = None) -> Response:
    opener = urllib.request.build_opener(
        _HTTPHandler(timeouts.read),
        _HTTPSHandler(timeouts.read, cafile),
        transport_policy.RedirectHandler(),
    )
    try:
        resp = opener.open(transport_policy.urllib_request(url), timeout=timeouts.connect)
    except transport_policy.RedirectRefused as exc:
        raise DownloadError(exc.url, exc.problem) from None
    except urllib.error.HTTPError as exc:
        exc.close()
        _check_status(exc.geturl() or url, exc.code)
        raise DownloadError(url, f"the server answered HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        # urllib wraps errors from connecting and from waiting for the headers alike.
        raise TransientError(url, _describe(exc, timeouts, "open")) from exc
    except (OSError, http.client.HTTPException) as exc:
        raise TransientError(url, _describe(exc, timeouts, "read")) from exc
    final_url = resp.geturl()
    try:
        _check_status(final_url, resp.status)
    except BaseException:
        resp.close()
        raise
    body = Body(
        final_url,
        resp.read,
        length=_length(resp.headers),
        errors_=(OSError, http.client.HTTPException),
        timeouts=timeouts,
    )
    return Response(
        final_url,
        resp.status,
        resp.headers,
        body,
        resp.close,
        lambda: _shutdown_socket(resp),
        transport="urllib",
    )


def _shutdown_socket(resp: http.client.HTTPResponse) -> None:
    """Unblock a thread reading ``resp``: its recv returns at once (limits.deadline)."""
    sock = getattr(getattr(resp.fp, "raw", None), "_sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


# --- messages ---------------------------------------------------------------------------


def _describe(exc: BaseException, timeouts: Timeouts, phase: str) -> str:
    """A short, human explanation of a transport exception."""
    chain = list(_causes(exc))
    # The OS's reason first: urllib3 files "connection refused" under timeouts.
    for e in chain:
        if isinstance(e, OSError) and e.strerror and not isinstance(e, TimeoutError):
            return e.strerror.lower() if e.strerror[:1].isupper() else e.strerror
    if any(_is_timeout(e) for e in chain):
        requests = sys.modules.get("requests")
        connect = phase == "connect" or (
            requests is not None and isinstance(exc, requests.exceptions.ConnectTimeout)
        )
        if connect:
            return f"could not connect within {timeouts.connect:g} seconds"
        if phase == "open":
            return "the server did not answer in time"
        return f"no data arrived for {timeouts.read:g} seconds"
    for e in chain:
        if isinstance(e, http.client.IncompleteRead) or type(e).__name__ == "ProtocolError":
            return "the connection broke during the transfer"
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what it wraps (requests and urllib3 nest the real reason)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend(
            x
            for x in (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args)
            if isinstance(x, BaseException)
        )


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return True
    # Only an imported library can have raised its own exception.
    requests, urllib3 = sys.modules.get("requests"), sys.modules.get("urllib3")
    if requests is not None and isinstance(exc, requests.exceptions.Timeout):
        return True
    return urllib3 is not None and isinstance(exc, urllib3.exceptions.TimeoutError)
