"""What a pip requirements file depends on: the files it includes, and
whether its requirements name only packages (nothing read from a path or URL).

The build cache needs both: a change in any included file must discard the
cache (pip does not remove what a file no longer lists), and pip may be
skipped on an unchanged rebuild only when every requirement is a plain name,
because an already-installed name stays "already satisfied" while a local
path, a URL or an editable install can change without the file changing.

This follows pip's rules: ``#`` comments, ``\\`` continuations, ``-r``/``-c``
(with the path relative to the including file, unless absolute or a URL).
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from buildpack.cache.install_inputs import MISSING

REMOTE = "remote"

# pip's own comment rule: a "#" at the start or after whitespace.
_COMMENT = re.compile(r"(^|\s+)#.*$")
_INCLUDE_OPTIONS = {
    "-r": "requirement",
    "--requirement": "requirement",
    "-c": "constraint",
    "--constraint": "constraint",
}
# Options whose effect is on what to download or build. Once every named
# requirement is installed, pip consults none of them.
_HARMLESS_OPTIONS = {
    "-i",
    "--index-url",
    "--extra-index-url",
    "--no-index",
    "-f",
    "--find-links",
    "--pre",
    "--prefer-binary",
    "--only-binary",
    "--no-binary",
    "--require-hashes",
    "--trusted-host",
    "--use-feature",
}
_ARCHIVE_SUFFIXES = (
    ".whl",
    ".zip",
    ".tar",
    ".tar.gz",
    ".tgz",
    ".tar.bz2",
    ".tbz",
    ".tar.xz",
    ".txz",
    ".tlz",
    ".tar.lz",
    ".tar.lzma",
)


@dataclass
class RequirementFiles:
    # Every file read, keyed as written relative to the app ("requirements.txt",
    # "requirements/base.txt") or absolute outside it; the value is its sha256,
    # MISSING, or REMOTE for an http(s) include that cannot be hashed here.
    hashes: dict[str, str] = field(default_factory=dict)
    # Why pip's result may differ with identical files, as far as the files'
    # options, includes and variables tell; the requirements themselves are
    # looked at by names_not_plain().
    not_plain: list[str] = field(default_factory=list)
    # Every requirement line: (the file's key, the requirement).
    requirements: list[tuple[str, str]] = field(default_factory=list)

    def names_not_plain(self) -> list[str]:
        """Why some requirements may change without the files changing: each
        one not by name, or naming what may be a local file. The costly part
        (packaging parses each one), so it is asked for only when needed."""
        found = []
        for key, spec in self.requirements:
            name = named_requirement(spec)
            if name is None:
                found.append(f"{key}: not a requirement by name: {spec}")
            elif name.lower().endswith(_ARCHIVE_SUFFIXES):
                # pip installs "foo.zip" or "foo-1.0.tar.gz" from a file when one exists.
                found.append(f"{key}: may name a local file: {spec}")
        return found

    @property
    def plain(self) -> bool:
        return not self.not_plain and not self.names_not_plain()


def collect(app_dir: Path, roots: list[str]) -> RequirementFiles:
    """Hash ``roots`` (paths relative to ``app_dir``) and all they include."""
    result = RequirementFiles()
    seen: set[str] = set()
    for root in roots:
        _visit(app_dir, app_dir / root, result, seen, depth=0)
    return result


def _key(app_dir: Path, path: Path) -> str:
    absolute = os.path.normpath(os.path.join(app_dir, path))
    rel = os.path.relpath(absolute, app_dir)
    return absolute if rel.startswith("..") else rel


def _visit(app_dir: Path, path: Path, result: RequirementFiles, seen: set[str], depth: int) -> None:
    key = _key(app_dir, path)
    if key in seen:
        return  # pip would loop on an include cycle and fail; we just stop
    seen.add(key)
    try:
        data = path.read_bytes()
    except OSError:
        result.hashes[key] = MISSING
        return
    result.hashes[key] = hashlib.sha256(data).hexdigest()
    if depth > 50:
        return
    text = data.decode("utf-8", "replace")
    for line in _logical_lines(text):
        _parse_line(app_dir, path, line, result, seen, depth, key)


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = pending + raw
        # A comment line ends a continuation, as in pip.
        if line.endswith("\\") and not _COMMENT.match(raw):
            pending = line[:-1]
            continue
        pending = ""
        line = _COMMENT.sub("", line).strip()
        if line:
            lines.append(line)
    if pending.strip():
        lines.append(_COMMENT.sub("", pending).strip())
    return [line for line in lines if line]


def _parse_line(
    app_dir: Path,
    path: Path,
    line: str,
    result: RequirementFiles,
    seen: set[str],
    depth: int,
    key: str,
) -> None:
    if "${" in line:
        # pip substitutes environment variables; the file alone does not say what.
        result.not_plain.append(f"{key}: uses an environment variable: {line}")
    if not line.startswith("-"):
        _add_requirement(line, result, key)
        return
    try:
        tokens = shlex.split(line)
    except ValueError:
        result.not_plain.append(f"{key}: cannot parse: {line}")
        return
    i = 0
    while i < len(tokens):
        option, value, i = _next_option(tokens, i)
        if option in _INCLUDE_OPTIONS:
            if value is None:
                continue
            _include(app_dir, path, value, result, seen, depth)
        elif option in ("-e", "--editable"):
            result.not_plain.append(f"{key}: editable install: {line}")
        elif option not in _HARMLESS_OPTIONS:
            result.not_plain.append(f"{key}: option {option}")


def _next_option(tokens: list[str], i: int) -> tuple[str, str | None, int]:
    token = tokens[i]
    if token.startswith("--"):
        name, eq, value = token.partition("=")
        if eq:
            return name, value, i + 1
    elif len(token) > 2 and token[:2] in ("-r", "-c", "-e", "-i", "-f"):
        return token[:2], token[2:], i + 1
    else:
        name = token
    value_next = tokens[i + 1] if i + 1 < len(tokens) else None
    if (
        name in _INCLUDE_OPTIONS
        or name in ("-e", "--editable", "-i", "-f")
        or name
        in (
            "--index-url",
            "--extra-index-url",
            "--find-links",
            "--only-binary",
            "--no-binary",
            "--trusted-host",
            "--use-feature",
        )
    ):
        return name, value_next, i + 2
    return name, None, i + 1


def _include(
    app_dir: Path,
    parent: Path,
    value: str,
    result: RequirementFiles,
    seen: set[str],
    depth: int,
) -> None:
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
        if value.startswith("file://"):
            _visit(app_dir, Path(value[len("file://") :]), result, seen, depth + 1)
            return
        result.hashes[value] = REMOTE
        result.not_plain.append(f"includes a remote file: {value}")
        return
    target = Path(value) if os.path.isabs(value) else parent.parent / value
    _visit(app_dir, target, result, seen, depth + 1)


def _add_requirement(line: str, result: RequirementFiles, key: str) -> None:
    # Per-requirement options (--hash=..., --config-settings) follow the spec.
    spec = re.split(r"\s+--?[A-Za-z]", line, maxsplit=1)[0].strip()
    result.requirements.append((key, spec))


def named_requirement(spec: str) -> str | None:
    """The project a PEP 508 requirement names, if it is one by name (extras,
    versions and markers, but no URL); None for anything else, and when the
    packaging library that parses it is not there (then nothing is proven)."""
    try:
        from packaging.requirements import InvalidRequirement, Requirement
    except ImportError:
        return None
    try:
        requirement = Requirement(spec)
    except InvalidRequirement:
        return None
    return requirement.name if requirement.url is None else None
