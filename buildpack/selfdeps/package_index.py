"""Fetching exactly pinned wheels from the package index pip is set up to use.

Running pip to install one pinned wheel costs seconds of CPU on a small
machine (it starts, compiles itself, weighs every file of every release).
For the few pins the buildpack installs itself (its own dependencies and
the package managers) that is avoidable: read the index's simple page
(PEP 503), take the file of the pinned version that suits the interpreter,
check it against the sha256 the index gives, and unpack it.

Which index: the one pip would use first (PIP_INDEX_URL, else ``index-url``
from pip's config files, else pip's own default, read from pip's source).
Anything this cannot settle for sure (no index, plain http to a host pip
would not trust, no sha256 on the page, no suitable file, a network error,
no packaging library to tell which file suits) raises ``IndexUnavailable``,
and the caller runs pip as before.
Fetching a locked file by its exact name (``fetch_locked``, ``find_exact``)
needs only the standard library: the PyPA libraries come that way.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from buildpack.core import errors
from buildpack.runtime.download_settings import download_budget
from buildpack.selfdeps import pip_config
from buildpack.selfdeps.pip_config import pip_default_index
from buildpack.selfdeps.wheel_lock import LockedFile

if TYPE_CHECKING:
    # The HTTP side (urllib.request, http.client, ssl, email) is imported by
    # the functions that fetch: every build imports this module for its
    # types, and an unchanged rebuild fetches nothing.
    from buildpack.runtime import limits
    from buildpack.runtime.transports import Response
    from buildpack.selfdeps.wheel_choice import Interpreter

# The href of each <a> tag, however it is quoted.
_ANCHOR_HREF = re.compile(
    r"""<a\s[^>]*?\bhref\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s>]+))""",
    re.IGNORECASE,
)
_MAX_PAGE_BYTES = 32 * 1024 * 1024
_MAX_WHEEL_BYTES = 256 * 1024 * 1024
_CHUNK = 1024 * 1024
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
# Quick to give up: on any trouble pip, with its own retries, takes over.
_CONNECT_TIMEOUT = 5.0
_READ_TIMEOUT = 20.0
_RETRIES = 1
_BACKOFF = 0.5


# pip's default index, or how to read it (only when nothing else names one).
_Default = str | Callable[[], str | None] | None


class IndexUnavailable(Exception):
    """The fast path cannot be used; the message says why (for the log)."""


@dataclass(frozen=True)
class IndexSettings:
    url: str  # the simple index, without a trailing slash
    cafile: str | None = None
    # pip's trusted-host: hosts (or host:port) it may reach over plain http.
    trusted_hosts: frozenset[str] = frozenset()
    # Time allowed for each page or wheel (see runtime.limits); None: no limit.
    budget: limits.Budget | None = None


@dataclass(frozen=True)
class WheelLink:
    filename: str
    url: str
    sha256: str


@dataclass(frozen=True)
class Pin:
    project: str
    version: str


@dataclass(frozen=True)
class ExactFile:
    """One file known in advance by name and sha256 (a tool lock's)."""

    project: str
    filename: str
    sha256: str


# --- which index ---------------------------------------------------------------------


def index_settings(
    env: Mapping[str, str], *, default_url: _Default, site_prefixes: Iterable[Path] = ()
) -> IndexSettings:
    """The index ``pip install`` would read first, with the environment ``env``
    (``default_url``: pip's own default, or how to read it when needed)."""
    sections: dict[str, dict[str, str]] = {"global": {}, "install": {}}
    for path in pip_config.config_files(env, site_prefixes):
        for section, values in _read_config(path).items():
            sections[section].update(values)
    # As pip does: every file's [global], then every file's [install] over it.
    values = {**sections["global"], **sections["install"]}
    for key in ("index-url", "cert", "no-index", "trusted-host"):
        from_env = env.get("PIP_" + key.upper().replace("-", "_"))
        if from_env:
            values[key] = from_env
    if values.get("no-index", "").strip().lower() in _TRUE:
        raise IndexUnavailable("pip is set up not to use an index")
    url = values.get("index-url", "").strip()
    url = url or (default_url() if callable(default_url) else default_url) or ""
    if not url:
        raise IndexUnavailable("pip's default index is not known yet")
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise IndexUnavailable(f"the index {url} is not an http(s) URL")
    return IndexSettings(
        url.rstrip("/"),
        values.get("cert", "").strip() or None,
        frozenset(values.get("trusted-host", "").split()),
        download_budget(env),
    )


def pip_index(
    env: Mapping[str, str], *, pip_wheel: Path | None, site_prefix: Path
) -> IndexSettings:
    """The index ``pip install`` would use, run with ``env`` by the Python
    installed at ``site_prefix``, whose bundled ``pip_wheel`` (if any) knows
    pip's default: read (from a zip of a thousand files) only when needed."""
    return index_settings(
        env,
        default_url=lambda: pip_default_index([pip_wheel] if pip_wheel else []),
        site_prefixes=[site_prefix],
    )


def is_secure(url: str, trusted_hosts: frozenset[str]) -> bool:
    """Whether pip would fetch from ``url``: https, this machine, or a host
    the user trusts; pip ignores an index anywhere else over plain http."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https":
        return True
    if parts.scheme != "http":
        return False
    host = parts.hostname or ""
    from buildpack.runtime import transport_policy

    if transport_policy.is_loopback(host):
        return True
    port = f"{host}:{parts.port}" if parts.port else host
    return host in trusted_hosts or port in trusted_hosts


def _read_config(path: Path) -> dict[str, dict[str, str]]:
    """The [global] and [install] sections, the ones that name indexes."""
    try:
        sections = pip_config.read(path)
    except pip_config.PipConfigError as exc:
        raise IndexUnavailable(str(exc)) from None
    return {name: sections[name] for name in ("global", "install") if name in sections}


# --- finding and fetching ---------------------------------------------------------------


def interpreter(runtime_minor: str | None = None) -> Interpreter:
    """The wheel tags of the Python running this (``runtime_minor`` None) or
    of the app's runtime ``3.X`` on this machine; IndexUnavailable when the
    packaging library that knows them is not there."""
    try:
        from buildpack.selfdeps.wheel_choice import Interpreter
    except ImportError as exc:
        raise _no_packaging(exc) from None
    if runtime_minor is None:
        return Interpreter.running()
    return Interpreter.runtime(runtime_minor)


def _no_packaging(exc: ImportError) -> IndexUnavailable:
    return IndexUnavailable(f"the buildpack's packaging library is not available ({exc})")


def _page_name(project: str) -> str:
    """The index's name for ``project``'s page. Without packaging, the name as
    given: the buildpack's pins and locks name projects canonically."""
    try:
        from packaging.utils import canonicalize_name
    except ImportError:
        return project
    return canonicalize_name(project)


def parse_simple_page(
    page_url: str, text: str, *, containing: str = "", hashless: bool = False
) -> list[WheelLink]:
    """The wheels a PEP 503 page links to that carry a sha256 fragment
    (only those whose link contains ``containing``, to skip other releases;
    with ``hashless``, those without a fragment too, with an empty sha256).

    A regular expression, not html.parser: PyPI's pages for packages with
    many binary wheels run to a megabyte, which html.parser takes a tenth
    of a second per page to read."""
    links = []
    for m in _ANCHOR_HREF.finditer(text):
        raw = m["dq"] if m["dq"] is not None else m["sq"] or m["bare"] or ""
        if containing not in raw:
            continue
        href = html.unescape(raw)
        url, _, fragment = urllib.parse.urljoin(page_url, href).partition("#")
        filename = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        algorithm, _, digest = fragment.partition("=")
        if not filename.endswith(".whl"):
            continue
        if algorithm == "sha256" and len(digest) == 64:
            links.append(WheelLink(filename, url, digest.lower()))
        elif hashless and not fragment:
            links.append(WheelLink(filename, url, ""))
    return links


def choose_wheel(links: Iterable[WheelLink], pin: Pin, interp: Interpreter) -> WheelLink:
    from buildpack.selfdeps.wheel_choice import best_wheel  # importable: interp exists

    by_name = {link.filename: link for link in links}
    best = best_wheel(by_name, pin.project, pin.version, interp)
    if best is None:
        raise IndexUnavailable(f"the index has no wheel of {pin.project} {pin.version} for here")
    return by_name[best]


def release_wheels(index: IndexSettings, pin: Pin) -> list[WheelLink]:
    """Every wheel of the pinned release that the index lists with a sha256
    (reading their names takes packaging: IndexUnavailable without it)."""
    try:
        from buildpack.selfdeps.wheel_choice import same_release
    except ImportError as exc:
        raise _no_packaging(exc) from None
    links = _release_links(index, pin.project, pin.version)
    return [link for link in links if same_release(link.filename, pin.project, pin.version)]


def _release_links(index: IndexSettings, project: str, version: str) -> list[WheelLink]:
    """The links with a sha256 on ``project``'s page that name ``version``."""
    page_url = f"{index.url}/{_page_name(project)}/"
    text = _read_all(index, page_url, _MAX_PAGE_BYTES).decode("utf-8", "replace")
    return parse_simple_page(page_url, text, containing=f"-{version}-")


def find_wheel(index: IndexSettings, pin: Pin, interp: Interpreter) -> WheelLink:
    return choose_wheel(release_wheels(index, pin), pin, interp)


def fetch_locked(index: IndexSettings, locked: LockedFile, dest_dir: Path) -> Path:
    """The file ``locked`` names, from the index, refused unless it is
    byte for byte the one the buildpack's lock holds the sha256 of.
    Standard library only: it fetches the PyPA libraries themselves."""
    for link in _release_links(index, locked.project, locked.version):
        if link.filename == locked.filename:
            if link.sha256 != locked.sha256:
                raise IndexUnavailable(
                    f"the index's {link.filename} is not the file the buildpack locked"
                )
            return fetch_wheel(index, link, dest_dir)
    raise IndexUnavailable(f"the index lists no {locked.filename} with a sha256")


def fetch_wheel(index: IndexSettings, link: WheelLink, dest_dir: Path) -> Path:
    """Download ``link`` into ``dest_dir``, checked against its sha256 (the
    index's, or a lock's)."""
    dest = dest_dir / link.filename
    if dest.name != link.filename or link.filename.startswith("."):
        raise IndexUnavailable(f"the index names an unusable file: {link.filename!r}")
    digest = hashlib.sha256()
    try:
        with open(dest, "wb") as f:
            for chunk in _chunks(index, link.url, _MAX_WHEEL_BYTES, "any wheel we expect"):
                digest.update(chunk)
                f.write(chunk)
    except BaseException:
        dest.unlink(missing_ok=True)
        raise
    if digest.hexdigest() != link.sha256:
        dest.unlink(missing_ok=True)
        raise IndexUnavailable(f"{link.filename} does not match the sha256 it should have")
    return dest


def fetch_pinned(
    index: IndexSettings,
    pins: list[Pin],
    interp: Interpreter,
    dest_dir: Path,
    *,
    then: Callable[[Path], object] | None = None,
) -> list[Path]:
    """Find and download every pin at once (they are small and latency-bound),
    calling ``then`` on each wheel as soon as it is there."""

    def one(pin: Pin) -> Path:
        wheel = fetch_wheel(index, find_wheel(index, pin, interp), dest_dir)
        if then is not None:
            then(wheel)
        return wheel

    return in_parallel(one, pins)


def find_exact(index: IndexSettings, wanted: ExactFile) -> WheelLink:
    """The link to ``wanted`` on its project's page. The sha256 is the one
    given (the page's, if it lists one, must be the same)."""
    page_url = f"{index.url}/{_page_name(wanted.project)}/"
    text = _read_all(index, page_url, _MAX_PAGE_BYTES).decode("utf-8", "replace")
    version = wanted.filename.split("-")[1] if wanted.filename.count("-") >= 4 else ""
    for link in parse_simple_page(page_url, text, containing=f"-{version}-", hashless=True):
        if link.filename != wanted.filename:
            continue
        if link.sha256 and link.sha256 != wanted.sha256:
            raise IndexUnavailable(f"the index's sha256 of {wanted.filename} is not the lock's")
        return WheelLink(link.filename, link.url, wanted.sha256)
    raise IndexUnavailable(f"the index has no {wanted.filename}")


def fetch_exact(
    index: IndexSettings, files: list[ExactFile], dest_dir: Path, *, workers: int
) -> list[Path]:
    """Find and download every file, at most ``workers`` at once, each
    checked against its sha256; the first failure cancels the rest."""
    return in_parallel(
        lambda wanted: fetch_wheel(index, find_exact(index, wanted), dest_dir), files, workers
    )


T = TypeVar("T")


def in_parallel(action: Callable[[T], Path], items: list[T], workers: int = 8) -> list[Path]:
    """``action`` on each item, ``workers`` at once; the first failure cancels the rest."""
    if len(items) <= 1:
        return [action(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)))
    try:
        return list(pool.map(action, items))
    finally:
        # After a failure, what has not started yet never starts.
        pool.shutdown(wait=True, cancel_futures=True)


def _open(index: IndexSettings, url: str) -> contextlib.AbstractContextManager[Response]:
    if not is_secure(url, index.trusted_hosts):
        raise IndexUnavailable(f"{url} is neither https nor a trusted host")
    from buildpack.runtime import download

    return download.fetch_stream(
        url,
        connect_timeout=_CONNECT_TIMEOUT,
        read_timeout=_READ_TIMEOUT,
        retries=_RETRIES,
        backoff=_BACKOFF,
        # requests once the buildpack's libraries are importable, urllib before.
        transport="auto",
        cafile=index.cafile,
        budget=index.budget,
    )


def _read_all(index: IndexSettings, url: str, limit: int) -> bytes:
    return b"".join(_chunks(index, url, limit, "an index page can be"))


def _chunks(index: IndexSettings, url: str, limit: int, what: str) -> Iterator[bytes]:
    """The body of ``url``, refused past ``limit`` bytes ("larger than ``what``")."""
    from buildpack.runtime import download, limits

    size = 0
    try:
        with _open(index, url) as response:
            while chunk := response.raw.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise IndexUnavailable(f"{url} is larger than {what}")
                yield chunk
    except (limits.TooSlow, limits.MirrorTooSlow) as exc:
        # Not IndexUnavailable: pip, the fallback, would wait on the same index.
        raise errors.index_too_slow(exc.url, exc.problem) from None
    except download.DownloadError as exc:
        raise IndexUnavailable(f"{exc.url}: {exc.problem}") from None
