"""Real wheel files for unit tests, written with zipfile, and a package index.

``build_wheel`` writes a wheel whose RECORD is correct (sha256 in urlsafe
base64 without padding, and the size) unless a test asks otherwise, so a
test that expects a rejection fails only for the reason it means to test.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Iterable, Mapping
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

from buildpack.selfdeps.package_index import IndexSettings


def sha256_record(data: bytes) -> str:
    """A RECORD hash, computed here independently of the code under test."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def build_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    files: Mapping[str, bytes],
    *,
    tag: str = "py3-none-any",
    console_scripts: Mapping[str, str] | None = None,
    gui_scripts: Mapping[str, str] | None = None,
    root_is_purelib: bool = True,
    modes: Mapping[str, int] | None = None,
    stored: Mapping[str, bytes] | None = None,
    record_rows: Mapping[str, tuple[str, str]] | None = None,
    unrecorded: Iterable[str] = (),
    extra_record: Iterable[tuple[str, str, str]] = (),
    with_wheel_file: bool = True,
    with_record: bool = True,
) -> Path:
    """Write ``{name}-{version}-{tag}.whl`` into ``dest_dir`` and return it.

    ``files`` maps archive names to contents (the .dist-info files are
    added). ``stored`` replaces what the zip holds for a name while RECORD
    keeps the hash of ``files`` (a tampered member); ``record_rows``
    replaces a member's RECORD (hash, size); ``unrecorded`` names are left
    out of RECORD; ``extra_record`` rows are added to it as they are.
    """
    dist_info = f"{name}-{version}.dist-info"
    members: dict[str, bytes] = dict(files)
    members[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()
    )
    if with_wheel_file:
        purelib = "true" if root_is_purelib else "false"
        members[f"{dist_info}/WHEEL"] = (
            f"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: {purelib}\nTag: {tag}\n"
        ).encode()
    lines = []
    for section, scripts in (("console_scripts", console_scripts), ("gui_scripts", gui_scripts)):
        if scripts:
            lines += [f"[{section}]", *(f"{k} = {v}" for k, v in scripts.items())]
    if lines:
        members[f"{dist_info}/entry_points.txt"] = ("\n".join(lines) + "\n").encode()

    skip = set(unrecorded)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for arcname, data in members.items():
        if arcname in skip:
            continue
        digest, size = (record_rows or {}).get(arcname, (sha256_record(data), str(len(data))))
        writer.writerow((arcname, digest, size))
    for row in extra_record:
        writer.writerow(row)
    writer.writerow((f"{dist_info}/RECORD", "", ""))

    wheel = dest_dir / f"{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in members.items():
            info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = ((modes or {}).get(arcname, 0o644) | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, (stored or {}).get(arcname, data))
        if with_record:
            zf.writestr(f"{dist_info}/RECORD", out.getvalue())
    return wheel


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class Index:
    """A directory served as a PEP 503 index: simple/<project>/index.html and files/."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        self.files = root / "files"
        self.files.mkdir(exist_ok=True)

    @property
    def settings(self) -> IndexSettings:
        return IndexSettings(self.url + "/simple")

    def add_wheel(self, name: str, version: str, tag: str = "py3-none-any") -> Path:
        return build_wheel(
            self.files,
            name,
            version,
            {f"{name}/__init__.py": f"V = {version!r}\n".encode()},
            tag=tag,
        )

    def publish(
        self, project: str, wheels: list[Path], *, sha: dict[str, str] | None = None
    ) -> None:
        anchors = []
        for wheel in wheels:
            digest = (sha or {}).get(wheel.name) or hashlib.sha256(wheel.read_bytes()).hexdigest()
            anchors.append(
                f'<a href="../../files/{wheel.name}#sha256={digest}">{wheel.name}</a><br/>'
            )
        page = self.root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            "<!DOCTYPE html>\n<html><body>\n" + "\n".join(anchors) + "\n</body></html>\n"
        )


def write_deps_lock(
    buildpack_dir: Path, pins: Mapping[str, str], wheels: Iterable[Path], env: str = ""
) -> None:
    """A buildpack-locks.json for ``pins`` on this interpreter only (or ``env``):
    each pin locked to the wheel of that name in ``wheels``, or to a file nobody has."""
    from buildpack.selfdeps import wheel_lock

    env = env or wheel_lock.this_environment()
    by_name = {w.name.split("-")[0]: w for w in wheels}
    packages = []
    for name, version in sorted(pins.items()):
        wheel = by_name.get(name)
        file = wheel.name if wheel else f"{name}-{version}-py3-none-any.whl"
        sha = hashlib.sha256(wheel.read_bytes()).hexdigest() if wheel else "0" * 64
        packages.append(
            {"name": name, "version": version, "wheels": [{"file": file, "sha256": sha}]}
        )
    entry = {
        "version": wheel_lock.pins_version(pins),
        "environments": [env],
        "packages": packages,
    }
    data = {"environments": [env], "tools": {wheel_lock.BUILDPACK_DEPENDENCIES: entry}}
    wheel_lock.lock_path(buildpack_dir).write_text(json.dumps(data))


def write_pip_lock(lock_dir: Path, version: str, wheel: Path) -> None:
    """A buildpack-locks.json whose pip entry locks ``wheel`` (pip ``version``)."""
    from buildpack.selfdeps import verified_tree, wheel_lock

    locked = {
        "file": wheel.name,
        "sha256": hashlib.sha256(wheel.read_bytes()).hexdigest(),
        "members_sha256": wheel_lock.members_digest(verified_tree.members(wheel)),
    }
    package = {"name": "pip", "version": version, "wheels": [locked]}
    entry = {"version": version, "environments": [], "packages": [package]}
    data = {"environments": [], "tools": {"pip": entry}}
    wheel_lock.lock_path(lock_dir).write_text(json.dumps(data))
