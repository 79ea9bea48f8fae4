"""Reading the Python version an app asks for: .python-version, runtime.txt, Pipfile.lock.

The files come from the app, so they are read with size limits and without
following symlinks, and every mistake is explained with what to write instead.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from buildpack.app.version_file_names import misspelled
from buildpack.core import errors
from buildpack.core.settings import Settings

PYTHON_VERSION_FILE = ".python-version"
RUNTIME_TXT = "runtime.txt"
PIPFILE_LOCK = "Pipfile.lock"

ORIGIN_PYTHON_VERSION_FILE = PYTHON_VERSION_FILE
ORIGIN_RUNTIME_TXT = RUNTIME_TXT
ORIGIN_PIPFILE_LOCK = PIPFILE_LOCK
ORIGIN_CACHED = "cached"
ORIGIN_DEFAULT = "default"

# A version file is one short line. Anything bigger is another file saved under
# that name, and reading it whole could stall the build on a multi-GB file.
MAX_VERSION_FILE_BYTES = 64 * 1024
# Pipfile.lock holds every hash of every package, so it is allowed to be big.
MAX_PIPFILE_LOCK_BYTES = 16 * 1024 * 1024

# No leading zeros, ASCII digits only (int() would accept other scripts' digits),
# and at most 6 digits, so int() never meets a number too long to convert.
_NUMBER = r"(0|[1-9][0-9]{0,5})"
VERSION = re.compile(rf"{_NUMBER}\.{_NUMBER}(?:\.{_NUMBER})?")
_RUNTIME_TXT_LINE = re.compile(rf"python-({VERSION.pattern})")
# str.strip() misses the zero-width characters that copy-paste from web pages adds.
_EDGE_SPACE = re.compile(r"^[\s\u200b-\u200d\u2060\ufeff]+|[\s\u200b-\u200d\u2060\ufeff]+$")
_MINOR_IN_TEXT = re.compile(r"(?<![0-9])([0-9]{1,6})\.([0-9]{1,6})")

_PREFIXED = re.compile(r"(?:c?python|py)[\s@_:-]*v?[0-9]", re.IGNORECASE)
_RANGE_OPERATORS = (">", "<", "=", "^", "~", "!", ",")


# --- where the version comes from ------------------------------------------


@dataclass(frozen=True)
class RootFiles:
    names: frozenset[str]  # every entry at the root, whatever its type
    misspelled: tuple[str, ...]  # files named like a version file, but not exactly

    @classmethod
    def scan(cls, app_dir: Path) -> RootFiles:
        try:
            with os.scandir(app_dir) as it:
                entries = [(e.name, _is_dir(e)) for e in it]
        except OSError as exc:
            raise errors.internal_error(f"cannot list {app_dir}: {exc}") from exc
        # A directory such as 'python_version/' is a Python package, not a typo.
        near_misses = sorted(name for name, is_dir in entries if not is_dir and misspelled(name))
        return cls(frozenset(name for name, _ in entries), tuple(near_misses))

    @property
    def version_files(self) -> tuple[str, ...]:
        found = [n for n in (PYTHON_VERSION_FILE, RUNTIME_TXT) if n in self.names]
        return tuple(sorted([*found, *self.misspelled]))


def requested_version(
    app_dir: Path,
    root: RootFiles,
    settings: Settings,
    package_manager: str,
    cached_version: str | None,
    warnings: list[tuple[str, str]],
) -> tuple[str, str]:
    has_python_version_file = PYTHON_VERSION_FILE in root.names
    if RUNTIME_TXT in root.names:
        if package_manager == "uv":
            raise errors.runtime_txt_not_supported_for_uv(
                settings.default_minor, has_python_version_file=has_python_version_file
            )
        requested = _read_runtime_txt(app_dir, settings)
        warnings.append(runtime_txt_deprecated(requested, has_python_version_file))
        return requested, ORIGIN_RUNTIME_TXT

    if root.misspelled:
        raise _misspelled_error(root, settings)

    if has_python_version_file:
        return _read_python_version_file(app_dir, settings), ORIGIN_PYTHON_VERSION_FILE

    if package_manager == "uv":
        raise errors.python_version_file_not_found_for_uv(settings.default_minor)

    if package_manager == "pipenv" and PIPFILE_LOCK in root.names:
        from_lock = _read_pipfile_lock(app_dir, settings)
        if from_lock is not None:
            return from_lock, ORIGIN_PIPFILE_LOCK

    # Only a well-formed X.Y.Z counts: anything else in the cache is not ours to trust.
    cached = VERSION.fullmatch(_strip(cached_version or ""))
    if cached and cached[3] is not None:
        return f"{cached[1]}.{cached[2]}", ORIGIN_CACHED
    return settings.default_minor, ORIGIN_DEFAULT


def _read_python_version_file(app_dir: Path, settings: Settings) -> str:
    text = _read_text(app_dir, PYTHON_VERSION_FILE, "python-version-file", settings)
    lines, has_comments = _version_lines(text)
    if not lines:
        raise errors.python_version_file_no_version(
            settings.default_minor, has_comments=has_comments
        )
    if len(lines) > 1:
        raise errors.python_version_file_multiple_versions(
            lines, _suggested_minor(lines[0], settings)
        )
    (line,) = lines
    if not VERSION.fullmatch(line):
        raise errors.python_version_file_invalid_version(
            line, _why_invalid(line), _suggested_minor(line, settings)
        )
    return line


def _read_runtime_txt(app_dir: Path, settings: Settings) -> str:
    text = _read_text(app_dir, RUNTIME_TXT, "runtime-txt", settings)
    lines, _ = _version_lines(text)
    if len(lines) == 1:
        match = _RUNTIME_TXT_LINE.fullmatch(lines[0])
        if match:
            return match[1]
    if not lines:
        hint = "It has no version."
    elif len(lines) > 1:
        hint = f"It has {len(lines)} lines, but must have only one."
    elif VERSION.fullmatch(lines[0]):
        hint = "The version needs the 'python-' prefix."
    elif lines[0].lower().startswith(("python-", "python")) and not lines[0].startswith("python-"):
        hint = "The version must follow 'python-' exactly, in lower case."
    else:
        hint = f"That is not a valid version line: {_why_invalid(lines[0].removeprefix('python-'))}"
    example = _suggested_minor(" ".join(lines), settings)
    raise errors.runtime_txt_invalid_version(lines, hint, example)


def _read_pipfile_lock(app_dir: Path, settings: Settings) -> str | None:
    """The version in Pipfile.lock; None when it names none (both fields are optional)."""
    data = _read_bytes(app_dir, PIPFILE_LOCK, "pipfile-lock", MAX_PIPFILE_LOCK_BYTES, settings)
    try:
        lock = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise errors.pipfile_lock_invalid_json(
            f"it is not UTF-8 text (byte {exc.start} is invalid)"
        ) from exc
    except RecursionError as exc:
        raise errors.pipfile_lock_invalid_json("it is nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        raise errors.pipfile_lock_invalid_json(str(exc)) from exc
    meta = lock.get("_meta") if isinstance(lock, dict) else None
    requires = meta.get("requires") if isinstance(meta, dict) else None
    if not isinstance(requires, dict):
        return None
    # Pipenv itself prefers python_full_version when both are set.
    for field in ("python_full_version", "python_version"):
        value = requires.get(field)
        if value is None:
            continue
        version = _strip(value) if isinstance(value, str) else ""
        if not VERSION.fullmatch(version):
            shown = value if isinstance(value, str) else json.dumps(value)
            raise errors.pipfile_lock_invalid_version(
                field,
                shown,
                _suggested_minor(shown, settings),
                not_a_string=not isinstance(value, str),
            )
        return version
    return None


def _misspelled_error(root: RootFiles, settings: Settings) -> errors.BuildError:
    rename = ""
    python_like = [name for name in root.misspelled if misspelled(name) == PYTHON_VERSION_FILE]
    # Offer a 'git mv' only when it is unambiguous and safe to paste into a shell.
    if (
        len(root.misspelled) == 1
        and python_like
        and PYTHON_VERSION_FILE not in root.names
        and python_like[0].isprintable()
    ):
        rename = _shell_quote(python_like[0])
    return errors.python_version_file_misspelled(
        list(root.misspelled), settings.default_minor, rename=rename
    )


def runtime_txt_deprecated(requested: str, has_python_version_file: bool) -> tuple[str, str]:
    minor = ".".join(requested.split(".")[:2])
    also = (
        "\n\nThe app also has a .python-version file, which is ignored while runtime.txt exists."
        if has_python_version_file
        else ""
    )
    return (
        "runtime.txt is deprecated",
        "The Python version is read from runtime.txt, which is deprecated and will "
        "stop being supported. Use a .python-version file instead, the file that "
        "pyenv, uv and other tools read too:\n"
        f"  echo '{minor}' > .python-version\n"
        "  git rm runtime.txt\n"
        f"Giving only the minor version ('{minor}') gets you each new patch release "
        f"with its security fixes.{also}",
    )


# --- reading files safely --------------------------------------------------------


def _read_bytes(app_dir: Path, name: str, reason: str, limit: int, settings: Settings) -> bytes:
    """The file's bytes, refusing anything but a regular file inside the app."""
    path = app_dir / name
    try:
        if path.is_symlink():
            target = os.path.realpath(path)
            root = os.path.realpath(app_dir)
            if os.path.commonpath([root, target]) != root:
                raise errors.version_file_unreadable(
                    name, reason, "it is a symbolic link to a path outside the app"
                )
        try:
            info = path.stat()
        except FileNotFoundError:
            raise errors.version_file_unreadable(
                name, reason, "it is a symbolic link to a file that does not exist"
            ) from None
        if not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise errors.version_file_unreadable(name, reason, f"it is {kind}")
        if info.st_size > limit:
            raise errors.version_file_too_large(name, reason, limit, settings.default_minor)
        with path.open("rb") as f:
            # Sizes can lie (files that grow, special file systems): read one byte
            # past the limit rather than trusting st_size.
            data = f.read(limit + 1)
    except OSError as exc:
        raise errors.version_file_unreadable(name, reason, exc.strerror or str(exc)) from exc
    if len(data) > limit:
        raise errors.version_file_too_large(name, reason, limit, settings.default_minor)
    return data


def _read_text(app_dir: Path, name: str, reason: str, settings: Settings) -> str:
    data = _read_bytes(app_dir, name, reason, MAX_VERSION_FILE_BYTES, settings)
    problem = ""
    if data.startswith(b"\xef\xbb\xbf"):
        problem = "starts with a UTF-8 byte order mark (BOM)"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        problem = "is encoded as UTF-16"
    elif b"\x00" in data:
        problem = "contains NUL bytes: it is UTF-16 text without a byte order mark, or binary"
    else:
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            problem = f"is not valid UTF-8 (byte {exc.start} is invalid)"
    raise errors.version_file_invalid_encoding(name, reason, problem, settings.default_minor)


def _version_lines(text: str) -> tuple[list[str], bool]:
    """Non-blank, non-comment lines, trimmed; and whether there were comments."""
    lines = []
    has_comments = False
    for raw in text.splitlines():
        line = _strip(raw)
        if line.startswith("#"):
            has_comments = True
        elif line:
            lines.append(line)
    return lines, has_comments


def _strip(text: str) -> str:
    return _EDGE_SPACE.sub("", text)


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


# --- explaining mistakes -------------------------------------------------------


def _why_invalid(token: str) -> str:
    """What is wrong with a version line, in a phrase the user can act on."""
    lower = token.lower()
    if token[:1] in "\"'" or token[-1:] in "\"'":
        return "remove the quotes."
    if "#" in token:
        return "comments must be on a line of their own, starting with '#'."
    if _PREFIXED.match(token):
        return "write only the version number, without 'python' in front of it."
    if lower.startswith("v") and VERSION.fullmatch(token[1:]):
        return "write the version without the 'v' in front of it."
    if any(op in token for op in _RANGE_OPERATORS):
        return "version ranges and constraints are not supported: give one version."
    if "*" in token or re.search(r"(^|\.)x($|\.)", lower):
        return "wildcards are not supported: '3.13' already means the latest 3.13 release."
    if any(c.isspace() for c in token):
        return "give a single version on a single line."
    if re.fullmatch(r"[0-9]+\.?", token):
        return "give the minor version too, such as '3.13': Python 3 alone is too broad."
    if re.fullmatch(r"[0-9]+(\.[0-9]+){3,}", token):
        return "a version has at most three parts, such as '3.13.1'."
    if re.fullmatch(r"[0-9]+(\.[0-9]+){1,2}", token):
        return "numbers must not have leading zeros (or are too large)."
    if re.fullmatch(r"[0-9]+(\.[0-9]+){1,2}(a|b|rc|dev)[0-9]*", lower):
        return "pre-releases are not available, only final releases."
    if re.fullmatch(r"[0-9]+(\.[0-9]+){1,2}t", lower):
        return "free-threaded builds are not available."
    if "pypy" in lower or "graalpy" in lower or "jython" in lower:
        return "only CPython is available."
    if "/" in token or lower == "system":
        return "pyenv environment names are not supported, only versions."
    return "expected a version such as '3.13' or '3.13.1'."


def _suggested_minor(text: str, settings: Settings) -> str:
    """The supported minor the user seems to mean, for the example fix; else the default."""
    match = _MINOR_IN_TEXT.search(text)
    if match:
        minor = f"{int(match[1])}.{int(match[2])}"
        if minor in settings.supported_minors:
            return minor
    return settings.default_minor


def _shell_quote(name: str) -> str:
    return "'" + name.replace("'", "'\"'\"'") + "'"
