"""Python version selection: every source, every rule, every mistake.

Each case writes real files into a temporary app directory and runs the real
choose_python_version. The Python versions come from a fixed Settings, not the
live buildpack.toml, so that a release bumping a patch does not break them.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from buildpack.app.python_version import VersionChoice, choose_python_version
from buildpack.app.version_files import MAX_VERSION_FILE_BYTES
from buildpack.core.errors import BuildError
from buildpack.core.settings import Settings, buildpack_root

LATEST = {
    "3.10": "3.10.21",
    "3.11": "3.11.16",
    "3.12": "3.12.14",
    "3.13": "3.13.15",
    "3.14": "3.14.7",
}

# Warning titles, as shown after "Warning:".
NO_VERSION = "No Python version was specified"
RUNTIME_DEPRECATED = "runtime.txt is deprecated"
PATCH_UPDATE = "A Python patch update is available"
DEPRECATED_310 = "Python 3.10 is deprecated"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return replace(
        Settings.load(buildpack_root() / "buildpack.toml"),
        default_minor="3.14",
        supported_minors=tuple(LATEST),
        deprecated_minors=("3.10",),
        latest_patch=dict(LATEST),
    )


def write_app(app_dir: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = app_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            # newline="" keeps \r\n as written, to test line endings.
            with path.open("w", encoding="utf-8", newline="") as f:
                f.write(content)


def choose(
    app_dir: Path,
    settings: Settings,
    files: dict[str, str | bytes] | None = None,
    *,
    pm: str = "pip",
    cached: str | None = None,
) -> VersionChoice:
    write_app(app_dir, files or {})
    return choose_python_version(app_dir, settings, package_manager=pm, cached_version=cached)


def message(error: BuildError) -> str:
    return "\n".join([error.title, error.cause, error.action])


def lock(requires: dict[str, object] | None) -> str:
    meta: dict[str, object] = {"hash": {"sha256": "0" * 64}, "sources": []}
    if requires is not None:
        meta["requires"] = requires
    return json.dumps({"_meta": meta, "default": {}, "develop": {}})


# --- versions that are accepted ------------------------------------------------

OK = [
    # id, files, package manager, cached version,
    # expected (version, origin, requested, pinned, outdated, warning titles)
    (
        "python-version-minor",
        {".python-version": "3.13\n"},
        "pip",
        None,
        ("3.13.15", ".python-version", "3.13", False, False, ()),
    ),
    (
        "python-version-exact-latest",
        {".python-version": "3.13.15\n"},
        "pip",
        None,
        ("3.13.15", ".python-version", "3.13.15", True, False, ()),
    ),
    (
        "python-version-exact-outdated",
        {".python-version": "3.13.1\n"},
        "pip",
        None,
        ("3.13.1", ".python-version", "3.13.1", True, True, (PATCH_UPDATE,)),
    ),
    (
        "python-version-exact-newer-than-known-is-used-as-given",
        {".python-version": "3.13.99"},
        "pip",
        None,
        ("3.13.99", ".python-version", "3.13.99", True, False, ()),
    ),
    (
        "python-version-zero-patch",
        {".python-version": "3.14.0"},
        "pip",
        None,
        ("3.14.0", ".python-version", "3.14.0", True, True, (PATCH_UPDATE,)),
    ),
    (
        "python-version-comments-and-blank-lines",
        {".python-version": "# production\n\n   3.12  \n# 3.11 was before\n\n"},
        "pip",
        None,
        ("3.12.14", ".python-version", "3.12", False, False, ()),
    ),
    (
        "python-version-indented-comment",
        {".python-version": "   # a comment\n3.12\n"},
        "pip",
        None,
        ("3.12.14", ".python-version", "3.12", False, False, ()),
    ),
    (
        "python-version-crlf",
        {".python-version": "3.12\r\n"},
        "pip",
        None,
        ("3.12.14", ".python-version", "3.12", False, False, ()),
    ),
    (
        "python-version-no-final-newline",
        {".python-version": "3.11"},
        "pip",
        None,
        ("3.11.16", ".python-version", "3.11", False, False, ()),
    ),
    (
        "python-version-tabs",
        {".python-version": "\t3.11\t\n"},
        "pip",
        None,
        ("3.11.16", ".python-version", "3.11", False, False, ()),
    ),
    (
        "python-version-unicode-spaces",
        {".python-version": "\u00a03.11\u2003\u3000\n"},
        "pip",
        None,
        ("3.11.16", ".python-version", "3.11", False, False, ()),
    ),
    (
        "python-version-zero-width-spaces",
        {".python-version": "\u200b3.11\u200b\u2060\n"},
        "pip",
        None,
        ("3.11.16", ".python-version", "3.11", False, False, ()),
    ),
    (
        "python-version-deprecated-minor",
        {".python-version": "3.10"},
        "pip",
        None,
        ("3.10.21", ".python-version", "3.10", False, False, (DEPRECATED_310,)),
    ),
    (
        "python-version-deprecated-and-outdated",
        {".python-version": "3.10.4"},
        "pip",
        None,
        ("3.10.4", ".python-version", "3.10.4", True, True, (DEPRECATED_310, PATCH_UPDATE)),
    ),
    (
        "python-version-for-uv",
        {".python-version": "3.13", "uv.lock": ""},
        "uv",
        None,
        ("3.13.15", ".python-version", "3.13", False, False, ()),
    ),
    (
        "python-version-wins-over-cached",
        {".python-version": "3.13"},
        "pip",
        "3.12.1",
        ("3.13.15", ".python-version", "3.13", False, False, ()),
    ),
    (
        "runtime-txt-exact",
        {"runtime.txt": "python-3.12.14\n"},
        "pip",
        None,
        ("3.12.14", "runtime.txt", "3.12.14", True, False, (RUNTIME_DEPRECATED,)),
    ),
    (
        "runtime-txt-outdated",
        {"runtime.txt": "python-3.12.3"},
        "pip",
        None,
        ("3.12.3", "runtime.txt", "3.12.3", True, True, (RUNTIME_DEPRECATED, PATCH_UPDATE)),
    ),
    (
        "runtime-txt-minor",
        {"runtime.txt": "python-3.12"},
        "pip",
        None,
        ("3.12.14", "runtime.txt", "3.12", False, False, (RUNTIME_DEPRECATED,)),
    ),
    (
        "runtime-txt-whitespace-and-comments",
        {"runtime.txt": "# old style\n  python-3.12  \r\n\n"},
        "pip",
        None,
        ("3.12.14", "runtime.txt", "3.12", False, False, (RUNTIME_DEPRECATED,)),
    ),
    (
        "runtime-txt-wins-over-python-version",
        {"runtime.txt": "python-3.12", ".python-version": "3.13"},
        "pip",
        None,
        ("3.12.14", "runtime.txt", "3.12", False, False, (RUNTIME_DEPRECATED,)),
    ),
    (
        "runtime-txt-wins-over-misspelled-name",
        {"runtime.txt": "python-3.12", ".python_version": "3.13"},
        "pip",
        None,
        ("3.12.14", "runtime.txt", "3.12", False, False, (RUNTIME_DEPRECATED,)),
    ),
    (
        "runtime-txt-wins-over-pipfile-lock",
        {"runtime.txt": "python-3.12", "Pipfile.lock": lock({"python_version": "3.11"})},
        "pipenv",
        None,
        ("3.12.14", "runtime.txt", "3.12", False, False, (RUNTIME_DEPRECATED,)),
    ),
    (
        "python-version-wins-over-pipfile-lock",
        {".python-version": "3.13", "Pipfile.lock": lock({"python_version": "3.11"})},
        "pipenv",
        None,
        ("3.13.15", ".python-version", "3.13", False, False, ()),
    ),
    (
        "pipfile-lock-full-version",
        {"Pipfile.lock": lock({"python_full_version": "3.11.2"})},
        "pipenv",
        None,
        ("3.11.2", "Pipfile.lock", "3.11.2", True, True, (PATCH_UPDATE,)),
    ),
    (
        "pipfile-lock-python-version",
        {"Pipfile.lock": lock({"python_version": "3.11"})},
        "pipenv",
        None,
        ("3.11.16", "Pipfile.lock", "3.11", False, False, ()),
    ),
    (
        "pipfile-lock-full-version-wins",
        {"Pipfile.lock": lock({"python_version": "3.11", "python_full_version": "3.12.14"})},
        "pipenv",
        None,
        ("3.12.14", "Pipfile.lock", "3.12.14", True, False, ()),
    ),
    (
        "pipfile-lock-null-full-version-falls-back",
        {"Pipfile.lock": lock({"python_version": "3.12", "python_full_version": None})},
        "pipenv",
        None,
        ("3.12.14", "Pipfile.lock", "3.12", False, False, ()),
    ),
    (
        "pipfile-lock-no-version-fields-falls-through-to-default",
        {"Pipfile.lock": lock({})},
        "pipenv",
        None,
        ("3.14.7", "default", "3.14", False, False, (NO_VERSION,)),
    ),
    (
        "pipfile-lock-no-requires-falls-through-to-cached",
        {"Pipfile.lock": lock(None)},
        "pipenv",
        "3.12.1",
        ("3.12.14", "cached", "3.12", False, False, (NO_VERSION,)),
    ),
    (
        "pipfile-lock-not-an-object-falls-through",
        {"Pipfile.lock": "[]"},
        "pipenv",
        None,
        ("3.14.7", "default", "3.14", False, False, (NO_VERSION,)),
    ),
    (
        "pipfile-lock-ignored-for-pip",
        {"Pipfile.lock": lock({"python_version": "3.11"}), "requirements.txt": ""},
        "pip",
        None,
        ("3.14.7", "default", "3.14", False, False, (NO_VERSION,)),
    ),
    (
        "broken-pipfile-lock-not-read-for-poetry",
        {"Pipfile.lock": "{not json", "poetry.lock": ""},
        "poetry",
        None,
        ("3.14.7", "default", "3.14", False, False, (NO_VERSION,)),
    ),
    (
        "cached-minor-latest-patch",
        {},
        "pip",
        "3.12.1",
        ("3.12.14", "cached", "3.12", False, False, (NO_VERSION,)),
    ),
    (
        "cached-with-surrounding-whitespace",
        {},
        "pip",
        "3.12.1\n",
        ("3.12.14", "cached", "3.12", False, False, (NO_VERSION,)),
    ),
    (
        "cached-deprecated-minor",
        {},
        "poetry",
        "3.10.5",
        ("3.10.21", "cached", "3.10", False, False, (NO_VERSION, DEPRECATED_310)),
    ),
    (
        "cached-not-a-full-version-is-ignored",
        {},
        "pip",
        "3.12",
        ("3.14.7", "default", "3.14", False, False, (NO_VERSION,)),
    ),
    (
        "cached-garbage-is-ignored",
        {},
        "pip",
        "python-3.12.1; rm -rf /",
        ("3.14.7", "default", "3.14", False, False, (NO_VERSION,)),
    ),
    (
        "default",
        {"requirements.txt": ""},
        "pip",
        None,
        ("3.14.7", "default", "3.14", False, False, (NO_VERSION,)),
    ),
    (
        "directory-named-like-a-version-file-is-not-a-typo",
        {"python_version/__init__.py": "", "python-version/x.txt": ""},
        "pip",
        None,
        ("3.14.7", "default", "3.14", False, False, (NO_VERSION,)),
    ),
    (
        "module-named-python-version-is-not-a-typo",
        {"python_version.py": "", ".python-version": "3.13"},
        "pip",
        None,
        ("3.13.15", ".python-version", "3.13", False, False, ()),
    ),
]


@pytest.mark.parametrize(
    ("files", "pm", "cached", "expected"), [c[1:] for c in OK], ids=[c[0] for c in OK]
)
def test_accepted(tmp_path, settings, files, pm, cached, expected):
    choice = choose(tmp_path, settings, files, pm=pm, cached=cached)
    version, origin, requested, pinned, outdated, warnings = expected
    assert (choice.version, choice.origin, choice.requested) == (version, origin, requested)
    assert (choice.pinned, choice.outdated) == (pinned, outdated)
    assert tuple(title for title, _ in choice.warnings) == warnings


# --- mistakes ---------------------------------------------------------------------

ERRORS = [
    # id, files, package manager, cached version, reason, phrase in the message
    # .python-version syntax
    ("python-prefix", {".python-version": "python3.13"}, "pip", None,
     "python-version-file::invalid-version", "without 'python' in front"),
    ("python-dash-prefix", {".python-version": "python-3.13"}, "pip", None,
     "python-version-file::invalid-version", "without 'python' in front"),
    ("python-space-prefix", {".python-version": "Python 3.13.1"}, "pip", None,
     "python-version-file::invalid-version", "without 'python' in front"),
    ("cpython-prefix", {".python-version": "cpython@3.13"}, "pip", None,
     "python-version-file::invalid-version", "without 'python' in front"),
    ("py-prefix", {".python-version": "py3.13"}, "pip", None,
     "python-version-file::invalid-version", "without 'python' in front"),
    ("v-prefix", {".python-version": "v3.13"}, "pip", None,
     "python-version-file::invalid-version", "without the 'v'"),
    ("wildcard-x", {".python-version": "3.13.x"}, "pip", None,
     "python-version-file::invalid-version", "wildcards are not supported"),
    ("wildcard-star", {".python-version": "3.13.*"}, "pip", None,
     "python-version-file::invalid-version", "wildcards are not supported"),
    ("wildcard-minor", {".python-version": "3.x"}, "pip", None,
     "python-version-file::invalid-version", "wildcards are not supported"),
    ("range-gte", {".python-version": ">=3.13"}, "pip", None,
     "python-version-file::invalid-version", "ranges and constraints are not supported"),
    ("range-caret", {".python-version": "^3.13"}, "pip", None,
     "python-version-file::invalid-version", "ranges and constraints are not supported"),
    ("range-compatible", {".python-version": "~=3.13"}, "pip", None,
     "python-version-file::invalid-version", "ranges and constraints are not supported"),
    ("range-equals", {".python-version": "==3.13.1"}, "pip", None,
     "python-version-file::invalid-version", "ranges and constraints are not supported"),
    ("range-pair", {".python-version": ">=3.12,<3.14"}, "pip", None,
     "python-version-file::invalid-version", "ranges and constraints are not supported"),
    ("major-only", {".python-version": "3"}, "pip", None,
     "python-version-file::invalid-version", "give the minor version too"),
    ("leading-zero-minor", {".python-version": "3.09"}, "pip", None,
     "python-version-file::invalid-version", "leading zeros"),
    ("leading-zero-major", {".python-version": "03.13"}, "pip", None,
     "python-version-file::invalid-version", "leading zeros"),
    ("leading-zero-patch", {".python-version": "3.13.01"}, "pip", None,
     "python-version-file::invalid-version", "leading zeros"),
    ("four-parts", {".python-version": "3.13.1.2"}, "pip", None,
     "python-version-file::invalid-version", "at most three parts"),
    ("single-quotes", {".python-version": "'3.13'"}, "pip", None,
     "python-version-file::invalid-version", "remove the quotes"),
    ("double-quotes", {".python-version": '"3.13"'}, "pip", None,
     "python-version-file::invalid-version", "remove the quotes"),
    ("inline-comment", {".python-version": "3.13  # production"}, "pip", None,
     "python-version-file::invalid-version", "comments must be on a line of their own"),
    ("two-versions-one-line", {".python-version": "3.13 3.12"}, "pip", None,
     "python-version-file::invalid-version", "a single version on a single line"),
    ("pre-release", {".python-version": "3.14.0rc1"}, "pip", None,
     "python-version-file::invalid-version", "pre-releases are not available"),
    ("free-threaded", {".python-version": "3.13t"}, "pip", None,
     "python-version-file::invalid-version", "free-threaded builds"),
    ("pypy", {".python-version": "pypy3.10"}, "pip", None,
     "python-version-file::invalid-version", "only CPython"),
    ("pyenv-virtualenv-name", {".python-version": "3.13/envs/myapp"}, "pip", None,
     "python-version-file::invalid-version", "pyenv environment names"),
    ("pyenv-system", {".python-version": "system"}, "pip", None,
     "python-version-file::invalid-version", "pyenv environment names"),
    ("fullwidth-digits", {".python-version": "３.１３"}, "pip", None,
     "python-version-file::invalid-version", "expected a version such as '3.13'"),
    ("huge-number", {".python-version": "3." + "1" * 5000}, "pip", None,
     "python-version-file::invalid-version", "'3.1111111111"),
    # .python-version structure
    ("two-version-lines", {".python-version": "3.13\n3.12\n"}, "pip", None,
     "python-version-file::multiple-versions", "has 2 version lines"),
    ("empty-file", {".python-version": ""}, "pip", None,
     "python-version-file::no-version", ".python-version is empty"),
    ("blank-lines-only", {".python-version": " \n\t\n\u00a0\n"}, "pip", None,
     "python-version-file::no-version", ".python-version is empty"),
    ("comments-only", {".python-version": "# 3.13\n"}, "pip", None,
     "python-version-file::no-version", "only has comments"),
    # .python-version encoding
    ("utf8-bom", {".python-version": b"\xef\xbb\xbf3.13\n"}, "pip", None,
     "python-version-file::invalid-encoding", "byte order mark"),
    ("utf16-with-bom", {".python-version": "3.13\r\n".encode("utf-16")}, "pip", None,
     "python-version-file::invalid-encoding", "encoded as UTF-16"),
    ("utf16-big-endian-bom", {".python-version": b"\xfe\xff" + "3.13".encode("utf-16-be")},
     "pip", None,
     "python-version-file::invalid-encoding", "encoded as UTF-16"),
    ("utf16-without-bom", {".python-version": "3.13\n".encode("utf-16-le")}, "pip", None,
     "python-version-file::invalid-encoding", "contains NUL bytes"),
    ("binary", {".python-version": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"}, "pip", None,
     "python-version-file::invalid-encoding", "contains NUL bytes"),
    ("latin-1", {".python-version": "3.13 # été".encode("latin-1")}, "pip", None,
     "python-version-file::invalid-encoding", "is not valid UTF-8 (byte 7 is invalid)"),
    # misspelled names
    *[
        (f"misspelled-{name!r}", {name: "3.13\n"}, "pip", None,
         "python-version-file::misspelled", f"named {shown}")
        for name, shown in [
            (".python_version", "'.python_version'"),
            ("python-version", "'python-version'"),
            ("python_version", "'python_version'"),
            ("python-version.txt", "'python-version.txt'"),
            (".python-version.txt", "'.python-version.txt'"),
            (".python-version.text", "'.python-version.text'"),
            (".python-versions", "'.python-versions'"),
            (".python-version ", "'.python-version '"),
            (" .python-version", "' .python-version'"),
            (".python-version\u200b", "'.python-version\\u200b'"),
            (".Python-Version", "'.Python-Version'"),
            (".PYTHON-VERSION", "'.PYTHON-VERSION'"),
            (".python.version", "'.python.version'"),
            (".pythonversion", "'.pythonversion'"),
            (".python-verison", "'.python-verison'"),
            (".python-verson", "'.python-verson'"),
            ("runtime.txt.txt", "'runtime.txt.txt'"),
            ("Runtime.txt", "'Runtime.txt'"),
            ("runtime.text", "'runtime.text'"),
            ("runtime.txt ", "'runtime.txt '"),
        ]
    ],
    ("misspelled-next-to-real-file", {".python-version": "3.13", "python-version.txt": "3.13"},
     "pip", None, "python-version-file::misspelled", "Delete it"),
    ("misspelled-several", {".python_version": "3.13", "runtime.txt.txt": "python-3.13"},
     "pip", None, "python-version-file::misspelled", "files named '.python_version', "
     "'runtime.txt.txt'"),
    ("misspelled-for-uv", {".python_version": "3.13", "uv.lock": ""}, "uv", None,
     "python-version-file::misspelled", "git mv '.python_version' .python-version"),
    ("misspelled-wins-over-pipfile-lock",
     {".python_version": "3.13", "Pipfile.lock": lock({"python_version": "3.11"})},
     "pipenv", None, "python-version-file::misspelled", "'.python_version'"),
    ("misspelled-wins-over-cached", {"python-version": "3.13"}, "pip", "3.12.1",
     "python-version-file::misspelled", "'python-version'"),
    # runtime.txt
    ("runtime-txt-no-prefix", {"runtime.txt": "3.12.1"}, "pip", None,
     "runtime-txt::invalid-version", "needs the 'python-' prefix"),
    ("runtime-txt-capitalised", {"runtime.txt": "Python-3.12.1"}, "pip", None,
     "runtime-txt::invalid-version", "in lower case"),
    ("runtime-txt-no-dash", {"runtime.txt": "python3.12.1"}, "pip", None,
     "runtime-txt::invalid-version", "must follow 'python-' exactly"),
    ("runtime-txt-wildcard", {"runtime.txt": "python-3.12.x"}, "pip", None,
     "runtime-txt::invalid-version", "wildcards are not supported"),
    ("runtime-txt-empty", {"runtime.txt": "\n"}, "pip", None,
     "runtime-txt::invalid-version", "It has no version"),
    ("runtime-txt-two-lines", {"runtime.txt": "python-3.12.1\npython-3.13.1\n"}, "pip", None,
     "runtime-txt::invalid-version", "It has 2 lines"),
    ("runtime-txt-bom", {"runtime.txt": b"\xef\xbb\xbfpython-3.12.1"}, "pip", None,
     "runtime-txt::invalid-encoding", "byte order mark"),
    ("runtime-txt-for-uv", {"runtime.txt": "python-3.12.1", "uv.lock": ""}, "uv", None,
     "runtime-txt::not-supported", "uv apps must"),
    ("runtime-txt-for-uv-with-python-version",
     {"runtime.txt": "python-3.12.1", ".python-version": "3.12", "uv.lock": ""}, "uv", None,
     "runtime-txt::not-supported", "delete runtime.txt"),
    ("runtime-txt-eol", {"runtime.txt": "python-3.9.20"}, "pip", None,
     "python-version::eol", "runtime.txt asks for Python 3.9"),
    # uv without a version file
    ("uv-default", {"uv.lock": ""}, "uv", None,
     "python-version-file::not-found", "uv apps must state their Python version"),
    ("uv-cached", {"uv.lock": ""}, "uv", "3.13.2",
     "python-version-file::not-found", "uv python pin"),
    # Pipfile.lock
    ("pipfile-lock-invalid-json", {"Pipfile.lock": '{"_meta": {'}, "pipenv", None,
     "pipfile-lock::invalid-json", "is not valid JSON: Expecting property name"),
    ("pipfile-lock-merge-conflict", {"Pipfile.lock": "<<<<<<< HEAD\n{}\n=======\n"}, "pipenv",
     None, "pipfile-lock::invalid-json", "merge conflict"),
    ("pipfile-lock-empty", {"Pipfile.lock": ""}, "pipenv", None,
     "pipfile-lock::invalid-json", "is not valid JSON"),
    ("pipfile-lock-not-utf8", {"Pipfile.lock": b'{"a": "\xff"}'}, "pipenv", None,
     "pipfile-lock::invalid-json", "not UTF-8 text (byte 7 is invalid)"),
    ("pipfile-lock-deeply-nested", {"Pipfile.lock": "[" * 200_000}, "pipenv", None,
     "pipfile-lock::invalid-json", "is not valid JSON"),
    ("pipfile-lock-invalid-full-version",
     {"Pipfile.lock": lock({"python_full_version": "3.12.x", "python_version": "3.12"})},
     "pipenv", None, "pipfile-lock::invalid-version", "'_meta.requires.python_full_version' "
     "is '3.12.x'"),
    ("pipfile-lock-invalid-version", {"Pipfile.lock": lock({"python_version": ">=3.12"})},
     "pipenv", None, "pipfile-lock::invalid-version", "is '>=3.12'"),
    ("pipfile-lock-number", {"Pipfile.lock": lock({"python_version": 3.12})}, "pipenv", None,
     "pipfile-lock::invalid-version", "'3.12', which is not a text string"),
    ("pipfile-lock-eol", {"Pipfile.lock": lock({"python_version": "3.8"})}, "pipenv", None,
     "python-version::eol", "pipenv lock"),
    # supported range
    ("eol-minor", {".python-version": "3.9"}, "pip", None,
     "python-version::eol", "Python 3.9 is no longer supported"),
    ("eol-exact", {".python-version": "3.9.20"}, "pip", None,
     "python-version::eol", ".python-version asks for Python 3.9"),
    ("eol-python-2", {".python-version": "2.7"}, "pip", None,
     "python-version::eol", "Python 2.7 is no longer supported"),
    ("unknown-minor", {".python-version": "3.15"}, "pip", None,
     "python-version::unknown-major", "update the buildpack to its latest release"),
    ("unknown-exact", {".python-version": "3.15.0"}, "pip", None,
     "python-version::unknown-major", "Python 3.15 is not known to this buildpack"),
    ("unknown-python-4", {".python-version": "4.0"}, "pip", None,
     "python-version::unknown-major", "Python 4.0 is not known"),
    ("cached-eol", {}, "pip", "3.9.20",
     "python-version::eol", "previous build, Python 3.9.20. But Python 3.9"),
    ("cached-unknown", {}, "pip", "3.15.1",
     "python-version::unknown-major", "previous build most likely used a newer release"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("files", "pm", "cached", "reason", "phrase"),
    [c[1:] for c in ERRORS],
    ids=[c[0] for c in ERRORS],
)
def test_mistake(tmp_path, settings, files, pm, cached, reason, phrase):
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings, files, pm=pm, cached=cached)
    assert caught.value.reason == reason
    assert phrase in message(caught.value)


# --- the fix each message offers ---------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fix"),
    [
        ("python3.12", "echo '3.12' > .python-version"),
        ("3.11.x", "echo '3.11' > .python-version"),
        (">=3.13", "echo '3.13' > .python-version"),
        ("3.09", "echo '3.14' > .python-version"),  # 3.9 is not supported: the default
        ("latest", "echo '3.14' > .python-version"),
    ],
)
def test_invalid_version_suggests_the_version_meant(tmp_path, settings, content, fix):
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings, {".python-version": content})
    assert fix in caught.value.action


def test_eol_suggests_the_default(tmp_path, settings):
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings, {".python-version": "3.8"})
    assert "echo '3.14' > .python-version" in caught.value.action
    assert "3.10, 3.11, 3.12, 3.13, 3.14" in caught.value.cause


def test_misspelled_name_with_quote_is_shell_quoted(tmp_path, settings):
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings, {"python'version": "3.13"})
    assert caught.value.reason == "python-version-file::misspelled"
    assert "git mv 'python'\"'\"'version' .python-version" in caught.value.action


def test_misspelled_unprintable_name_gets_no_git_mv(tmp_path, settings):
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings, {"\x1b.python-version": "3.13"})
    assert "git mv" not in caught.value.action
    assert "\x1b" not in message(caught.value)
    assert "'\\x1b.python-version'" in message(caught.value)


def test_terminal_escapes_in_a_version_are_shown_escaped(tmp_path, settings):
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings, {".python-version": "\x1b[31m3.13\x07"})
    text = message(caught.value)
    assert "\x1b" not in text and "\x07" not in text
    assert "'\\x1b[31m3.13\\x07'" in text


def test_long_version_line_is_cut_short_in_the_message(tmp_path, settings):
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings, {".python-version": "x" * 10_000})
    assert len(caught.value.cause) < 1000
    assert "'" + "x" * 60 + "'..." in caught.value.cause


def test_many_version_lines_are_listed_up_to_five(tmp_path, settings):
    content = "".join(f"3.{minor}\n" for minor in range(10, 18))
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings, {".python-version": content})
    assert caught.value.reason == "python-version-file::multiple-versions"
    assert "'3.14'" in caught.value.cause and "'3.15'" not in caught.value.cause
    assert "(and 3 more)" in caught.value.cause


# --- reading files defensively -------------------------------------------------------


def test_huge_file_is_refused_without_reading_it(tmp_path, settings):
    # A sparse 4 GiB file: reading it whole would take seconds and gigabytes;
    # it is refused after a stat call or a bounded read.
    with (tmp_path / ".python-version").open("wb") as f:
        f.truncate(4 * 1024**3)
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings)
    assert caught.value.reason == "python-version-file::too-large"


def test_file_just_over_the_limit_is_refused(tmp_path, settings):
    content = "3.13\n" + "#" * MAX_VERSION_FILE_BYTES
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings, {".python-version": content})
    assert caught.value.reason == "python-version-file::too-large"


def test_file_at_the_limit_is_read(tmp_path, settings):
    content = "3.13\n#" + "x" * (MAX_VERSION_FILE_BYTES - 7) + "\n"
    assert len(content) == MAX_VERSION_FILE_BYTES
    assert choose(tmp_path, settings, {".python-version": content}).version == "3.13.15"


def test_symlink_inside_the_app_is_followed(tmp_path, settings):
    write_app(tmp_path, {"config/python-version.conf": "3.12\n"})
    (tmp_path / ".python-version").symlink_to("config/python-version.conf")
    assert choose(tmp_path, settings).version == "3.12.14"


def test_symlink_outside_the_app_is_refused(tmp_path, settings):
    app, outside = tmp_path / "app", tmp_path / "secret"
    app.mkdir()
    outside.write_text("3.12\n")
    (app / ".python-version").symlink_to(outside)
    with pytest.raises(BuildError) as caught:
        choose(app, settings)
    assert caught.value.reason == "python-version-file::unreadable"
    assert "outside the app" in caught.value.cause


def test_symlink_escaping_through_dotdot_is_refused(tmp_path, settings):
    app = tmp_path / "app"
    app.mkdir()
    (tmp_path / "runtime.txt").write_text("python-3.12\n")
    (app / "runtime.txt").symlink_to("../runtime.txt")
    with pytest.raises(BuildError) as caught:
        choose(app, settings)
    assert caught.value.reason == "runtime-txt::unreadable"


def test_dangling_symlink_is_reported(tmp_path, settings):
    (tmp_path / ".python-version").symlink_to("missing")
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings)
    assert caught.value.reason == "python-version-file::unreadable"
    assert "does not exist" in caught.value.cause


def test_directory_instead_of_file_is_reported(tmp_path, settings):
    (tmp_path / ".python-version").mkdir()
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings)
    assert caught.value.reason == "python-version-file::unreadable"
    assert "it is a directory" in caught.value.cause


def test_fifo_is_refused_without_blocking(tmp_path, settings):
    # Opening a FIFO for reading waits for a writer forever; it must not be opened.
    os.mkfifo(tmp_path / ".python-version")
    with pytest.raises(BuildError) as caught:
        choose(tmp_path, settings)
    assert caught.value.reason == "python-version-file::unreadable"
    assert "not a regular file" in caught.value.cause


def test_pipfile_lock_may_be_large(tmp_path, settings):
    packages = {f"pkg{i}": {"hashes": ["sha256:" + "0" * 64] * 5} for i in range(2000)}
    content = json.dumps({"_meta": {"requires": {"python_version": "3.12"}}, "default": packages})
    assert len(content) > MAX_VERSION_FILE_BYTES
    choice = choose(tmp_path, settings, {"Pipfile.lock": content}, pm="pipenv")
    assert (choice.version, choice.origin) == ("3.12.14", "Pipfile.lock")


# --- what the build shows and records ---------------------------------------------------


@pytest.mark.parametrize(
    ("files", "pm", "cached", "step"),
    [
        ({".python-version": "3.13.1"}, "pip", None,
         "Using Python 3.13.1 specified in .python-version"),
        ({".python-version": "3.13"}, "pip", None,
         "Using Python 3.13.15 (3.13 specified in .python-version)"),
        ({"runtime.txt": "python-3.12.14"}, "pip", None,
         "Using Python 3.12.14 specified in runtime.txt"),
        ({"Pipfile.lock": lock({"python_version": "3.11"})}, "pipenv", None,
         "Using Python 3.11.16 (3.11 specified in Pipfile.lock)"),
        ({}, "pip", "3.13.2",
         "Using Python 3.13.15 (the same minor as the previous build)"),
        ({}, "pip", None,
         "Using Python 3.14.7 (the default, since no version was specified)"),
    ],
)  # fmt: skip
def test_describe(tmp_path, settings, files, pm, cached, step):
    assert choose(tmp_path, settings, files, pm=pm, cached=cached).describe() == step


def test_report_fields(tmp_path, settings):
    choice = choose(tmp_path, settings, {"runtime.txt": "python-3.12.3", ".python-version": "3.13"})
    assert choice.report_fields() == {
        "python_version": "3.12.3",
        "python_version_major": "3.12",
        "python_version_requested": "3.12.3",
        "python_version_origin": "runtime.txt",
        "python_version_pinned": True,
        "python_version_outdated": True,
        "python_version_files": [".python-version", "runtime.txt"],
        "python_version_resolved_by": "buildpack.toml",
    }


def test_report_fields_without_version_files(tmp_path, settings):
    fields = choose(tmp_path, settings, {"requirements.txt": ""}).report_fields()
    assert fields["python_version_origin"] == "default"
    assert fields["python_version_pinned"] is False
    assert fields["python_version_files"] == []


def test_runtime_txt_warning_says_python_version_is_ignored(tmp_path, settings):
    choice = choose(tmp_path, settings, {"runtime.txt": "python-3.12", ".python-version": "3.13"})
    (title, body) = choice.warnings[0]
    assert title == RUNTIME_DEPRECATED
    assert "echo '3.12' > .python-version" in body
    assert ".python-version file, which is ignored" in body


def test_no_version_warning_recommends_python_version_file(tmp_path, settings):
    (_, body) = choose(tmp_path, settings, cached="3.12.1").warnings[0]
    assert "previous build (Python 3.12.1)" in body
    assert "echo '3.12' > .python-version" in body


def test_patch_update_warning_names_both_versions(tmp_path, settings):
    (title, body) = choose(tmp_path, settings, {".python-version": "3.13.1"}).warnings[0]
    assert title == PATCH_UPDATE
    assert "Python 3.13.1 in .python-version, but Python 3.13.15 is out" in body
