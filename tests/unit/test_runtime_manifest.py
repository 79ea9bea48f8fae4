"""A mirror's runtimes.json: reading it, and resolving the Python version with it.

Real files, a real loopback server and the real choose_python_version; the
mirror's listing is the buildpack's own MirrorRuntimes built from entries.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from buildpack.app.python_version import choose_python_version
from buildpack.core.errors import BuildError
from buildpack.core.settings import Settings, buildpack_root
from buildpack.runtime import download
from buildpack.runtime import manifest as runtime_manifest
from buildpack.runtime.manifest import (
    ManifestError,
    MirrorRuntimes,
    RuntimeEntry,
    encode_manifest,
    parse_manifest,
)
from tests.support.archives import small_runtime_tar, write_with_sha256, zstd
from tests.support.fault_server import Fault, FaultServer
from tests.unit.ctx_factory import make_ctx

SHA = "a" * 64


def entry(version: str, stack: str = "heroku-24", arch: str = "amd64") -> RuntimeEntry:
    name = f"python-{version}-ubuntu-{stack[-2:]}.04-{arch}.tar.zst"
    return RuntimeEntry(name, version, stack, arch, 123, SHA)


def mirror_of(*versions: str) -> MirrorRuntimes:
    return MirrorRuntimes(
        "http://mirror.test/runtimes.json", "heroku-24", "amd64", tuple(entry(v) for v in versions)
    )


# --- the format -----------------------------------------------------------------------


def test_round_trip_sorts_by_stack_arch_and_version() -> None:
    entries = [entry("3.11.10"), entry("3.11.9"), entry("3.11.9", "heroku-22", "arm64")]
    data = encode_manifest(entries)
    parsed = parse_manifest(data)
    assert [(e.stack, e.version) for e in parsed] == [
        ("heroku-22", "3.11.9"),
        ("heroku-24", "3.11.9"),
        ("heroku-24", "3.11.10"),
    ]
    assert json.loads(data)["schema"] == 1


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        (b"{not json", "it is not JSON"),
        (b'{"schema": 2, "runtimes": []}', "it is not a"),
        (b'{"schema": 1, "runtimes": {}}', "'runtimes' is not a list"),
        (b'{"schema": 1, "runtimes": [1]}', "runtimes[0] is not an object"),
        (b'{"schema": 1, "runtimes": [{"file": "x"}]}', "runtimes[0].version is missing"),
    ],
)
def test_malformed_manifests(doc: bytes, problem: str) -> None:
    with pytest.raises(ManifestError) as raised:
        parse_manifest(doc)
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("file", "../python.tar.zst"),
        ("version", "3.11"),
        ("arch", "x86_64"),
        ("sha256", "ABC"),
        ("size", True),
        ("size", -1),
    ],
)
def test_invalid_fields(field: str, value: object) -> None:
    item = entry("3.11.7").as_json() | {field: value}
    with pytest.raises(ManifestError, match=rf"runtimes\[0\]\.{field}"):
        parse_manifest(json.dumps({"schema": 1, "runtimes": [item]}).encode())


def test_a_file_listed_twice() -> None:
    data = encode_manifest([entry("3.11.7")])
    doc = json.loads(data)
    doc["runtimes"] *= 2
    with pytest.raises(ManifestError, match="more than once"):
        parse_manifest(json.dumps(doc).encode())


# --- resolving the version with it -------------------------------------------------------


@pytest.fixture(scope="module")
def settings() -> Settings:
    return Settings.load(buildpack_root() / "buildpack.toml")


def choose(tmp_path: Path, settings: Settings, version: str | None, mirror: MirrorRuntimes):
    if version is not None:
        (tmp_path / ".python-version").write_text(version + "\n")
    return choose_python_version(
        tmp_path, settings, package_manager="pip", cached_version=None, mirror=mirror
    )


def test_a_minor_resolves_to_the_newest_patch_on_the_mirror(tmp_path, settings) -> None:
    choice = choose(tmp_path, settings, "3.11", mirror_of("3.11.7", "3.11.10", "3.12.1"))
    assert choice.version == "3.11.10"
    assert choice.report_fields()["python_version_resolved_by"] == "runtimes.json"
    assert choice.warnings == ()


def test_the_default_minor_resolves_on_the_mirror_too(tmp_path, settings) -> None:
    default = settings.default_minor
    choice = choose(tmp_path, settings, None, mirror_of(f"{default}.0", f"{default}.1"))
    assert choice.version == f"{default}.1"
    assert choice.origin == "default"


def test_a_pin_of_the_mirrors_newest_patch_is_not_outdated(tmp_path, settings) -> None:
    # buildpack.toml knows a newer 3.11, but the mirror does not have it.
    assert settings.latest_patch["3.11"] != "3.11.7"
    choice = choose(tmp_path, settings, "3.11.7", mirror_of("3.11.7"))
    assert (choice.version, choice.outdated, choice.warnings) == ("3.11.7", False, ())


def test_a_pin_older_than_the_mirrors_newest_warns_with_the_mirrors(tmp_path, settings) -> None:
    choice = choose(tmp_path, settings, "3.11.7", mirror_of("3.11.7", "3.11.9"))
    assert choice.outdated
    [(title, body)] = choice.warnings
    assert title == "A Python patch update is available"
    assert "Python 3.11.9 is out" in body


def test_an_exact_version_the_mirror_lacks_lists_what_it_has(tmp_path, settings) -> None:
    with pytest.raises(BuildError) as raised:
        choose(tmp_path, settings, "3.11.99", mirror_of("3.11.7", "3.12.1"))
    error = raised.value
    assert error.reason == "python-version::not-on-mirror"
    assert error.title == "Python 3.11.99 is not on the runtime mirror"
    assert (
        "http://mirror.test/runtimes.json (heroku-24, amd64) lists: 3.11.7, 3.12.1" in error.cause
    )
    assert "give only the minor ('3.11')" in error.action
    assert "3.11.7" in error.action


def test_a_minor_the_mirror_lacks_lists_what_it_has(tmp_path, settings) -> None:
    with pytest.raises(BuildError) as raised:
        choose(tmp_path, settings, None, mirror_of("3.11.7"))
    assert raised.value.reason == "python-version::not-on-mirror"
    assert f"Python {settings.default_minor} is not on" in raised.value.title
    assert "the default, since the app gives no version" in raised.value.cause


def test_without_a_manifest_nothing_changes(tmp_path, settings) -> None:
    (tmp_path / ".python-version").write_text("3.11\n")
    choice = choose_python_version(tmp_path, settings, package_manager="pip", cached_version=None)
    assert choice.version == settings.latest_patch["3.11"]
    assert choice.report_fields()["python_version_resolved_by"] == "buildpack.toml"


# --- reading it from the mirror ------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with FaultServer(mirror) as server:
        yield mirror, server


def load(tmp_path: Path, url: str, **settings: str):
    captured = make_ctx(tmp_path, environ={"PATH": "/usr/bin:/bin", **settings})
    captured.ctx.stack, captured.ctx.arch = "heroku-24", "amd64"
    return runtime_manifest.load(captured.ctx, url), captured


def test_load_keeps_this_stack_and_cpu(tmp_path, served) -> None:
    mirror, server = served
    listed = [
        entry("3.11.9"),
        entry("3.11.7"),
        entry("3.11.8", "heroku-22"),
        entry("3.11.8", arch="arm64"),
    ]
    (mirror / "runtimes.json").write_bytes(encode_manifest(listed))
    found, _ = load(tmp_path, server.url)
    assert found is not None
    assert found.versions == ("3.11.7", "3.11.9")
    assert found.where == f"{server.url}/runtimes.json (heroku-24, amd64)"


def test_load_asks_with_urllib_even_with_requests_there(tmp_path, served) -> None:
    """A few kilobytes are not worth importing requests on a rebuild that
    downloads nothing else: the manifest always comes by urllib."""
    import requests  # noqa: F401 - importable here, as once the build's libraries are there

    mirror, server = served
    (mirror / "runtimes.json").write_bytes(encode_manifest([entry("3.11.9")]))
    found, captured = load(tmp_path, server.url)
    assert captured.ctx.deps_ready
    assert found is not None
    assert [agent.split("/")[0] for agent in server.user_agents] == ["Python-urllib"]


def test_load_without_a_manifest(tmp_path, served) -> None:
    _, server = served
    found, captured = load(tmp_path, server.url)
    assert found is None
    assert server.hits["/runtimes.json"] == 1
    assert captured.log == ""


def test_load_goes_on_without_an_unreachable_manifest(tmp_path, served) -> None:
    _, server = served
    server.add("/runtimes.json", Fault("status", status=503, times=None))
    found, captured = load(
        tmp_path, server.url, BUILDPACK_DOWNLOAD_RETRIES="1", BUILDPACK_DOWNLOAD_BACKOFF="0"
    )
    assert found is None
    assert "Could not read the mirror's runtimes.json" in captured.log


@pytest.mark.parametrize(
    ("body", "problem"),
    [(b"[]", "it is not a"), (b"{" * 10, "it is not JSON")],
)
def test_load_refuses_a_broken_manifest(tmp_path, served, body: bytes, problem: str) -> None:
    mirror, server = served
    (mirror / "runtimes.json").write_bytes(body)
    with pytest.raises(BuildError) as raised:
        load(tmp_path, server.url)
    assert raised.value.reason == "install-python::manifest-invalid"
    assert problem in raised.value.cause


def test_load_refuses_an_oversized_manifest(tmp_path, served) -> None:
    mirror, server = served
    (mirror / "runtimes.json").write_bytes(b" " * (runtime_manifest.MAX_MANIFEST_BYTES + 1))
    with pytest.raises(BuildError, match="manifest-invalid"):
        load(tmp_path, server.url)


# --- its checksum against the .sha256 --------------------------------------------------------


def test_the_sha256_file_must_agree_with_the_manifest(tmp_path, served) -> None:
    mirror, server = served
    name = "python-3.13.1-ubuntu-24.04-amd64.tar.zst"
    data = zstd(small_runtime_tar(b"x"))
    write_with_sha256(mirror / name, data)
    kwargs = {"connect_timeout": 2, "read_timeout": 5, "retries": 0, "backoff": 0}
    out = make_ctx(tmp_path).ctx.out
    with pytest.raises(BuildError) as raised:
        download.download_and_extract(
            f"{server.url}/{name}", tmp_path / "a", out=out, listed_sha256="b" * 64, **kwargs
        )
    assert raised.value.reason == "install-python::manifest-checksum-mismatch"
    assert not (tmp_path / "a").exists()
    # Agreeing: installed. Without a .sha256, the manifest's checksum is checked.
    digest = hashlib.sha256(data).hexdigest()
    download.download_and_extract(
        f"{server.url}/{name}", tmp_path / "b", out=out, listed_sha256=digest, **kwargs
    )
    assert (tmp_path / "b/bin/python3").is_file()
    (mirror / f"{name}.sha256").unlink()
    with pytest.raises(BuildError) as raised:
        download.download_and_extract(
            f"{server.url}/{name}", tmp_path / "c", out=out, listed_sha256="b" * 64, **kwargs
        )
    assert raised.value.reason == "install-python::checksum-mismatch"
