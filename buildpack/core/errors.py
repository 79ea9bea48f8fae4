"""Every error a user can meet, in one place.

Each error has a title, the cause, and what to do, plus a machine-readable
``reason`` that goes into the build report as ``failure_reason``. Modules raise
these through the constructor functions below so that wording stays here.

Keep sections in the order of the build. Constructors are plain functions
returning ``BuildError`` so that callers read as ``raise errors.x(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from buildpack.core.tool_names import display_name


@dataclass
class BuildError(Exception):
    """A failure to show the user as a formatted message, then exit 1."""

    reason: str
    title: str
    cause: str
    action: str = ""
    # Free text for the report's failure_detail (a first log line, a path...).
    detail: str = ""
    # Tool output to show above the message, already captured.
    output: str = field(default="", repr=False)

    def __str__(self) -> str:
        return f"{self.reason}: {self.title}"


# --- internal ---------------------------------------------------------------


def internal_error(summary: str) -> BuildError:
    return BuildError(
        reason="internal-error::unhandled",
        title="Internal error in the Python buildpack",
        cause=(
            "The buildpack hit an unexpected problem. This is a bug in the "
            f"buildpack, not in your app.\n\nDetails: {summary}"
        ),
        action=("Try the build again. If it keeps failing, please report it with the build log."),
        detail=summary,
    )


def interrupted() -> BuildError:
    return BuildError(
        reason="internal-error::interrupted",
        title="The build was interrupted",
        cause="The build was stopped before it finished. Nothing was cached from it.",
        action="Start the build again.",
    )


def tool_not_found(program: str) -> BuildError:
    return BuildError(
        reason="internal-error::tool-not-found",
        title=f"Could not run {program}",
        cause=f"The program '{program}' was not found while building.",
        action="This is a bug in the buildpack or the build image. Please report it.",
        detail=program,
    )


# --- checks and stack -------------------------------------------------------


def stack_unknown(stack: str, known: list[str]) -> BuildError:
    return BuildError(
        reason="checks::stack::unknown",
        title=f"The stack '{_quoted(stack)[1:-1]}' is not recognised",
        cause=(
            f"This release of the buildpack does not know the stack {_quoted(stack)}. "
            f"It builds for: {', '.join(known)}."
        ),
        action=(
            "If it is a new stack, update the buildpack to its latest release (an app "
            "pinned to an older release of the buildpack does not get new stacks). "
            "Otherwise set STACK to one of the stacks above."
        ),
        detail=stack[:200],
    )


def stack_eol(stack: str, known: list[str]) -> BuildError:
    return BuildError(
        reason="checks::stack::eol",
        title=f"The '{_quoted(stack)[1:-1]}' stack is no longer supported",
        cause=(
            f"The {_quoted(stack)} stack has reached its end of life: its operating "
            "system gets no more security updates, and this buildpack no longer "
            "builds for it."
        ),
        action=f"Upgrade the app to a supported stack ({', '.join(known)}), then build again.",
        detail=stack[:200],
    )


def stack_arch_unsupported(stack: str, arch: str, arches: tuple[str, ...]) -> BuildError:
    return BuildError(
        reason="checks::stack::arch",
        title=f"No {arch} runtimes for {stack}",
        cause=(
            f"Python runtimes for the {stack} stack are built for {', '.join(arches)} "
            f"only, and this machine is {arch}."
        ),
        action=f"Build on a {' or '.join(arches)} machine, or use a newer stack.",
        detail=f"{stack} {arch}",
    )


def stack_missing(known: list[str]) -> BuildError:
    return BuildError(
        reason="checks::stack::missing",
        title="The STACK variable is not set",
        cause=(
            "The buildpack needs to know which stack it builds for, to pick "
            "the right Python runtime, and STACK is not set. It could not be "
            "worked out either, because this machine is not one of the Ubuntu "
            "releases of those stacks."
        ),
        action=(
            f"Set STACK to one of {', '.join(known)} in the environment of "
            "bin/compile, for example: STACK=heroku-24 bin/compile BUILD CACHE ENV"
        ),
    )


def arch_unsupported(machine: str) -> BuildError:
    return BuildError(
        reason="checks::arch::unsupported",
        title="Unsupported CPU architecture",
        cause=f"Python runtimes are built for amd64 and arm64, not for '{machine}'.",
        action="Build on an amd64 or arm64 machine.",
        detail=machine,
    )


def already_built() -> BuildError:
    return BuildError(
        reason="checks::already-built",
        title="This build directory was built already",
        cause=(
            "BUILD_DIR holds the output of an earlier build (.heroku/python and "
            ".profile.d/python.sh). bin/compile turns a fresh copy of the app's "
            "source into a slug once; it does not build over its own output."
        ),
        action=(
            "Build a fresh copy of the app instead, for example:\n"
            "  cp -a myapp /tmp/build_app2 && bin/compile /tmp/build_app2 CACHE_DIR ENV_DIR\n"
            "CACHE_DIR can stay the same: that is what makes rebuilds fast. If the "
            "app really contains these files, remove them from it."
        ),
    )


def app_dir_not_writable(link: str, blocker: str, uid: int) -> BuildError:
    return BuildError(
        reason="checks::app-dir-not-writable",
        title="The build cannot link the runtime into /app",
        cause=(
            f"The build installs Python in BUILD_DIR and runs it through {link}, "
            "which must point there while the build (and later buildpacks) run, "
            f"so that the slug works at /app. This user (uid {uid}) cannot write "
            f"to {blocker}. Nothing was downloaded."
        ),
        action=(
            "Run bin/compile as root (as build systems do), or once make /app/.heroku "
            "writable for this user:\n"
            '  sudo mkdir -p /app/.heroku && sudo chown "$(id -u)" /app/.heroku'
        ),
        detail=blocker,
    )


def existing_python_dir() -> BuildError:
    return BuildError(
        reason="checks::existing-python-dir",
        title="The app contains a .heroku/python directory",
        cause=(
            "The app's files include .heroku/python, where the buildpack installs "
            "Python. It may be a runtime committed by mistake or left by another "
            "buildpack, and mixing it with this build would break the app."
        ),
        action=(
            "Remove .heroku/python from the app (for example 'git rm -r --cached "
            ".heroku' and add it to .gitignore), then build again."
        ),
    )


# --- runtime download and install ---------------------------------------------


def python_version_not_available(
    version: str, url: str, status: int, *, own_mirror: bool = False
) -> BuildError:
    if own_mirror:
        action = (
            f"Add Python {version} to the mirror (tools/build-runtime or "
            "tools/pack-runtime), or ask for a version it has. A mirror that "
            "serves the runtimes.json those tools write lets the buildpack pick "
            "the newest patch it holds when the app gives only the minor, and "
            "list what it holds when it lacks a version."
        )
    else:
        action = (
            "Check that the version exists and is one this buildpack supports. "
            "To use the latest patch of a Python minor, give only the minor in "
            ".python-version, for example '3.13'."
        )
    return BuildError(
        reason="python-version::unknown-patch",
        title=f"Python {version} is not available",
        cause=(
            f"There is no Python {version} runtime for this stack and CPU "
            f"architecture (the mirror answered HTTP {status} for {url})."
        ),
        action=action,
        detail=f"HTTP {status}: {url}",
    )


def python_version_not_on_mirror(
    wanted: str, origin: str, where: str, available: tuple[str, ...]
) -> BuildError:
    """``wanted`` is X.Y.Z (an exact pin) or X.Y (a minor the mirror has no patch of)."""
    listing = ", ".join(available) if available else "no runtimes at all"
    minor = ".".join(wanted.split(".")[:2])
    same_minor = [v for v in available if v.startswith(minor + ".")]
    if wanted.count(".") == 2 and same_minor:
        hint = f"give only the minor ('{minor}') to get the newest the mirror has, {same_minor[-1]}"
    elif available:
        hint = f"ask for one of the versions it has, such as '{available[-1]}'"
    else:
        hint = "add runtimes for this stack and CPU to the mirror"
    why = {
        "default": "the default, since the app gives no version",
        "cached": "the minor of the previous build, since the app gives no version",
    }.get(origin, f"from {origin}")
    return BuildError(
        reason="python-version::not-on-mirror",
        title=f"Python {wanted} is not on the runtime mirror",
        cause=(
            f"The build needs Python {wanted} ({why}), but the mirror's "
            f"manifest {where} lists: {listing}."
        ),
        action=(
            f"Either {hint}, or add Python {wanted} to the mirror with "
            "tools/build-runtime or tools/pack-runtime (both update runtimes.json)."
        ),
        detail=f"{wanted} not in [{listing}]",
    )


def runtime_manifest_invalid(url: str, problem: str) -> BuildError:
    return BuildError(
        reason="install-python::manifest-invalid",
        title="The runtime mirror serves an unreadable runtimes.json",
        cause=f"The buildpack reads {url} to learn which runtimes the mirror has, but {problem}.",
        action=(
            "Fix the mirror: runtimes.json is written by tools/pack-runtime and "
            "tools/build-runtime. Delete it to make the buildpack ignore it."
        ),
        detail=f"{url}: {problem}",
    )


def runtime_manifest_checksum_mismatch(url: str, listed: str, sha256_file: str) -> BuildError:
    return BuildError(
        reason="install-python::manifest-checksum-mismatch",
        title="The runtime mirror contradicts itself",
        cause=(
            f"The mirror's runtimes.json gives the SHA-256 of {url} as {listed}, "
            f"but its .sha256 file says {sha256_file}. One of them is stale."
        ),
        action=(
            "Fix the mirror: add the archive again with tools/pack-runtime or "
            "tools/build-runtime, which write both."
        ),
        detail=f"runtimes.json {listed} .sha256 {sha256_file}",
    )


def runtime_download_failed(url: str, problem: str) -> BuildError:
    return BuildError(
        reason="install-python::download",
        title="Could not download the Python runtime",
        cause=f"Downloading {url} failed: {problem}",
        action=(
            "This is usually a temporary network or mirror problem: try the "
            "build again. If you set BUILDPACK_S3_BASE_URL, check that the "
            "mirror is reachable from the build."
        ),
        detail=problem,
    )


_TIME_SETTINGS = (
    "To allow more time, set the CURL_TIMEOUT config var (seconds per attempt, as "
    "on Heroku), or BUILDPACK_DOWNLOAD_TIMEOUT and BUILDPACK_DOWNLOAD_TOTAL_TIMEOUT."
)


def runtime_download_too_slow(url: str, problem: str) -> BuildError:
    return BuildError(
        reason="install-python::too-slow",
        title="The runtime mirror is too slow",
        cause=(
            f"Downloading {url} took longer than the buildpack allows: {problem}. "
            "Nothing was installed."
        ),
        action=(
            "This is usually a temporary network or mirror problem: try the build "
            "again. If you set BUILDPACK_S3_BASE_URL, check that the mirror serves "
            "files at a normal speed. " + _TIME_SETTINGS
        ),
        detail=problem[:200],
    )


def index_too_slow(url: str, problem: str) -> BuildError:
    return BuildError(
        reason="install-package-manager::index-too-slow",
        title="The package index is too slow",
        cause=(
            f"Downloading {url} from the package index took longer than the buildpack "
            f"allows: {problem}. Running pip instead would wait on the same index, so "
            "the build stopped here."
        ),
        action=(
            "This is usually a temporary network problem: try the build again. If the "
            "build uses a private index or mirror (PIP_INDEX_URL), check that it serves "
            "files at a normal speed. " + _TIME_SETTINGS
        ),
        detail=problem[:200],
    )


def runtime_archive_invalid(url: str, problem: str) -> BuildError:
    return BuildError(
        reason="install-python::invalid-archive",
        title="The Python runtime archive is invalid",
        cause=(
            f"The archive from {url} could not be unpacked: {problem}. "
            "Nothing from it was installed."
        ),
        action=(
            "Try the build again. If it fails the same way, the mirror serves "
            "a broken, truncated or hand-made file: repack it with this "
            "buildpack's pack-runtime tool and re-upload it."
        ),
        detail=problem,
    )


def runtime_checksum_mismatch(url: str, expected: str, actual: str) -> BuildError:
    return BuildError(
        reason="install-python::checksum-mismatch",
        title="The Python runtime archive failed its checksum",
        cause=(
            f"The SHA-256 of {url} is {actual}, but the mirror's .sha256 file "
            f"says {expected}. The download was corrupted or the archive was "
            "replaced without updating its checksum."
        ),
        action="Try the build again. If it fails the same way, fix the mirror.",
        detail=f"expected {expected} got {actual}",
    )


def runtime_archive_unsafe(url: str, member: str, problem: str) -> BuildError:
    return BuildError(
        reason="install-python::unsafe-archive",
        title="The Python runtime archive is unsafe",
        cause=(
            f"The archive from {url} contains '{member}', which {problem}. "
            "Nothing from it was installed."
        ),
        action="Use a runtime archive made by this buildpack's pack-runtime tool.",
        detail=f"{member}: {problem}",
    )


def runtime_url_invalid(url: str) -> BuildError:
    return BuildError(
        reason="install-python::invalid-url",
        title="BUILDPACK_S3_BASE_URL is not a usable address",
        cause=f"'{url}' is not an http://, https:// or file:// URL.",
        action="Set BUILDPACK_S3_BASE_URL to the base address of a runtime mirror.",
        detail=url,
    )


def app_symlink_failed(link: str, problem: str) -> BuildError:
    return BuildError(
        reason="install-python::app-symlink",
        title="Could not link the runtime into /app",
        cause=(
            f"The buildpack runs Python from {link} so that the built app works "
            f"when it runs at /app, but creating that link failed: {problem}"
        ),
        action="Make /app writable for the build user, or build in /app itself.",
        detail=problem,
    )


def app_link_busy(link: str, timeout: float, setting: str) -> BuildError:
    return BuildError(
        reason="install-python::app-link-busy",
        title=f"Another build on this machine is using {link}",
        cause=(
            f"Every build runs Python through {link}, and another build in a "
            f"different directory has been using it for more than {timeout:.0f} "
            "seconds. Repointing it would send that build's installs into this "
            "one's directory, so this build waited and then gave up."
        ),
        action=(
            "Build again once the other build has finished, or build one app at a "
            f"time on this machine. {setting} (seconds) sets how long to wait."
        ),
        detail=f"waited {timeout:.0f} seconds",
    )


def buildpack_dependencies_failed(output: str) -> BuildError:
    return BuildError(
        reason="internal-error::buildpack-dependencies",
        title="Could not install the buildpack's own dependencies",
        cause=(
            "Before building the app, the buildpack installs a few libraries it "
            "needs (zstandard, requests, PyYAML) from the package index, and "
            "that failed:\n\n" + output[-2000:]
        ),
        action=(
            "This is usually a temporary network problem: try the build again. "
            "If the build can only reach a private index, set PIP_INDEX_URL."
        ),
        detail=first_line(output),
    )


# --- package managers -------------------------------------------------------

_MANAGER_FILES = (
    "  requirements.txt  (pip)\n"
    "  uv.lock           (uv)\n"
    "  poetry.lock       (Poetry)\n"
    "  Pipfile.lock      (Pipenv)"
)


def multiple_package_managers(found: list[str]) -> BuildError:
    listing = "\n".join(f"  {name}" for name in found)
    return BuildError(
        reason="package-manager::multiple-found",
        title="More than one package manager file",
        cause=(
            "The app's root directory has files for several package managers:\n\n"
            f"{listing}\n\nThe buildpack cannot tell which one to install with."
        ),
        action=(
            "Keep the file of the package manager you use and delete the others "
            "(for example with 'git rm'), then build again."
        ),
        detail=", ".join(found),
    )


def pipfile_lock_missing(others: list[str] | tuple[str, ...] = ()) -> BuildError:
    also = ""
    if others:
        also = (
            f" It also has {' and '.join(others)}, but a Pipfile says the app uses "
            "Pipenv, so the buildpack does not guess which file is current."
        )
    return BuildError(
        reason="package-manager::pipenv-missing-lockfile",
        title="The Pipfile has no Pipfile.lock",
        cause=(
            "The app has a Pipfile but no Pipfile.lock. The buildpack installs "
            "Pipenv apps from their lockfile only, so builds are reproducible." + also
        ),
        action=(
            "Run 'pipenv lock' in the app's directory, commit the Pipfile.lock "
            "it writes, and build again."
            + (
                " If the app does not use Pipenv, delete the Pipfile instead (git rm Pipfile)."
                if others
                else ""
            )
        ),
        detail=", ".join(others),
    )


def setup_py_only() -> BuildError:
    return BuildError(
        reason="package-manager::setup-py-only",
        title="No file that lists the app's dependencies",
        cause=(
            "The app has a setup.py or setup.cfg but none of the files the "
            "buildpack installs from:\n\n" + _MANAGER_FILES
        ),
        action=(
            "To install the app's own package with its dependencies, create a "
            "requirements.txt containing the single line:\n\n  -e .\n\n"
            "and commit it."
        ),
    )


def pyproject_without_lockfile() -> BuildError:
    return BuildError(
        reason="package-manager::none-found",
        title="pyproject.toml has no lockfile",
        cause=(
            "The app has a pyproject.toml but no lockfile or requirements.txt. "
            "The buildpack installs from one of:\n\n" + _MANAGER_FILES
        ),
        action=(
            "Create the lockfile with your package manager and commit it: "
            "'uv lock' writes uv.lock, 'poetry lock' writes poetry.lock. With "
            "pip, list the dependencies in requirements.txt."
        ),
    )


def no_package_manager_files() -> BuildError:
    return BuildError(
        reason="package-manager::none-found",
        title="No file that lists the app's dependencies",
        cause=(
            "The app's root directory has none of the files the buildpack "
            "installs from:\n\n" + _MANAGER_FILES
        ),
        action=(
            "Add one of them at the root of the app and commit it. An app with "
            "no dependencies can use an empty requirements.txt."
        ),
    )


def bundled_pip_not_found(python_home: str) -> BuildError:
    return BuildError(
        reason="internal-error::bundled-pip-not-found",
        title="The Python runtime has no bundled pip",
        cause=(
            f"No pip wheel was found under {python_home}/lib/python*/ensurepip/_bundled, "
            "which every runtime archive must include."
        ),
        action="Use a runtime archive made by this buildpack's pack-runtime tool.",
    )


def install_package_manager_failed(tool: str, version: str, output: str) -> BuildError:
    return BuildError(
        reason=f"install-package-manager::{tool}",
        title=f"Could not install {tool} {version}",
        cause=(f"Installing {tool} {version} from the package index failed (its output is above)."),
        action=(
            f"If you set BUILDPACK_{tool.upper()}_VERSION, check that {tool} "
            f"{version} exists. Otherwise this is often a temporary network "
            "problem: try the build again."
        ),
        detail=first_line(output),
        output=output,
    )


def install_dependencies_failed(tool: str, command: str, output: str, hint: str = "") -> BuildError:
    return BuildError(
        reason=f"install-dependencies::{tool}",
        title="Could not install the app's dependencies",
        cause=f"'{command}' failed (its output is above).{hint}",
        action=(
            "Fix the problem the installer reports, check the same command "
            "works locally with the same Python version, then build again."
        ),
        detail=first_line(output),
        output=output,
    )


# Things an installer's output shows that have a known fix, as Heroku's hints:
# (text in the output, the hint added to the error's cause).
_INSTALL_HINTS = (
    (
        "gdal-config",
        "The package needs the GDAL library, which the build image does not have. "
        "Add a buildpack that provides GDAL before this one.",
    ),
    (
        "sqlite3.h",
        "The package needs SQLite's headers. Python's own sqlite3 module may be "
        "enough; otherwise use pysqlite3-binary (or pysqlite3 0.6.0 or newer).",
    ),
    (
        # pip 24.1 and later refuse packages whose metadata is not valid
        # today (Celery before 5.2.1, among others); pip's message says "pip<24.1".
        "pip<24.1",
        "One of the packages (or the version of it that is asked for) has metadata "
        "that pip no longer accepts since pip 24.1: pip's message above names it. "
        "Upgrade that package to a newer release (for Celery, 5.2.1 or newer) in the "
        "app's dependency file, rather than downgrading pip.",
    ),
)


def install_hint(output: str) -> str:
    """The hint for a failed install's output, as a paragraph, or ""."""
    for marker, hint in _INSTALL_HINTS:
        if marker in output:
            return "\n\n" + hint
    return ""


# --- python version ---------------------------------------------------------
# Raised by buildpack.python_version. ``example`` is a version such as "3.13"
# for the command to paste that ends each message, so there is always a way out.
# Whatever came from the app is shown through _quoted: escaped and cut short,
# since a version file can hold anything, including terminal escape codes.

_VERSION_FILE_FORMAT = (
    "The file must contain one line with a version such as '3.13' (the latest "
    "3.13 release, with automatic security updates) or '3.13.1' (that exact "
    "release). Lines starting with '#' are comments."
)


def python_version_file_misspelled(
    found: list[str], example: str, *, rename: str = ""
) -> BuildError:
    names = ", ".join(_quoted(name) for name in found)
    several = len(found) > 1
    if rename:
        action = (
            "Rename it, keeping its contents:\n"
            f"  git mv {rename} .python-version\n"
            "or replace it with a new file:\n"
            f"  {_echo(example)}\n"
        )
    else:
        action = (
            f"Delete {'them' if several else 'it'} and state the version in .python-version "
            f"instead, for example:\n  {_echo(example)}\n"
        )
    return BuildError(
        reason="python-version-file::misspelled",
        title="Misspelled Python version file",
        cause=(
            f"The app's root directory has {'files' if several else 'a file'} named {names}. "
            f"{'They look' if several else 'It looks'} like a Python version file, but the "
            "buildpack only reads a file named exactly '.python-version' (starting with a "
            "dot, with a dash, all lower case, no extension and no spaces), so the version "
            "in it would be silently ignored."
        ),
        action=action + "then commit the change and deploy again.",
        detail=", ".join(found)[:200],
    )


def version_file_unreadable(name: str, reason_prefix: str, problem: str) -> BuildError:
    return BuildError(
        reason=f"{reason_prefix}::unreadable",
        title=f"Could not read {name}",
        cause=f"The buildpack reads the Python version from {name}, but {problem}.",
        action=f"Make {name} a regular file in the app's root directory and commit it.",
        detail=problem,
    )


def version_file_too_large(name: str, reason_prefix: str, limit: int, example: str) -> BuildError:
    return BuildError(
        reason=f"{reason_prefix}::too-large",
        title=f"{name} is too large",
        cause=(
            f"{name} is larger than {limit // 1024} KiB, far more than a Python version "
            "needs, so the buildpack did not read it. Another file was probably saved "
            "under this name."
        ),
        action=f"Replace it with a file holding only the version, for example:\n  {_echo(example)}",
        detail=f"larger than {limit} bytes",
    )


def version_file_invalid_encoding(
    name: str, reason_prefix: str, problem: str, example: str
) -> BuildError:
    return BuildError(
        reason=f"{reason_prefix}::invalid-encoding",
        title=f"{name} is not plain UTF-8 text",
        cause=(
            f"{name} {problem}, so its version cannot be read reliably. Windows "
            "PowerShell's '>' and some editors write UTF-16 or add a byte order mark."
        ),
        action=(
            "Write the file again as plain text, for example:\n"
            f"  {_echo(example)}\n"
            "or in PowerShell:\n"
            f"  Set-Content -Path .python-version -Value '{example}' -Encoding ascii"
        ),
        detail=problem,
    )


def python_version_file_no_version(example: str, *, has_comments: bool) -> BuildError:
    what = "only has comments" if has_comments else "is empty"
    return BuildError(
        reason="python-version-file::no-version",
        title="No Python version in .python-version",
        cause=f".python-version {what}: it does not say which Python version to use.\n\n"
        + _VERSION_FILE_FORMAT,
        action=f"Add the version, for example:\n  {_echo(example)}",
    )


def python_version_file_multiple_versions(lines: list[str], example: str) -> BuildError:
    return BuildError(
        reason="python-version-file::multiple-versions",
        title="More than one Python version in .python-version",
        cause=(
            f".python-version has {len(lines)} version lines:\n{_quoted_lines(lines)}\n\n"
            "Tools such as pyenv accept several versions, but an app runs on one Python, "
            "so the buildpack needs exactly one."
        ),
        action=(
            "Keep only the version the app runs on (or turn the others into comments "
            f"starting with '#'), for example:\n  {_echo(example)}"
        ),
        detail=" ".join(lines)[:200],
    )


def python_version_file_invalid_version(found: str, hint: str, example: str) -> BuildError:
    return BuildError(
        reason="python-version-file::invalid-version",
        title="Invalid Python version in .python-version",
        cause=(
            f".python-version contains {_quoted(found)}, which is not a version the "
            f"buildpack understands: {hint}\n\n{_VERSION_FILE_FORMAT}"
        ),
        action=f"Replace the line with a plain version, for example:\n  {_echo(example)}",
        detail=found[:200],
    )


def python_version_file_not_found_for_uv(example: str) -> BuildError:
    return BuildError(
        reason="python-version-file::not-found",
        title="No .python-version file",
        cause=(
            "This app uses uv (it has a uv.lock), and uv apps must state their Python "
            "version in a .python-version file at the root of the app, which is also "
            "where uv itself looks for it. There is none."
        ),
        action=(
            "Create it with 'uv python pin', or by hand, for example:\n"
            f"  {_echo(example)}\n"
            "then commit it and deploy again."
        ),
    )


def runtime_txt_not_supported_for_uv(example: str, *, has_python_version_file: bool) -> BuildError:
    if has_python_version_file:
        action = "The app already has a .python-version: delete runtime.txt (git rm runtime.txt)."
    else:
        action = (
            "Replace runtime.txt with a .python-version file:\n"
            f"  {_echo(example)}\n"
            "  git rm runtime.txt"
        )
    return BuildError(
        reason="runtime-txt::not-supported",
        title="runtime.txt is not supported for uv apps",
        cause=(
            "This app uses uv (it has a uv.lock) and has a runtime.txt. uv apps must "
            "state their Python version in .python-version instead, the file uv itself "
            "reads, so that the build and 'uv' on your machine agree."
        ),
        action=action,
    )


def runtime_txt_invalid_version(lines: list[str], hint: str, example: str) -> BuildError:
    found = _quoted_lines(lines) if lines else "  (nothing)"
    return BuildError(
        reason="runtime-txt::invalid-version",
        title="Invalid Python version in runtime.txt",
        cause=(
            f"runtime.txt contains:\n{found}\n\n{hint} runtime.txt must contain one line "
            "such as 'python-3.13' or 'python-3.13.1'."
        ),
        action=(
            "runtime.txt is deprecated: replace it with a .python-version file, for example:\n"
            f"  {_echo(example)}\n"
            "  git rm runtime.txt"
        ),
        detail=" ".join(lines)[:200],
    )


def pipfile_lock_invalid_json(problem: str) -> BuildError:
    return BuildError(
        reason="pipfile-lock::invalid-json",
        title="Could not read Pipfile.lock",
        cause=(
            "The buildpack reads the Python version from Pipfile.lock, but the file "
            f"is not valid JSON: {problem}. A merge conflict or a hand edit usually "
            "causes this."
        ),
        action="Create it again with 'pipenv lock', commit it and deploy again.",
        detail=problem[:200],
    )


def pipfile_lock_invalid_version(
    field: str, found: str, example: str, *, not_a_string: bool = False
) -> BuildError:
    what = "not a text string" if not_a_string else "not a version such as '3.13' or '3.13.1'"
    return BuildError(
        reason="pipfile-lock::invalid-version",
        title="Invalid Python version in Pipfile.lock",
        cause=f"In Pipfile.lock, '_meta.requires.{field}' is {_quoted(found)}, which is {what}.",
        action=(
            'Set python_version = "3.13" (or python_full_version = "3.13.1") in the '
            "[requires] section of the Pipfile, then run 'pipenv lock'. Or state the "
            f"version in .python-version, which takes precedence:\n  {_echo(example)}"
        ),
        detail=found[:200],
    )


def python_version_eol(
    minor: str, origin: str, supported: tuple[str, ...], example: str, *, previous: str = ""
) -> BuildError:
    if origin == "cached":
        cause = (
            "The app does not state a Python version, so the buildpack would keep the "
            f"minor version of the previous build, Python {previous}. But Python {minor} "
            "has reached its end of life: it gets no more security fixes, and this "
            "buildpack no longer supports it."
        )
    else:
        cause = (
            f"{origin} asks for Python {minor}, which has reached its end of life: it "
            "gets no more security fixes, and this buildpack no longer supports it."
        )
    return BuildError(
        reason="python-version::eol",
        title=f"Python {minor} is no longer supported",
        cause=f"{cause}\n\nSupported versions: {', '.join(supported)}.",
        action=_version_action(origin, example, "Upgrade the app to a supported version"),
        detail=minor,
    )


def python_version_unknown(
    minor: str, origin: str, supported: tuple[str, ...], example: str, *, previous: str = ""
) -> BuildError:
    if origin == "cached":
        cause = (
            "The app does not state a Python version, so the buildpack would keep the "
            f"minor version of the previous build, Python {previous}. This release of "
            f"the buildpack does not know Python {minor}: the previous build most likely "
            "used a newer release of the buildpack."
        )
        action = (
            "Build with the newer buildpack release again, or state a version this "
            f"release supports in .python-version, for example:\n  {_echo(example)}"
        )
    else:
        cause = (
            f"{origin} asks for Python {minor}, which this release of the buildpack does "
            "not know. Either that version has not been released yet, or it came out "
            "after this buildpack release."
        )
        action = (
            f"If Python {minor} has been released, update the buildpack to its latest "
            "release. " + _version_action(origin, example, "Otherwise use a supported version")
        )
    return BuildError(
        reason="python-version::unknown-major",
        title=f"Python {minor} is not known to this buildpack",
        cause=f"{cause}\n\nSupported versions: {', '.join(supported)}.",
        action=action,
        detail=minor,
    )


def _version_action(origin: str, example: str, verb: str) -> str:
    if origin == "runtime.txt":
        return (
            f"{verb}: replace runtime.txt (deprecated) with a .python-version file:\n"
            f"  {_echo(example)}\n  git rm runtime.txt"
        )
    if origin == "Pipfile.lock":
        return (
            f"{verb}: set python_version in the [requires] section of the Pipfile and "
            f"run 'pipenv lock', or state it in .python-version:\n  {_echo(example)}"
        )
    return f"{verb}, for example:\n  {_echo(example)}"


def _echo(example: str) -> str:
    return f"echo '{example}' > .python-version"


def _quoted(text: str, limit: int = 60) -> str:
    """``text`` in quotes, with non-printable characters escaped, cut at ``limit``."""
    shown = repr(text[:limit])[1:-1]
    return f"'{shown}'" + ("..." if len(text) > limit else "")


def _quoted_lines(lines: list[str], limit: int = 5) -> str:
    shown = [f"  {_quoted(line)}" for line in lines[:limit]]
    if len(lines) > limit:
        shown.append(f"  (and {len(lines) - limit} more)")
    return "\n".join(shown)


# --- app checks, hooks, NLTK, collectstatic (issue 8) ------------------------


def duplicate_python_buildpack() -> BuildError:
    return BuildError(
        reason="checks::duplicate-python-buildpack",
        title="The Python buildpack ran twice in this build",
        cause=(
            "A Python buildpack already ran earlier in this build: the "
            "environment it exported is set, and it installed Python into "
            ".heroku/python. Running a second Python buildpack on top of the "
            "first would mix two runtimes and break the app."
        ),
        action=(
            "List the Python buildpack only once for the app (check the "
            "buildpacks set on the app and any .buildpacks file or app.json), "
            "then build again."
        ),
    )


def existing_venv_dir(name: str) -> BuildError:
    return BuildError(
        reason="checks::existing-venv-dir",
        title=f"The app contains a virtual environment ({name}/)",
        cause=(
            f"The app's files include {name}/pyvenv.cfg, a virtual environment "
            "made on another machine. It cannot work here: its Python and "
            "installed packages point at paths that do not exist in the build, "
            "and it would shadow the runtime the buildpack installs."
        ),
        action=(
            f"Remove {name}/ from the app (for example 'git rm -r --cached "
            f"{name}') and add it to .gitignore, then build again. The "
            "buildpack installs the app's dependencies itself."
        ),
        detail=name,
    )


def hook_failed(name: str, returncode: int, output: str) -> BuildError:
    return BuildError(
        reason=f"hooks::{name}",
        title=f"The bin/{name} hook failed",
        cause=(
            f"The app's bin/{name} script exited with status {returncode} (its output is above)."
        ),
        action=(
            f"Fix bin/{name}, then build again. It runs with bash (or the "
            "interpreter on its #! line) in the app's directory, with the "
            "app's config vars set and the app's Python first on PATH."
        ),
        detail=first_line(output) or f"exit status {returncode}",
        output=output,
    )


def nltk_download_failed(corpora: list[str], problem: str, output: str) -> BuildError:
    return BuildError(
        reason="nltk-downloader",
        title="Could not download the NLTK corpora in nltk.txt",
        cause=(
            "The NLTK downloader failed for nltk.txt's corpora ("
            + ", ".join(corpora)
            + f"):\n\n  {problem}"
        ),
        action=(
            "Check that every name in nltk.txt is an NLTK data package id "
            "(for example 'punkt' or 'stopwords'), one or more per line. If the "
            "builds must use a mirror of the NLTK data index, set the "
            "NLTK_DOWNLOAD_URL config var to its index.xml address. A network "
            "problem may be temporary: try the build again."
        ),
        detail=problem[:200],
        output=output,
    )


_COLLECTSTATIC_DISABLE = (
    "To build without collectstatic (for example while you fix this), set "
    "the config var DISABLE_COLLECTSTATIC=1."
)


def collectstatic_no_static_root(command: str, output: str) -> BuildError:
    return BuildError(
        reason="collectstatic-improper-configuration",
        title="Django's collectstatic needs STATIC_ROOT",
        cause=(
            f"'{command}' failed because the app's Django settings do not set "
            "STATIC_ROOT, the directory collectstatic copies static files into "
            "(Django's output is above)."
        ),
        action=(
            "Set STATIC_ROOT in the settings, for example:\n\n"
            '  STATIC_ROOT = BASE_DIR / "staticfiles"\n\n'
            "and check that STATIC_URL is set too. " + _COLLECTSTATIC_DISABLE
        ),
        detail=first_line(_error_lines(output)) or "STATIC_ROOT not set",
        output=output,
    )


_COLLECTSTATIC_CAUSES = {
    "syntax-error": "a Python file it imports has a syntax error",
    "improper-configuration": "the app's Django settings are not valid",
    "fancy-references": (
        "a static file refers to another static file that does not exist "
        "(Django's manifest storage checks every url() and import)"
    ),
    "missing-file": "a file or directory it needs does not exist",
    "other": "of an error",
}


def collectstatic_failed(kind: str, command: str, output: str) -> BuildError:
    because = _COLLECTSTATIC_CAUSES.get(kind, _COLLECTSTATIC_CAUSES["other"])
    return BuildError(
        reason=f"collectstatic-{kind}",
        title="Django's collectstatic failed",
        cause=(
            f"'{command}' failed because {because}. Django's output, with the traceback, is above."
        ),
        action=(
            "Run the same command locally with the same settings and config "
            "vars to reproduce and fix the error. Settings that read config "
            "vars at import time must have a default that works during the "
            "build. " + _COLLECTSTATIC_DISABLE
        ),
        detail=first_line(_error_lines(output)),
        output=output,
    )


def _error_lines(output: str) -> str:
    """The last lines of a traceback: where Python names the exception."""
    lines = [line for line in output.splitlines() if line.strip()]
    return "\n".join(reversed(lines[-3:]))


# --- runtime mirror checksums (issue 3) ---------------------------------------


def runtime_checksum_file_invalid(url: str, problem: str) -> BuildError:
    return BuildError(
        reason="install-python::invalid-checksum-file",
        title="The runtime mirror serves an unreadable checksum file",
        cause=(
            f"The buildpack verifies the Python runtime against {url}, but that "
            f"file is not a SHA-256 checksum: {problem}."
        ),
        action=(
            "Fix the mirror: the file must hold the archive's SHA-256 in hex, "
            "optionally followed by two spaces and the archive's name "
            "(the output of sha256sum). The pack-runtime tool writes such files."
        ),
        detail=f"{url}: {problem}",
    )


# --- app files the build reads, download settings (issue 9) ----------------------


def app_file_outside_app(name: str, target: str) -> BuildError:
    return BuildError(
        reason="checks::app-file::outside-app",
        title=f"{name} points outside the app",
        cause=(
            f"{name} is a symbolic link to {target}, which is outside the app's "
            "directory. The build reads this file, and a build must only read "
            "the app's own files, so the buildpack refused to use it."
        ),
        action=(
            f"Replace the link with a copy of the file: for example 'cp --remove-destination "
            f'"$(readlink -f {name})" {name}\', then commit it. A link to another file '
            "inside the app is fine."
        ),
        detail=f"{name} -> {target}"[:200],
    )


def app_dir_outside_app(name: str, target: str) -> BuildError:
    return BuildError(
        reason="checks::app-file::outside-app",
        title=f"{name} points outside the app",
        cause=(
            f"{name} is a symbolic link to {target}, which is outside the app's "
            "directory. The build writes into it, and a build must only write "
            "inside the app, so the buildpack refused to use it."
        ),
        action=(
            f"Remove the link (the build makes {name} itself) or make it a real "
            "directory in the app, then commit that. A link to a directory inside "
            "the app is fine."
        ),
        detail=f"{name} -> {target}"[:200],
    )


def app_file_not_regular(name: str, problem: str) -> BuildError:
    return BuildError(
        reason="checks::app-file::not-a-file",
        title=f"Could not read {name}",
        cause=f"The build reads {name}, but {problem}.",
        action=f"Make {name} a regular file in the app's root directory and commit it.",
        detail=problem,
    )


def app_file_too_large(name: str, limit: int) -> BuildError:
    return BuildError(
        reason="checks::app-file::too-large",
        title=f"{name} is too large",
        cause=(
            f"{name} is larger than {limit // (1024 * 1024)} MiB, far more than a list "
            "of packages needs. Another file was probably saved under this name."
        ),
        action=f"Replace {name} with the app's list of requirements, then commit it.",
        detail=f"larger than {limit} bytes",
    )


def app_file_invalid_encoding(name: str, problem: str) -> BuildError:
    return BuildError(
        reason="checks::app-file::invalid-encoding",
        title=f"{name} is not UTF-8 text",
        cause=(
            f"{name} {problem}. pip reads requirements files as UTF-8 and would "
            "stop with an internal error. Windows PowerShell's '>' and some editors "
            "write other encodings."
        ),
        action=(
            f"Save {name} again as UTF-8 text (for example 'pip freeze > {name}' in a "
            "POSIX shell, or choose UTF-8 in the editor's save dialog), then commit it."
        ),
        detail=problem,
    )


def download_setting_invalid(name: str, value: str, expected: str) -> BuildError:
    return BuildError(
        reason="install-python::invalid-download-setting",
        title=f"{name} is not valid",
        cause=f"{name} is set to '{value[:60]}', but it must be {expected}.",
        action=f"Fix or unset {name} (in the config vars or the build's environment).",
        detail=f"{name}={value[:100]}",
    )


# --- package manager tools: uv, Poetry, Pipenv (issue 4) ---------------------


def _version_origin(tool: str, origin: str) -> str:
    if origin == "buildpack.toml":
        return f"This release of the buildpack pins {display_name(tool)}"
    return f"{origin} asks for {display_name(tool)}"


def tool_version_invalid(tool: str, origin: str, value: str) -> BuildError:
    return BuildError(
        reason=f"install-package-manager::{tool}",
        title=f"{origin} is not a version",
        cause=(
            f"{origin} is set to {_quoted(value)}, which is not a version number "
            f"of {display_name(tool)}. A version looks like '1.2.3'."
        ),
        action=(
            f"Set {origin} to a released version of {display_name(tool)}, or unset "
            "it to use the version this buildpack pins."
        ),
        detail=value[:200],
    )


def tool_version_not_found(tool: str, version: str, origin: str, output: str) -> BuildError:
    name = display_name(tool)
    if origin == "buildpack.toml":
        action = (
            "This is a bug in the buildpack release. Until it is fixed, set the "
            f"BUILDPACK_{tool.upper()}_VERSION config var to a released version."
        )
    else:
        action = (
            f"Set {origin} to a released version of {name} (the package index's "
            "list is above), or unset it to use the version this buildpack pins."
        )
    return BuildError(
        reason=f"install-package-manager::{tool}",
        title=f"{name} {version} does not exist on the package index",
        cause=(
            f"{_version_origin(tool, origin)} {version}, but the package index "
            f"has no release {version} of '{tool}' that installs on this Python "
            "and platform."
        ),
        action=action,
        detail=f"{tool} {version}",
        output=output,
    )


def lockfile_outdated(tool: str, lockfile: str, command: str, output: str) -> BuildError:
    name = display_name(tool)
    source = "Pipfile" if tool == "pipenv" else "pyproject.toml"
    relock = {"uv": "uv lock", "poetry": "poetry lock", "pipenv": "pipenv lock"}.get(
        tool, f"{tool} lock"
    )
    return BuildError(
        reason=f"install-dependencies::{tool}",
        title=f"{lockfile} is out of date",
        cause=(
            f"'{command}' refused to install because {lockfile} does not match "
            f"{source} any more ({name}'s message is above): {source} was changed "
            f"after {lockfile} was last written. The buildpack installs exactly "
            "what the lockfile lists, so that every build of a commit installs "
            "the same packages, and never updates it during the build."
        ),
        action=(
            f"Run '{relock}' in the app's directory, commit the updated "
            f"{lockfile} together with {source}, and build again."
            + (_PIPENV_INDEX_HASH if tool == "pipenv" else "")
        ),
        detail=first_line(output),
        output=output,
    )


# Pipenv's hash covers pip's configured indexes too (pipenv/project.py).
_PIPENV_INDEX_HASH = (
    "\n\nIf the Pipfile did not change: Pipenv's check also covers the package "
    "indexes pip is configured with (a pip.conf, PIP_INDEX_URL, "
    "PIP_EXTRA_INDEX_URL), so lock with the same index settings the build has."
)


# --- helpers ----------------------------------------------------------------


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""
