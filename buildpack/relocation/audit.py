"""The relocation audit: search the Python home for the build directory, say what is left."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from buildpack.core import forked
from buildpack.relocation.boot_script import app_relative_prefix
from buildpack.relocation.path_rewrite import (
    BINARY_SNIFF_BYTES,
    Rewriter,
)
from buildpack.relocation.records import is_editable_finder, path_spellings

_AUDIT_CHUNK_BYTES = 1024 * 1024
# How many files of one kind the build log lists before summarising.
_LIST_LIMIT = 20
_BINARY_LIST_LIMIT = 5

KINDS = (
    "entrypoint script",
    ".pth",
    "egg-link",
    "editable finder",
    "direct_url.json",
    "RECORD",
    "symlink",
    "other text",
    "binary",
)


@dataclass(frozen=True)
class Finding:
    # Relative to the app root, like the boot rewrite's file list.
    path: str
    kind: str


@dataclass
class AuditResult:
    build_dir: str
    # Where the search ran, as shown in the log (".heroku/python").
    location: str
    findings: list[Finding] = field(default_factory=list)
    boot_rewritten: frozenset[str] = frozenset()
    files_scanned: int = 0
    unreadable: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.findings and not self.unreadable

    def is_boot_rewritten(self, finding: Finding) -> bool:
        return finding.kind != "binary" and finding.path in self.boot_rewritten

    @property
    def unfixed(self) -> list[Finding]:
        """Files that will still name the build directory when the app runs."""
        return [
            f for f in self.findings if f.kind != "binary" and f.path not in self.boot_rewritten
        ]

    @property
    def binaries(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "binary"]

    def summary_lines(self) -> list[str]:
        if self.clean:
            return [
                f"Relocation check: no file under {self.location} refers to the build directory."
            ]
        count = len(self.findings)
        lines = [
            f"Relocation check: {_files(count)} under {self.location} "
            f"{'refers' if count == 1 else 'refer'} to the build directory ({self.build_dir}):"
        ]
        for kind in KINDS:
            group = [f for f in self.findings if f.kind == kind]
            if not group:
                continue
            if kind == "binary":
                lines.append(f"  binary ({len(group)}, counted, not edited):")
                limit = _BINARY_LIST_LIMIT
            else:
                lines.append(f"  {kind} ({len(group)}):")
                limit = _LIST_LIMIT
            for finding in group[:limit]:
                mark = " (rewritten at boot)" if self.is_boot_rewritten(finding) else ""
                lines.append(f"    {finding.path}{mark}")
            if len(group) > limit:
                lines.append(f"    ... and {len(group) - limit} more")
        unfixed = len(self.unfixed)
        if unfixed:
            lines.append(
                f"Not fixed: {_files(unfixed)} above still "
                f"{'names' if unfixed == 1 else 'name'} the build directory and nothing "
                "rewrites them; that path will not exist when the app runs."
            )
        elif any(self.is_boot_rewritten(f) for f in self.findings):
            lines.append("Every text file listed is rewritten to the app's directory at boot.")
        if self.unreadable:
            lines.append(
                f"Could not read {_files(len(self.unreadable))}: "
                + ", ".join(self.unreadable[:_BINARY_LIST_LIMIT])
                + (" ..." if len(self.unreadable) > _BINARY_LIST_LIMIT else "")
            )
        return lines

    def report_fields(self) -> dict[str, int]:
        return {
            "relocation_findings_count": len(self.findings),
            "relocation_unfixed_count": len(self.unfixed),
            "relocation_boot_rewritten_count": sum(
                1 for f in self.findings if self.is_boot_rewritten(f)
            ),
            "relocation_binary_count": len(self.binaries),
        }


def _files(n: int) -> str:
    return f"{n} file" if n == 1 else f"{n} files"


def audit(python_home: Path, *, build_dir: Path, boot_rewritten: set[str]) -> AuditResult:
    """Search every file under ``python_home`` for the build directory's path.

    Walks the real tree without following symlinks (a symlink whose target
    names the build directory is itself a finding). Text files are listed by
    kind; binary files (a NUL in the first 8 KiB: .pyc, .so) only counted.
    Files are streamed in chunks, so large binaries cost no memory.
    """
    matcher = Rewriter(path_spellings(build_dir))
    prefix = app_relative_prefix(python_home, build_dir)
    result = AuditResult(
        build_dir=os.fspath(build_dir),
        location=prefix.rstrip("/") or os.fspath(python_home),
        boot_rewritten=frozenset(boot_rewritten),
    )
    root = os.fspath(python_home).rstrip("/") or "/"
    skip = len(root) + 1 if root != "/" else 1
    # Enough context on both sides of a chunk boundary for any spelling.
    overlap = matcher.longest + 1
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError:
            result.unreadable.append(prefix + directory[skip:])
            continue
        for entry in entries:
            # scandir joins the directory and the name, so this is relpath.
            rel = entry.path[skip:]
            if entry.is_symlink():
                try:
                    target = os.readlink(entry.path)
                except OSError:
                    continue
                if matcher.mentions(os.fsencode(target)):
                    result.findings.append(Finding(prefix + rel, "symlink"))
            elif entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                result.files_scanned += 1
                try:
                    found, binary = _search_file(entry.path, matcher, overlap)
                except OSError:
                    result.unreadable.append(prefix + rel)
                    continue
                if found:
                    result.findings.append(Finding(prefix + rel, _kind(rel, binary)))
    result.findings.sort(key=lambda f: f.path)
    result.unreadable.sort()
    return result


class Begun:
    """``audit``, begun in a forked child when the build runs no other
    thread (core.forked): it reads the whole Python home, which the build
    need not wait for while it saves the cache. Else done in process now."""

    def __init__(
        self,
        python_home: Path,
        *,
        build_dir: Path,
        boot_rewritten: set[str],
        child: bool | None = None,  # decided here when None
    ) -> None:
        self._work: Callable[[], AuditResult] = functools.partial(
            audit, python_home, build_dir=build_dir, boot_rewritten=boot_rewritten
        )
        self._child = forked.start(self._work, "the relocation check", wanted=child)
        self.how = "child process" if self._child else "build process"
        self._result = None if self._child else self._work()

    def result(self) -> AuditResult:
        if self._result is None:
            assert self._child is not None
            try:
                self._result = self._child.result()
            except forked.ChildFailed:  # killed from outside: read it here
                self._result = self._work()
        return self._result

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()


def _search_file(path: str, matcher: Rewriter, overlap: int) -> tuple[bool, bool]:
    """(mentions the path, is binary), reading in chunks with an overlap so a
    path split across two chunks is still found."""
    with open(path, "rb", buffering=0) as f:
        chunk = f.read(_AUDIT_CHUNK_BYTES)
        binary = b"\0" in chunk[:BINARY_SNIFF_BYTES]
        mentions = matcher.mentions_in_binary if binary else matcher.mentions
        tail = b""
        while chunk:
            data = tail + chunk if tail else chunk
            if mentions(data):
                return True, binary
            tail = data[-overlap:]
            chunk = f.read(_AUDIT_CHUNK_BYTES)
    return False, binary


def _kind(rel: str, binary: bool) -> str:
    if binary:
        return "binary"
    parent, name = os.path.split(rel)
    if parent == "bin":
        return "entrypoint script"
    if name.endswith(".pth"):
        return ".pth"
    if name.endswith(".egg-link"):
        return "egg-link"
    if is_editable_finder(name):
        return "editable finder"
    if parent.endswith(".dist-info") and name == "direct_url.json":
        return "direct_url.json"
    if parent.endswith(".dist-info") and name == "RECORD":
        return "RECORD"
    return "other text"
