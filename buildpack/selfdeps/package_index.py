"""Fetching exactly pinned wheels from the package index pip is set up to use.

Running pip to install one pinned wheel costs seconds of CPU on a small
machine (it starts, compiles itself, weighs every file of every release).
For the few pins the buildpack installs itself (its own dependencies and
the package managers) that is avoidable: read the index's simple page
(PEP 503), take the file of the pinned version that suits the interpreter,
check it against the sha256 the index gives, and unpack it.

Which index: the one pip would use first (PIP_INDEX_URL, else ``index-url``
from pip's config files, else pip's own default, read from pip's source so
no address is spelled here). Anything this cannot settle for sure (no index,
plain http to a host pip would not trust, no sha256 on the page, no
suitable file, a network error) raises ``IndexUnavailable``, and the caller
runs pip as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import importlib.util
import re
import urllib.parse
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from buildpack.core import errors
from buildpack.core.settings import Settings, buildpack_root
from buildpack.runtime import download, limits, transport_policy
from buildpack.runtime.download_settings import budget_from_env
from buildpack.runtime.transports import Response
from buildpack.selfdeps import pip_config
from buildpack.selfdeps.wheel_lock import LockedFile
from buildpack.selfdeps.wheel_tags import Interpreter, parse_wheel_name, rank

# The href of each <a> tag, however it is quoted.
_ANCHOR_HREF = re.compile(
    r"""<a\s[^>]*?\bhref\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s>]+))""",
    re.IGNORECASE,
)
_PIP_DEFAULT = re.compile(r"""\bPyPI\s*=\s*PackageIndex\(\s*["']([^"']+)["']""")
_MAX_PAGE_BYTES = 32 * 1024 * 1024
_MAX_WHEEL_BYTES = 256 * 1024 * 1024
_CHUNK = 1024 * 1024
_TRUE = frozenset({"1", "true", "yes", "on", "y", "t"})
# Quick to give up: on any trouble pip, with its own retries, takes over.
_CONNECT_TIMEOUT = 5.0
_READ_TIMEOUT = 20.0
_RETRIES = 1
_BACKOFF = 0.5


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


def default_index_url(pip_source: str) -> str | None:
    """pip's default simple index, from the text of pip/_internal/models/index.py."""
    m = _PIP_DEFAULT.search(pip_source)
    return urllib.parse.urljoin(m[1], "simple") if m else None


def pip_default_index(bundled_wheels: Iterable[Path] = ()) -> str | None:
    """pip's default index, read from the interpreter's own pip or a pip wheel,
    without importing pip (importing it costs a tenth of a second)."""
    spec = importlib.util.find_spec("pip")
    if spec is not None and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            source = Path(location, "_internal", "models", "index.py")
            try:
                return default_index_url(source.read_text(encoding="utf-8"))
            except OSError:
                continue
    for wheel in bundled_wheels:
        try:
            with zipfile.ZipFile(wheel) as zf:
                text = zf.read("pip/_internal/models/index.py").decode("utf-8")
        except (OSError, KeyError, zipfile.BadZipFile, UnicodeDecodeError):
            continue
        return default_index_url(text)
    return None


def index_settings(
    env: Mapping[str, str], *, default_url: str | None, site_prefixes: Iterable[Path] = ()
) -> IndexSettings:
    """The index ``pip install`` would read first, with the environment ``env``."""
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
    url = values.get("index-url", "").strip() or default_url
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


def download_budget(env: Mapping[str, str]) -> limits.Budget:
    """buildpack.toml's download budget, with the overrides ``env`` sets."""
    return budget_from_env(env, Settings.load(buildpack_root() / "buildpack.toml"))


def pip_index(
    env: Mapping[str, str], *, pip_wheel: Path | None, site_prefix: Path
) -> IndexSettings:
    """The index ``pip install`` would use, run with ``env`` by the Python
    installed at ``site_prefix``, whose bundled ``pip_wheel`` (if any) knows
    pip's default."""
    return index_settings(
        env,
        default_url=pip_default_index([pip_wheel] if pip_wheel else []),
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


def canonical_name(project: str) -> str:
    return re.sub(r"[-_.]+", "-", project).lower()


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
    best: tuple[int, WheelLink] | None = None
    for link in links:
        wheel = parse_wheel_name(link.filename)
        if wheel is None or canonical_name(wheel.name) != canonical_name(pin.project):
            continue
        if wheel.version != pin.version:
            continue
        score = rank(link.filename, interp)
        if score is not None and (best is None or score > best[0]):
            best = (score, link)
    if best is None:
        raise IndexUnavailable(f"the index has no wheel of {pin.project} {pin.version} for here")
    return best[1]


def release_wheels(index: IndexSettings, pin: Pin) -> list[WheelLink]:
    """Every wheel of the pinned release that the index lists with a sha256."""
    page_url = f"{index.url}/{canonical_name(pin.project)}/"
    data = _read_all(index, page_url, _MAX_PAGE_BYTES)
    text = data.decode("utf-8", "replace")
    links = []
    for link in parse_simple_page(page_url, text, containing=f"-{pin.version}-"):
        wheel = parse_wheel_name(link.filename)
        same_project = wheel is not None and canonical_name(wheel.name) == canonical_name(
            pin.project
        )
        if same_project and wheel is not None and wheel.version == pin.version:
            links.append(link)
    return links


def find_wheel(index: IndexSettings, pin: Pin, interp: Interpreter) -> WheelLink:
    return choose_wheel(release_wheels(index, pin), pin, interp)


def fetch_locked(index: IndexSettings, locked: LockedFile, dest_dir: Path) -> Path:
    """The file ``locked`` names, from the index, refused unless it is
    byte for byte the one the buildpack's lock holds the sha256 of."""
    for link in release_wheels(index, Pin(locked.project, locked.version)):
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
    then: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Find and download every pin at once (they are small and latency-bound),
    calling ``then`` on each wheel as soon as it is there."""

    def one(pin: Pin) -> Path:
        wheel = fetch_wheel(index, find_wheel(index, pin, interp), dest_dir)
        if then is not None:
            then(wheel)
        return wheel

    return _in_parallel(one, pins)


def find_exact(index: IndexSettings, wanted: ExactFile) -> WheelLink:
    """The link to ``wanted`` on its project's page. The sha256 is the one
    given (the page's, if it lists one, must be the same)."""
    page_url = f"{index.url}/{canonical_name(wanted.project)}/"
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
    return _in_parallel(
        lambda wanted: fetch_wheel(index, find_exact(index, wanted), dest_dir), files, workers
    )


T = TypeVar("T")


def _in_parallel(action: Callable[[T], Path], items: list[T], workers: int = 8) -> list[Path]:
    if len(items) <= 1:
        return [action(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=min(workers, len(items)))
    try:
        return list(pool.map(action, items))
    finally:
        # After a failure, what has not started yet never starts.
        pool.shutdown(wait=True, cancel_futures=True)


def _open(index: IndexSettings, url: str) -> contextlib.AbstractContextManager[Response]:
    if not is_secure(url, index.trusted_hosts):
        raise IndexUnavailable(f"{url} is neither https nor a trusted host")
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
