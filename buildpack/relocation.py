"""Making what was installed in BUILD_DIR work when the slug runs at /app.

Everything runs through /app/.heroku/python (a symlink to the build's Python
home during the build), so installers normally write /app paths. This module
repairs what slips through, and proves the result:

- ``fix_shebangs``: entrypoint scripts whose interpreter is the build
  directory's Python (an installer resolved the symlink) would die at boot
  with "not found"; their first lines are pointed at /app.
- ``rewrite_build_paths``: the same for editable-install records under the
  Python home (VCS checkouts in .heroku/python/src), done at build time
  because the /app symlink makes the new paths valid for later buildpacks too.
- ``boot_rewrite_script``: paths to the app's own source (``-e .``) must keep
  naming BUILD_DIR while later buildpacks run, so they are rewritten to $HOME
  at dyno boot instead.
- ``audit``: searches the whole Python home for the build directory and says
  what is left, and whether anything will fix it.
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from buildpack import path_rewrite
from buildpack.path_rewrite import BINARY_SNIFF_BYTES, Rewriter, rewrite_file, write_atomically

# A shebang line is at most a few hundred bytes; the trampoline's exec line
# holds a path (PATH_MAX is 4096). Reading this much decides every script.
_SCRIPT_HEAD_BYTES = 8192
# The second line of the sh trampoline that pip (distlib) and uv write when
# the interpreter path is too long for a shebang or contains spaces.
_TRAMPOLINE_EXEC = b"'''exec'"

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


def path_spellings(path: Path) -> list[str]:
    """``path`` as given, made absolute, and with symlinks resolved.

    Installers may have recorded any of them: /tmp/build_x as given, or the
    real location when /tmp (or a parent of BUILD_DIR) is a symlink.
    """
    spellings: list[str] = []
    given = os.fspath(path)
    for spelling in (given, os.path.abspath(given), os.path.realpath(given)):
        spelling = spelling.rstrip("/") or "/"
        if spelling not in spellings:
            spellings.append(spelling)
    return spellings


# --- shebangs ----------------------------------------------------------------


def fix_shebangs(bin_dir: Path, *, build_python_home: Path, app_python_home: Path) -> list[Path]:
    """Point scripts in ``bin_dir`` that run the build's Python at the app's.

    Only the interpreter lines change: the shebang, and for the sh trampoline
    its ``'''exec'`` line. Binaries, symlinks and scripts that do not name the
    build's Python home are not rewritten. Returns the scripts fixed.
    """
    rewriter = Rewriter(path_spellings(build_python_home), os.fspath(app_python_home))
    if not rewriter:
        return []
    fixed: list[Path] = []
    try:
        entries = sorted(os.scandir(bin_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return []
    for entry in entries:
        # A symlink's target is either in bin_dir (checked as itself) or not
        # ours to edit.
        if entry.is_file(follow_symlinks=False) and _fix_script(entry.path, rewriter):
            fixed.append(Path(entry.path))
    return fixed


def _fix_script(path: str, rewriter: Rewriter) -> bool:
    with open(path, "rb") as script:
        head = script.read(_SCRIPT_HEAD_BYTES)
        if not head.startswith(b"#!"):
            return False
        end = _interpreter_lines_end(head, at_eof=len(head) < _SCRIPT_HEAD_BYTES)
        if end is None:
            return False
        new_lines, count = rewriter.sub(head[:end])
        if not count:
            return False
        mode = os.fstat(script.fileno()).st_mode

        def write(out: BinaryIO) -> None:
            out.write(new_lines)
            script.seek(end)
            shutil.copyfileobj(script, out)

        write_atomically(path, write, mode)
    return True


def _interpreter_lines_end(head: bytes, *, at_eof: bool) -> int | None:
    """Where the lines naming the interpreter end: the shebang, plus the
    trampoline's exec line when there is one. None when they do not fit in
    ``head``, which no script an installer writes does."""
    first = _line_end(head, 0, at_eof=at_eof)
    if first is None:
        return None
    if head.startswith(_TRAMPOLINE_EXEC, first):
        return _line_end(head, first, at_eof=at_eof)
    return first


def _line_end(data: bytes, start: int, *, at_eof: bool) -> int | None:
    newline = data.find(b"\n", start)
    if newline >= 0:
        return newline + 1
    return len(data) if at_eof else None


# --- editable-install records -------------------------------------------------


def rewrite_build_paths(
    site_packages: Path, *, build_python_home: Path, app_python_home: Path
) -> list[Path]:
    """Rewrite the build's Python home to the app's in editable-install records.

    Covers ``*.pth``, ``*.egg-link``, setuptools' ``__editable___*_finder.py``
    and ``*.dist-info/direct_url.json``. A finder's cached bytecode holds the
    old paths too, so it is deleted. Returns the files changed.
    """
    rewriter = Rewriter(path_spellings(build_python_home), os.fspath(app_python_home))
    if not rewriter:
        return []
    changed = [p for p in path_record_files(site_packages) if rewrite_file(os.fspath(p), rewriter)]
    for record in changed:
        path_rewrite.discard_bytecode(os.fspath(record))
    return changed


def path_record_files(site_packages: Path) -> list[Path]:
    """The files in which installers record absolute paths that Python uses.

    Only the top level of site-packages: ``site`` reads .pth files (which
    import the finders) from there alone, and each dist-info is there.
    """
    found: list[Path] = []
    try:
        entries = sorted(os.scandir(site_packages), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return found
    for entry in entries:
        name = entry.name
        if entry.is_file(follow_symlinks=False):
            if name.endswith((".pth", ".egg-link")) or _is_editable_finder(name):
                found.append(Path(entry.path))
        elif name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False):
            direct_url = Path(entry.path, "direct_url.json")
            if direct_url.is_file() and not direct_url.is_symlink():
                found.append(direct_url)
    return found


def _is_editable_finder(name: str) -> bool:
    return name.startswith("__editable___") and name.endswith("_finder.py")


# --- boot-time rewriting of paths to the app source ---------------------------


def find_app_path_references(python_home: Path, build_dir: Path) -> list[str]:
    """Editable-install records that still name ``build_dir``, relative to it.

    Run after ``rewrite_build_paths``, what is left points at the app's own
    source (``-e .``). A record still naming BUILD_DIR/.heroku/python is
    listed too: rewriting BUILD_DIR to $HOME fixes it just as well.
    """
    matcher = Rewriter(path_spellings(build_dir))
    prefix = _app_relative_prefix(python_home, build_dir)
    found: list[str] = []
    for site_packages in sorted(python_home.glob("lib/python*/site-packages")):
        for record in path_record_files(site_packages):
            data = record.read_bytes()
            if b"\0" not in data[:BINARY_SNIFF_BYTES] and matcher.mentions(data):
                found.append(prefix + record.relative_to(python_home).as_posix())
    return found


def discard_boot_rewritten_bytecode(build_dir: Path, files: list[str]) -> int:
    """Delete the bytecode of the modules (finders) the boot rewrite edits.

    It names the build directory, and is stale from the first boot on: it
    would only be noise in the audit. ``files`` are relative to ``build_dir``
    as ``find_app_path_references`` returns them.
    """
    return sum(path_rewrite.discard_bytecode(os.path.join(build_dir, f)) for f in files)


def boot_rewrite_script(build_dir: Path, files: list[str]) -> str:
    """A POSIX sh snippet for .profile.d that points ``files`` at $HOME.

    ``files`` are relative to the app root (as ``find_app_path_references``
    returns them). Returns "" when there is nothing to rewrite.

    Why Python rather than sed: the paths appear escaped differently per file
    (raw in .pth, a Python literal in finders, JSON and a percent-encoded
    file:// URL in direct_url.json), and BUILD_DIR or $HOME may hold spaces,
    quotes or sed metacharacters. The rewrite is ``path_rewrite`` itself, the
    same code the build uses, run by the app's Python with ``-I -S`` so that
    neither the environment nor the .pth files being fixed affect it; every
    value reaches it as an argument, never as code. A ``grep -F`` check first
    keeps boots that have nothing to do from starting Python at all.

    The snippet is sourced, so it defines a function (for its own "$@"),
    prefixes its variables, and unsets them all; it never exits.
    """
    if not files:
        return ""
    olds = path_spellings(build_dir)
    needles = Rewriter(olds).needles
    program = Path(path_rewrite.__file__).read_text(encoding="utf-8")
    grep_patterns = " ".join(f"-e {_sh(os.fsdecode(n))}" for n in needles)
    old_args = " ".join(_sh(old) for old in olds)
    file_args = " \\\n    ".join(_sh(f) for f in files)
    return f"""\
# Python buildpack: editable installs recorded paths to the app's source in
# the directory it was built in. Point them to where the app runs ($HOME).
# Reads only the files listed; starts Python only when one needs a change.
__python_buildpack_relocate() {{
    _pbr_todo=
    for _pbr_file in "$@"; do
        [ -f "$HOME/$_pbr_file" ] || continue
        _pbr_status=0
        LC_ALL=C grep -q -F {grep_patterns} -- "$HOME/$_pbr_file" || _pbr_status=$?
        # 1 means "not found"; on 0 or an error let Python decide.
        [ "$_pbr_status" = 1 ] || _pbr_todo=1
    done
    if [ -n "$_pbr_todo" ]; then
        LD_LIBRARY_PATH="$HOME/.heroku/python/lib${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}" \\
            "$HOME/.heroku/python/bin/python3" -I -S -c {_sh(program)} \\
            "$HOME" {old_args} -- "$@" \\
            || echo "Python buildpack: could not update paths to the build directory" >&2
    fi
    unset _pbr_todo _pbr_file _pbr_status
}}
__python_buildpack_relocate \\
    {file_args}
unset -f __python_buildpack_relocate
"""


def _sh(value: str) -> str:
    """Quote for sh; single quotes make every other character literal."""
    return shlex.quote(value)


def _app_relative_prefix(python_home: Path, build_dir: Path) -> str:
    """ "".heroku/python/" for BUILD_DIR/.heroku/python, lexically or once
    symlinks are resolved; the absolute path when it is elsewhere."""
    pairs = (
        (Path(os.path.abspath(python_home)), Path(os.path.abspath(build_dir))),
        (Path(os.path.realpath(python_home)), Path(os.path.realpath(build_dir))),
    )
    for home, root in pairs:
        try:
            rel = home.relative_to(root).as_posix()
        except ValueError:
            continue
        return "" if rel == "." else rel + "/"
    return os.path.abspath(python_home).rstrip("/") + "/"


# --- the audit ------------------------------------------------------------------


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
    prefix = _app_relative_prefix(python_home, build_dir)
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
    if _is_editable_finder(name):
        return "editable finder"
    if parent.endswith(".dist-info") and name == "direct_url.json":
        return "direct_url.json"
    if parent.endswith(".dist-info") and name == "RECORD":
        return "RECORD"
    return "other text"
