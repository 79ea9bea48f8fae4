"""A loopback mirror of pip's package index, filled on demand, for test builds.

Most end-to-end builds fetch what pip's index serves (pip, setuptools, the
buildpack's own libraries, the package managers' locked wheels, the apps'
dependencies) on a cold cache, and every fetch from the machine's index
costs a round trip over the network: seconds of waiting per build, paid
again by the next test's build of the same app. This server answers the
simple API (PEP 503 pages, files, PEP 658 metadata) on 127.0.0.1 and asks
the machine's index only the first time a page or file is wanted in the
session; builds then fetch from it as from any index, with real pip and
the buildpack's real index client.

Pages keep every attribute the index gives (sha256 fragments,
``data-requires-python``, ``data-dist-info-metadata``); only the file
addresses are rewritten to point here. The index asked is pip's primary
index (``PIP_INDEX_URL``, else pip's default); the machine's extra indexes
and find-links are not mirrored, which no test app needs.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import shutil
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
from pip._internal.models.index import PyPI

_HREF = re.compile(r'href="([^"]+)"')
_TIMEOUT = 120


def upstream_index() -> str:
    """pip's primary index on this machine, ending in '/'."""
    return (os.environ.get("PIP_INDEX_URL") or PyPI.simple_url).rstrip("/") + "/"


class IndexProxy:
    """``with IndexProxy(work_dir) as proxy:`` serves ``proxy.url + "/simple/"``."""

    def __init__(self, work: Path, upstream: str | None = None) -> None:
        self.upstream = upstream or upstream_index()
        self.files = work / "files"
        self.files.mkdir(parents=True, exist_ok=True)
        self._pages: dict[str, bytes] = {}
        self._origins: dict[str, str] = {}  # files/ key -> upstream address
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._session = requests.Session()
        self._session.verify = os.environ.get("PIP_CERT") or True
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> IndexProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def page(self, project: str) -> bytes | None:
        """The project's page with file addresses pointing here, or None."""
        with self._lock(f"page:{project}"):
            if project not in self._pages:
                address = urllib.parse.urljoin(self.upstream, f"{project}/")
                response = self._session.get(
                    address, headers={"Accept": "text/html"}, timeout=_TIMEOUT
                )
                if response.status_code == 404:
                    return None
                response.raise_for_status()
                self._pages[project] = self._rewrite(response.url, response.text).encode()
            return self._pages[project]

    def _rewrite(self, page_url: str, text: str) -> str:
        def local(match: re.Match[str]) -> str:
            address, _, fragment = html.unescape(match.group(1)).partition("#")
            absolute = urllib.parse.urljoin(page_url, address)
            name = urllib.parse.unquote(absolute.rsplit("/", 1)[-1])
            key = hashlib.sha256(absolute.encode()).hexdigest()[:20]
            with self._guard:
                self._origins[key] = absolute
            href = f"/files/{key}/{urllib.parse.quote(name)}"
            return f'href="{html.escape(href + ("#" + fragment if fragment else ""))}"'

        return _HREF.sub(local, text)

    def file(self, key: str, name: str) -> Path | None:
        """The file (or its ``.metadata``) stored here, fetched once."""
        origin = self._origins.get(key)
        if origin is None:
            return None
        if not name.endswith(".metadata"):
            upstream = origin
        elif urllib.parse.unquote(origin.rsplit("/", 1)[-1]) + ".metadata" == name:
            upstream = origin + ".metadata"
        else:
            return None
        path = self.files / key / os.path.basename(name)
        with self._lock(f"file:{key}/{name}"):
            if not path.is_file():
                with self._session.get(upstream, stream=True, timeout=_TIMEOUT) as response:
                    if response.status_code == 404:
                        return None
                    response.raise_for_status()
                    path.parent.mkdir(parents=True, exist_ok=True)
                    # Written aside and renamed: a reader never sees half a file.
                    partial = path.with_name(f"{path.name}.partial-{os.getpid()}")
                    with open(partial, "wb") as f:
                        shutil.copyfileobj(response.raw, f)
                    os.replace(partial, path)
        return path


def _handler(proxy: IndexProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(send_body=True)

        def do_HEAD(self) -> None:
            self._answer(send_body=False)

        def _answer(self, *, send_body: bool) -> None:
            parts = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).strip("/")
            parts_list = parts.split("/")
            try:
                if len(parts_list) == 2 and parts_list[0] == "simple":
                    body = proxy.page(_normalized(parts_list[1]))
                    if body is None:
                        return self._status(404, send_body=send_body)
                    return self._send(body, "text/html", send_body)
                if len(parts_list) == 3 and parts_list[0] == "files":
                    path = proxy.file(parts_list[1], parts_list[2])
                    if path is None:
                        return self._status(404, send_body=send_body)
                    return self._send(path.read_bytes(), "application/octet-stream", send_body)
            except requests.RequestException as exc:
                return self._status(502, str(exc), send_body=send_body)
            self._status(404, send_body=send_body)

        def _send(self, body: bytes, kind: str, send_body: bool, status: int = 200) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if send_body:
                self.wfile.write(body)

        def _status(self, code: int, text: str = "", *, send_body: bool = True) -> None:
            body = (text or self.responses.get(code, ("",))[0]).encode() + b"\n"
            self._send(body, "text/plain", send_body, status=code)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


def _normalized(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()
