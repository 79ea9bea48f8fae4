"""A runtime mirror's manifest, ``runtimes.json``: what archives the mirror holds.

tools/pack-runtime and tools/build-runtime keep it beside the archives::

    {"schema": 1, "runtimes": [{"file": "python-3.13.15-ubuntu-24.04-amd64.tar.zst",
      "version": "3.13.15", "stack": "heroku-24", "arch": "amd64",
      "size": 31000000, "sha256": "..."}]}

When the mirror serves one, a minor version (``3.13``, or the default)
resolves to the newest patch the mirror has for the stack and CPU, and an
exact version it lacks fails before any download, listing what it has.
Heroku's bucket has no manifest, so the buildpack never asks it for one.
The ``.sha256`` beside each archive stays the integrity check; the
manifest's checksum must agree with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from buildpack.core import errors, forked
from buildpack.core.context import BuildContext, Deferred
from buildpack.core.settings import Settings

MANIFEST_NAME = "runtimes.json"
SCHEMA = 1
# Thousands of entries fit in far less; more is not a manifest.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024

# A final release, X.Y.Z: what a runtime archive holds (the tools check it too).
FULL_VERSION = re.compile(r"(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\.(0|[1-9][0-9]{0,5})\Z")
_SHA256 = re.compile(r"[0-9a-f]{64}\Z")
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_STACK = re.compile(r"[a-z0-9][a-z0-9-]*\Z")


class ManifestError(ValueError):
    """The manifest is not one this buildpack can read; the message says why."""


@dataclass(frozen=True)
class RuntimeEntry:
    file: str
    version: str
    stack: str
    arch: str
    size: int
    sha256: str

    @property
    def version_key(self) -> tuple[int, ...]:
        return version_key(self.version)

    def as_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "version": self.version,
            "stack": self.stack,
            "arch": self.arch,
            "size": self.size,
            "sha256": self.sha256,
        }


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def parse_manifest(data: bytes) -> list[RuntimeEntry]:
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ManifestError(f"it is not JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ManifestError(f'it is not a {{"schema": {SCHEMA}, "runtimes": [...]}} object')
    runtimes = doc.get("runtimes")
    if not isinstance(runtimes, list):
        raise ManifestError("its 'runtimes' is not a list")
    entries = [_entry(item, index) for index, item in enumerate(runtimes)]
    files = [entry.file for entry in entries]
    if len(set(files)) != len(files):
        raise ManifestError("it lists a file more than once")
    return entries


def encode_manifest(entries: list[RuntimeEntry]) -> bytes:
    """The manifest's bytes: entries sorted by stack, arch and version."""
    ordered = sorted(entries, key=lambda e: (e.stack, e.arch, e.version_key, e.file))
    doc = {"schema": SCHEMA, "runtimes": [entry.as_json() for entry in ordered]}
    return (json.dumps(doc, indent=2) + "\n").encode()


def _entry(item: object, index: int) -> RuntimeEntry:
    if not isinstance(item, dict):
        raise ManifestError(f"runtimes[{index}] is not an object")
    fields = {}
    for name, kind in (
        ("file", str),
        ("version", str),
        ("stack", str),
        ("arch", str),
        ("size", int),
        ("sha256", str),
    ):
        value = item.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ManifestError(f"runtimes[{index}].{name} is missing or not a {kind.__name__}")
        fields[name] = value
    entry = RuntimeEntry(**fields)  # type: ignore[arg-type]
    checks = (
        (_FILE.match(entry.file), "file"),
        (FULL_VERSION.match(entry.version), "version"),
        (_STACK.match(entry.stack), "stack"),
        (entry.arch in ("amd64", "arm64"), "arch"),
        (entry.size >= 0, "size"),
        (_SHA256.match(entry.sha256), "sha256"),
    )
    for ok, name in checks:
        if not ok:
            raise ManifestError(f"runtimes[{index}].{name} is not valid: {item.get(name)!r}")
    return entry


# --- the build's view: what the mirror has for this stack and CPU ----------------


@dataclass(frozen=True)
class MirrorRuntimes:
    url: str  # the manifest's address
    stack: str
    arch: str
    entries: tuple[RuntimeEntry, ...]  # for this stack and arch, oldest first

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(entry.version for entry in self.entries)

    @property
    def where(self) -> str:
        return f"{self.url} ({self.stack}, {self.arch})"

    def entry_for(self, file: str) -> RuntimeEntry | None:
        return next((entry for entry in self.entries if entry.file == file), None)


class Answer(NamedTuple):
    """What the mirror answered when asked for its manifest."""

    data: bytes | None  # None: it has none, or no answer came
    unreachable: str = ""  # why it could not be asked
    too_large: bool = False


class Asked(NamedTuple):
    """The manifest at ``url``, being asked for in a child process."""

    url: str
    child: forked.Child[Answer]


def read_ahead(ctx: BuildContext) -> None:
    """Begin asking an own mirror for its manifest in a child process, for
    ``load`` to take; the build stops it however it ends.

    Asking needs the HTTP side of the standard library (urllib, http.client,
    ssl, email: 20 to 30 ms of imports) and a round trip, which an
    unchanged rebuild needs for nothing else. Begun before the build
    imports its own modules, the answer comes on the other core meanwhile.
    Only where a fork is safe (core.forked); a setting the buildpack cannot
    use makes the child fail, and ``load`` then asks again itself, so that
    the error comes in its usual place.
    """
    from buildpack.runtime import runtime

    try:
        base = runtime.base_url(ctx)
    except errors.BuildError:
        return
    if base == ctx.settings.runtime_base_url.rstrip("/"):
        return  # Heroku's bucket publishes no manifest
    url = f"{base}/{MANIFEST_NAME}"
    setting, settings = ctx.setting, ctx.settings
    # Named without the address, which may hold credentials.
    child = forked.start(lambda: _ask(url, setting, settings), f"the mirror's {MANIFEST_NAME}")
    if child is not None:
        ctx.manifest_ahead = Asked(url, child)
        ctx.deferred.append(Deferred(finish=child.stop, stop=child.stop))


def load(ctx: BuildContext, base_url: str) -> MirrorRuntimes | None:
    """The manifest of the mirror at ``base_url`` for the build's stack and
    CPU; None without one.

    A mirror that answers 404 or 403 has none. One that cannot be reached
    is asked once more, quietly, then the build goes on without it, with a
    note in the log: the runtime download, with its own retries, then
    reports the network problem (or a cached runtime is used) instead of
    the build waiting out every retry twice.
    """
    url = f"{base_url}/{MANIFEST_NAME}"
    answer = _taken(ctx, url)
    ctx.report.set("runtime_manifest_read_ahead", answer is not None)
    if answer is None:
        answer = _ask(url, ctx.setting, ctx.settings)
    if answer.unreachable:
        problem = answer.unreachable
        ctx.out.info(
            f"Could not read the mirror's {MANIFEST_NAME} ({problem}); going on without it"
        )
        return None
    if answer.too_large:
        raise errors.runtime_manifest_invalid(url, f"it is larger than {MAX_MANIFEST_BYTES} bytes")
    if answer.data is None:
        return None
    try:
        entries = parse_manifest(answer.data)
    except ManifestError as exc:
        raise errors.runtime_manifest_invalid(url, str(exc)) from None
    mine = sorted(
        (e for e in entries if e.stack == ctx.stack and e.arch == ctx.arch),
        key=lambda e: e.version_key,
    )
    return MirrorRuntimes(url, ctx.stack, ctx.arch, tuple(mine))


def _taken(ctx: BuildContext, url: str) -> Answer | None:
    """The read-ahead's answer, if it asked for ``url`` and ended well."""
    asked, ctx.manifest_ahead = ctx.manifest_ahead, None
    if asked is None:
        return None
    try:
        return asked.child.result() if asked.url == url else None
    except forked.ChildFailed:
        return None  # asked again here, where any error has its own message
    finally:
        asked.child.stop()


def _ask(url: str, setting: Callable[[str], str | None], settings: Settings) -> Answer:
    from buildpack.runtime import download
    from buildpack.runtime.download_settings import settings_from

    tuning = settings_from(setting, settings)
    try:
        with download.fetch_stream(
            url,
            connect_timeout=tuning.connect_timeout,
            read_timeout=tuning.read_timeout,
            retries=min(tuning.retries, 1),
            backoff=tuning.backoff,
            out=None,
            # One small file: importing requests (compiled from source each
            # build, as nothing in CACHE_DIR may bring bytecode) costs more.
            # Both transports keep the same rules (transport_policy).
            transport="urllib",
            budget=tuning.budget,
        ) as response:
            data = download.read_bounded(response.raw, MAX_MANIFEST_BYTES)
    except download.NotFound:
        return Answer(None)
    except download.DownloadError as exc:
        return Answer(None, unreachable=exc.problem)
    return Answer(data, too_large=data is None)
