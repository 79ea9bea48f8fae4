"""A loopback HTTP server for download tests, with faults programmed per path.

It serves the files of a directory, and for a path given faults it misbehaves
on the next requests instead: an HTTP error status, a connection reset,
a stall or an early close in the middle of the body, a redirect, or other
content than the file. Each fault affects ``times`` requests (None: all of
them), in the order they were added; then the path is served normally again.

    with FaultServer(mirror_dir) as server:
        server.add("/a.tar.zst", Fault("status", status=503, times=2))
        download(server.url + "/a.tar.zst")
        assert server.hits["/a.tar.zst"] == 3

``credentials=(user, password)`` makes it answer 401 to any request without
them as HTTP basic auth; ``tls=(certfile, keyfile)`` serves https. Every
Authorization header it receives is kept in ``authorizations``, and every
User-Agent in ``user_agents`` (which HTTP client asked: urllib or requests).

A stall lasts until the test calls ``release_stalls()`` or the server stops,
never for a fixed time: a loaded machine cannot make a stall end before the
test is done with it. Idle connections time out, and stopping ends every
stall and joins all threads.
"""

from __future__ import annotations

import base64
import collections
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

_CHUNK = 256 * 1024

Kind = Literal["status", "reset", "stall", "truncate", "redirect", "body", "trickle"]

# A trickle that nobody releases still ends: a bound for a test that forgot to.
_MAX_TRICKLE_SECONDS = 120.0


@dataclass
class Fault:
    """How to answer the next ``times`` requests for a path.

    - ``status``: answer ``status`` with a short text body.
    - ``reset``: send the headers and ``after`` body bytes, then reset (RST).
    - ``truncate``: the same, but close the connection normally (FIN): the
      body is shorter than its Content-Length.
    - ``stall``: send ``after`` bytes, then wait until the test calls
      ``release_stalls()`` (send the rest) or the server stops (send nothing).
    - ``redirect``: answer ``status`` (default 302 here) to ``location``.
    - ``body``: answer ``status`` (200 unless given) with ``body`` instead of the file.
    - ``trickle``: send the headers and ``after`` bytes, then one byte every
      ``interval`` seconds (never the whole body) until the test sets
      ``release``, the client is gone or the server stops; then close the
      connection.
    """

    kind: Kind
    times: int | None = 1
    status: int | None = None
    after: int = 0
    location: str = ""
    body: bytes = b""
    interval: float = 0.5  # trickle: seconds between bytes
    release: threading.Event = field(default_factory=threading.Event)


class FaultServer:
    def __init__(
        self,
        root: Path,
        *,
        credentials: tuple[str, str] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.hits: collections.Counter[str] = collections.Counter()
        self.authorizations: list[str] = []
        self.user_agents: list[str] = []
        self._expected_auth = (
            "Basic " + base64.b64encode(":".join(credentials).encode()).decode()
            if credentials
            else None
        )
        self._tls = tls
        # Requests in the middle of a stall right now (a client that gave up
        # early is gone while the stall still runs).
        self.stalling = 0
        self._faults: dict[str, list[Fault]] = collections.defaultdict(list)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._unstall = threading.Event()  # set by release_stalls() and by stopping
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the server is not running"
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def add(self, path: str, fault: Fault) -> None:
        with self._lock:
            self._faults[path].append(fault)

    def release_stalls(self) -> None:
        """Let every stalled request, and any later one, send the rest of its body."""
        self._unstall.set()

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.hits.clear()

    def __enter__(self) -> FaultServer:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        if self._tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self._tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._unstall.set()
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()  # joins the request threads
        self._thread.join()

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            self.hits[path] += 1
            queue = self._faults.get(path)
            if not queue:
                return None
            fault = queue[0]
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    queue.pop(0)
            return fault


class _Server(ThreadingHTTPServer):
    owner: FaultServer
    # Sockets to close with a reset instead of the usual orderly shutdown.
    reset_requests: set[socket.socket]

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.reset_requests = set()

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        if request in self.reset_requests:
            self.reset_requests.discard(request)
            # Linger 0 makes close() send RST and drop anything unsent.
            request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            request.close()
            return
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # an idle client cannot hold a thread for long

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        owner = self.server.owner
        owner.user_agents.append(self.headers.get("User-Agent", ""))
        authorization = self.headers.get("Authorization")
        if authorization is not None:
            owner.authorizations.append(authorization)
        if owner._expected_auth is not None and authorization != owner._expected_auth:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        fault = owner._next_fault(path)
        if fault is None:
            self._serve_file(path)
        elif fault.kind == "status":
            status = fault.status or 503
            self._send(status, fault.body or f"fault: HTTP {status}\n".encode())
        elif fault.kind == "body":
            self._send(fault.status or 200, fault.body)
        elif fault.kind == "redirect":
            location = fault.location
            if location.startswith("/"):
                location = f"{owner.url}{location}"
            self.send_response(fault.status or 302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            data = fault.body or self._file_data(path)
            if data is None:
                self._send(404, b"not found\n")
                return
            self._broken_body(fault, data)

    def do_HEAD(self) -> None:
        """Headers only, never a fault and not counted in ``hits``: uv asks
        a wheel's size this way before reading its metadata by ranges."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        expected = self.server.owner._expected_auth
        data = None
        if expected is None or self.headers.get("Authorization") == expected:
            data = self._file_data(path)
        self.send_response(404 if data is None else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", "0" if data is None else str(len(data)))
        self.end_headers()

    def _file_data(self, path: str) -> bytes | None:
        target = (self.server.owner.root / path.lstrip("/")).resolve()
        if target.is_dir():
            target = target / "index.html"  # a package index's project pages
        if not target.is_relative_to(self.server.owner.root) or not target.is_file():
            return None
        return target.read_bytes()

    def _serve_file(self, path: str) -> None:
        data = self._file_data(path)
        if data is None:
            self._send(404, b"not found\n")
        else:
            # pip reads index pages only when they say they are HTML.
            html = data.lstrip()[:1] == b"<" and not path.endswith((".whl", ".zst"))
            self._send(200, data, "text/html" if html else "application/octet-stream")

    def _send(
        self, status: int, data: bytes, content_type: str = "application/octet-stream"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self._write(data)

    def _write(self, data: bytes) -> bool:
        try:
            view = memoryview(data)
            for start in range(0, len(view), _CHUNK):
                self.wfile.write(view[start : start + _CHUNK])
        except (BrokenPipeError, ConnectionResetError):
            return False  # the client gave up, which is what some tests expect
        return True

    def _broken_body(self, fault: Fault, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        after = min(fault.after, len(data))
        if not self._write(data[:after]):
            return
        self.close_connection = True
        if fault.kind == "reset":
            self.server.reset_requests.add(self.request)
        elif fault.kind == "stall":
            owner = self.server.owner
            with owner._lock:
                owner.stalling += 1
            try:
                owner._unstall.wait()
            finally:
                with owner._lock:
                    owner.stalling -= 1
            if not owner._stop.is_set():
                self._write(data[after:])
        elif fault.kind == "trickle":
            self._trickle(fault, data[after:])
        elif fault.kind != "truncate":
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    def _trickle(self, fault: Fault, rest: bytes) -> None:
        owner = self.server.owner
        with owner._lock:
            owner.stalling += 1
        try:
            # Never the last byte: the transfer cannot finish by trickling.
            ends = time.monotonic() + _MAX_TRICKLE_SECONDS
            for i in range(max(len(rest) - 1, 0)):
                if fault.release.wait(fault.interval) or owner._stop.is_set():
                    return
                if time.monotonic() > ends:
                    return
                if not self._write(rest[i : i + 1]):
                    return  # the client gave up
                self.wfile.flush()
        finally:
            with owner._lock:
                owner.stalling -= 1
