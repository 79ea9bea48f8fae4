"""A verified copy of the pinned pip's installed files, kept in CACHE_DIR.

Installing pip runs the runtime's bundled pip from its wheel, which compiles
itself on every start: seconds on a small machine. A build whose cached
Python home was discarded (a requirements change, a Python patch update)
would pay that again for the very same files. So after pip is installed,
the files its RECORD lists are copied here, and a later build copies them
back instead of running pip.

That is only equivalent to running pip if the files are exactly what pip
wrote. Saving checks every file against the sha256 and size in RECORD; but
the seed lives in CACHE_DIR, which earlier builds' hooks could change, so a
restore checks it against what the buildpack holds outside CACHE_DIR: the
locked digest of pip's wheel (see ``restore``), and drops it on any
mismatch. The seed is keyed by everything that changes the files: pip's
version, the Python minor (the lib/python3.X path) and the Python home that
the scripts' shebangs name. Scripts must name that home, never a build
directory.
"""

from __future__ import annotations

import base64
import configparser
import csv
import hashlib
import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from buildpack.core import atomic_dir, fs, safe_fs
from buildpack.core.python_home import single_site_packages
from buildpack.core.settings import buildpack_root
from buildpack.selfdeps import verified_tree, wheel_install, wheel_lock

SEEDS_DIR = Path(".heroku/pip-seeds")
# Install records: not code, and written anew at every restore.
_REWRITTEN = frozenset({"INSTALLER", "REQUESTED", "RECORD", "direct_url.json"})


class SeedError(Exception):
    pass


def seed_dir(cache_dir: Path, version: str, minor_dir: str, app_python_home: Path) -> Path:
    home = hashlib.sha256(os.fsencode(app_python_home)).hexdigest()[:12]
    return cache_dir / SEEDS_DIR / f"pip-{version}-{minor_dir}-{home}"


def _record_files(python_home: Path, site: Path, version: str) -> list[tuple[str, str, str]]:
    """(path relative to python_home, sha256 entry, size) for each RECORD row."""
    record = site / f"pip-{version}.dist-info" / "RECORD"
    rows = []
    with open(record, newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            if not row:
                continue
            path, digest, size = [*row, "", ""][:3]
            full = os.path.normpath(os.path.join(site, path))
            rel = os.path.relpath(full, python_home)
            if rel.startswith(".."):
                raise SeedError(f"RECORD names a file outside the Python home: {path}")
            rows.append((rel, digest, size))
    return rows


def _check(path: Path, digest: str, size: str) -> None:
    if not digest:
        return  # RECORD itself
    algorithm, _, expected = digest.partition("=")
    if algorithm != "sha256":
        raise SeedError(f"{path}: unsupported hash {algorithm}")
    data = path.read_bytes()
    actual = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    if actual != expected or (size and int(size) != len(data)):
        raise SeedError(f"{path} differs from pip's RECORD")


def _check_script(path: Path, app_python_home: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(512)
    if head.startswith(b"#!") and not head.startswith(b"#!" + os.fsencode(app_python_home) + b"/"):
        raise SeedError(f"{path} does not run {app_python_home}'s Python")


def save(cache_dir: Path, python_home: Path, app_python_home: Path, version: str) -> bool:
    """Copy the installed pip ``version`` into the seed, unless one is there.

    False (and nothing kept) when the install is not one to copy."""
    site = single_site_packages(python_home)
    if site is None:
        return False
    target = seed_dir(cache_dir, version, site.parent.name, app_python_home)
    if target.is_dir():
        return True
    try:
        rows = _record_files(python_home, site, version)
        with atomic_dir.building(target, keep_existing=Path.is_dir) as partial:
            for rel, digest, size in rows:
                source = python_home / rel
                _check(source, digest, size)
                if rel.startswith("bin" + os.sep):
                    _check_script(source, app_python_home)
                dest = partial / "files" / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(source, dest)
    except (OSError, SeedError, ValueError):
        return False
    return True


def _link_or_copy(source: Path, dest: Path) -> None:
    # A link is free. Should the build later write into one of these files
    # in place, the seed fails its RECORD check at restore and is dropped.
    try:
        os.link(source, dest)
    except OSError:
        shutil.copy2(source, dest)


def restore(
    cache_dir: Path,
    python_home: Path,
    app_python_home: Path,
    version: str,
    *,
    lock_dir: Path | None = None,
) -> bool:
    """Copy a seeded pip ``version`` into ``python_home``; False if there is
    no usable seed (then nothing was written).

    The seed is in CACHE_DIR, so it is checked against what the buildpack
    holds outside it: pip's files must be exactly what the locked pip wheel
    unpacks to (``members_sha256`` in buildpack-locks.json), the launchers
    exactly the ones the buildpack writes for that wheel. Its bytecode and
    install records are not used (nothing could vouch for them): RECORD is
    written anew, and pip compiles what it imports. ``lock_dir`` holds
    buildpack-locks.json (by default, the buildpack's own directory).
    """
    site = single_site_packages(python_home)
    if site is None:
        return False
    source = seed_dir(cache_dir, version, site.parent.name, app_python_home)
    if not os.path.lexists(source):
        return False
    try:
        expected = _locked_members(version, lock_dir or buildpack_root())
        copy = _checked_files(source, site.relative_to(python_home), app_python_home, expected)
    except (OSError, SeedError, ValueError, UnicodeDecodeError, wheel_lock.LockUnusable):
        # Not what the lock vouches for: never to be tried again.
        fs.remove_tree(source)
        return False
    if any(os.path.lexists(python_home / rel) for rel in copy):
        return False  # not a runtime without pip: let pip deal with it
    written: list[tuple[Path, bytes]] = []
    try:
        for rel in copy:
            dest = python_home / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            data = (source / "files" / rel).read_bytes()
            # A copy: whatever the build does to its pip, the seed stays as
            # checked. Not fsynced, as the slug's files are not: a fsync per
            # file made this four times slower (0.76 s against 0.19 s).
            safe_fs.write_atomic(
                dest, data, mode=0o755 if rel.startswith("bin/") else 0o644, durable=False
            )
            written.append((dest, data))
        meta = site / f"pip-{version}.dist-info"
        for name, data in (
            ("INSTALLER", f"{wheel_install.INSTALLER_NAME}\n".encode()),
            ("REQUESTED", b""),
        ):
            safe_fs.write_atomic(meta / name, data, durable=False)
            written.append((meta / name, data))
        wheel_install.write_record(meta / "RECORD", site, written)
    except OSError:
        for path, _ in written:
            path.unlink(missing_ok=True)
        (site / f"pip-{version}.dist-info" / "RECORD").unlink(missing_ok=True)
        return False
    return True


def _locked_members(version: str, lock_dir: Path) -> str:
    """What pip ``version``'s wheel unpacks to, as the lock in ``lock_dir`` has it."""
    data = wheel_lock.load(lock_dir)
    entry = data["tools"].get("pip", {})
    if entry.get("version") != version:
        raise wheel_lock.LockUnusable(f"the buildpack has no lock of pip {version}")
    for package in entry["packages"]:
        for wheel in package["wheels"]:
            if wheel.get("members_sha256"):
                return str(wheel["members_sha256"])
    raise wheel_lock.LockUnusable(f"the lock of pip {version} has no members_sha256")


def _checked_files(source: Path, site_rel: Path, app_python_home: Path, expected: str) -> list[str]:
    """The seed's files to copy (paths relative to the Python home), once
    they are checked; SeedError when anything is not pip's own."""
    files = source / "files"
    site = site_rel.as_posix() + "/"
    members: list[tuple[str, str]] = []
    copy: list[str] = []
    launchers: list[str] = []
    for rel, mode in _walk(files):
        if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) or stat.S_ISREG(mode)):
            raise SeedError(f"{rel} is not a regular file")
        if stat.S_ISDIR(mode):
            continue
        if rel.startswith(site):
            inner = rel[len(site) :]
            parts = inner.split("/")
            if "__pycache__" in parts or (
                len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] in _REWRITTEN
            ):
                continue  # not checkable, or written anew
            members.append((inner, verified_tree.sha256_file(files / rel)))
        elif rel.startswith("bin/"):
            launchers.append(rel)
        else:
            raise SeedError(f"{rel} is not part of pip")
        copy.append(rel)
    if wheel_lock.members_digest(members) != expected:
        raise SeedError("pip's files differ from the locked wheel's")
    scripts = _entry_points(files / site_rel, site_rel.parent.name.removeprefix("python"))
    for rel in launchers:
        _check_launcher(files / rel, scripts.get(rel.removeprefix("bin/")), app_python_home)
    return copy


def _entry_points(site: Path, minor: str) -> dict[str, str]:
    """Launcher name -> target, from the (checked) entry_points.txt, and the
    pipX.Y launcher installers add for the Python pip is installed into."""
    [dist_info] = site.glob("pip-*.dist-info")
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((dist_info / "entry_points.txt").read_text(encoding="utf-8"))
    scripts = dict(parser.items("console_scripts")) if parser.has_section("console_scripts") else {}
    if "pip" in scripts:
        scripts[f"pip{minor}"] = scripts["pip"]
    return scripts


def _check_launcher(path: Path, target: str | None, app_python_home: Path) -> None:
    data = path.read_bytes()
    python = data.split(b"\n", 1)[0].removeprefix(b"#!").decode()
    if target is None or not python.startswith(f"{app_python_home}/bin/python"):
        raise SeedError(f"{path.name} is not one of pip's launchers")
    expected = wheel_install.launcher(python, target)
    # installer's launcher, or pip's, which is the same text in single quotes.
    if data not in (expected.encode(), expected.replace('"', "'").encode()):
        raise SeedError(f"{path.name} is not the launcher pip's entry point makes")


def _walk(root: Path) -> Iterator[tuple[str, int]]:
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in dirnames + filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            yield rel, os.lstat(os.path.join(dirpath, name)).st_mode
