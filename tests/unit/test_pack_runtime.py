"""tools/pack-runtime, on the host interpreter and on a small made-up prefix."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import zstandard

from buildpack.core.output import Output
from buildpack.runtime import download
from buildpack.runtime.extract import extract_tar_stream
from buildpack.runtime.zstd_stream import open_zstd_reader
from tests.support.archives import tar_members
from tests.support.runtime_mirror import RuntimeArchive
from tools.runtime_archive import manifest
from tools.runtime_archive import pack as runtime_pack
from tools.runtime_archive.pack import PackError, pack_runtime

ROOT = Path(__file__).resolve().parents[2]


# --- the host interpreter (the session's runtime_archive) -----------------------------


@pytest.fixture(scope="module")
def host_members(runtime_archive: RuntimeArchive) -> dict[str, tarfile.TarInfo]:
    return tar_members(runtime_archive.path)


def test_archive_name(runtime_archive: RuntimeArchive) -> None:
    version = ".".join(map(str, sys.version_info[:3]))
    arch = runtime_pack.host_arch()
    assert runtime_archive.path.name == f"python-{version}-ubuntu-24.04-{arch}.tar.zst"


def test_layout_at_the_archive_root(
    runtime_archive: RuntimeArchive, host_members: dict[str, tarfile.TarInfo]
) -> None:
    tops = {name.split("/")[0] for name in host_members}
    assert {"bin", "include", "lib"} <= tops <= {"bin", "include", "lib", "share"}
    assert not any(name.startswith(("/", "./")) for name in host_members)
    minor = "{}.{}".format(*sys.version_info[:2])
    assert host_members["bin/python3"].issym() or host_members["bin/python3"].isreg()
    assert host_members["bin/python"].issym()
    assert not host_members["bin/python"].linkname.startswith("/")
    assert f"lib/python{minor}/os.py" in host_members


def test_site_packages_is_empty(host_members: dict[str, tarfile.TarInfo]) -> None:
    minor = "{}.{}".format(*sys.version_info[:2])
    site = f"lib/python{minor}/site-packages"
    assert host_members[site].isdir()
    assert not [name for name in host_members if name.startswith(site + "/")]
    # The host has pip and pytest installed; their scripts stay out of bin/ too.
    assert "bin/pip" not in host_members
    assert "bin/pytest" not in host_members


def test_no_bytecode_tests_or_static_lib(host_members: dict[str, tarfile.TarInfo]) -> None:
    names = list(host_members)
    assert not [n for n in names if "__pycache__" in n.split("/") or n.endswith(".pyc")]
    test_dirs = {"test", "tests", "idle_test"}
    assert not [n for n in names if test_dirs & set(n.split("/"))]
    assert not [n for n in names if n.split("/")[-1].startswith("libpython") and n.endswith(".a")]


def test_bundled_pip_wheel_is_kept(host_members: dict[str, tarfile.TarInfo]) -> None:
    minor = "{}.{}".format(*sys.version_info[:2])
    bundled = f"lib/python{minor}/ensurepip/_bundled/"
    assert [n for n in host_members if n.startswith(bundled + "pip-") and n.endswith(".whl")]


def test_links_are_relative_and_stay_inside(host_members: dict[str, tarfile.TarInfo]) -> None:
    for name, info in host_members.items():
        if info.issym():
            assert not info.linkname.startswith("/"), name
            resolved = os.path.normpath(os.path.join(os.path.dirname(name), info.linkname))
            assert not resolved.startswith(".."), name
        assert not info.mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX), name


def test_scripts_in_bin_name_the_app_python(runtime_archive: RuntimeArchive) -> None:
    # After the build, every script in bin/ must run at /app (the e2e check).
    with (
        open(runtime_archive.path, "rb") as raw,
        zstandard.ZstdDecompressor().stream_reader(raw) as reader,
        tarfile.open(fileobj=reader, mode="r|") as tf,
    ):
        for member in tf:
            if not (member.isreg() and member.name.startswith("bin/")):
                continue
            first_line = tf.extractfile(member).readline()  # type: ignore[union-attr]
            if first_line.startswith(b"#!") and b"python" in first_line:
                assert first_line.startswith(b"#!/app/.heroku/python/bin/python"), member.name


def test_sha256_file(runtime_archive: RuntimeArchive) -> None:
    digest = hashlib.sha256(runtime_archive.path.read_bytes()).hexdigest()
    assert runtime_archive.sha256.read_text() == f"{digest}  {runtime_archive.path.name}\n"
    assert download.parse_sha256(runtime_archive.sha256.read_text()) == digest


@pytest.mark.parametrize("mirror", ["http", "file"])
def test_downloaded_runtime_runs(
    tmp_path: Path,
    runtime_archive: RuntimeArchive,
    mirror_url: str,
    file_mirror_url: str,
    mirror: str,
) -> None:
    base = mirror_url if mirror == "http" else file_mirror_url
    home = tmp_path / "python"
    download.download_and_extract(
        f"{base}/{runtime_archive.name}",
        home,
        connect_timeout=5,
        read_timeout=30,
        retries=1,
        backoff=0.1,
        out=Output(io.StringIO(), io.StringIO()),
    )
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": str(home / "lib"), "LANG": "C.UTF-8"}
    code = "import sys, ssl, sqlite3, ctypes; print(sys.version); print(sys.prefix)"
    result = subprocess.run(
        [str(home / "bin" / "python3"), "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    version_line, prefix_line = result.stdout.splitlines()
    assert version_line == sys.version
    assert prefix_line == str(home)


# --- a made-up prefix, for the cases the host does not have ---------------------------


def fake_prefix(tmp_path: Path) -> Path:
    """A tiny install tree shaped like CPython 3.13's (no real interpreter)."""
    prefix = tmp_path / "prefix"
    lib = prefix / "lib" / "python3.13"
    for d in ("bin", "include/python3.13", "lib/python3.13/ensurepip/_bundled"):
        (prefix / d).mkdir(parents=True)
    (lib / "os.py").write_text("# os\n")
    (lib / "ensurepip/_bundled/pip-25.0-py3-none-any.whl").write_bytes(b"PK")
    (lib / "site-packages/thing").mkdir(parents=True)
    (lib / "site-packages/thing/__init__.py").write_text("")
    (lib / "test").mkdir()
    (lib / "test/test_os.py").write_text("")
    (lib / "__pycache__").mkdir()
    (lib / "__pycache__/os.cpython-313.pyc").write_bytes(b"")
    (lib / "config-3.13-x86_64-linux-gnu").mkdir()
    (lib / "config-3.13-x86_64-linux-gnu/libpython3.13.a").write_bytes(b"!<arch>")
    (prefix / "lib/libpython3.13.so.1.0").write_bytes(b"\x7fELF")
    # An absolute link inside the prefix, which must become relative.
    (prefix / "lib/libpython3.13.so").symlink_to(prefix / "lib/libpython3.13.so.1.0")
    python = prefix / "bin/python3.13"
    python.write_bytes(b"\x7fELF binary")
    python.chmod(0o4755)
    (prefix / "bin/pydoc3.13").write_text(f"#!{prefix}/bin/python3.13\nimport pydoc\n")
    (prefix / "bin/thing").write_text(f"#!{prefix}/bin/python3.13\nimport thing\n")
    (prefix / "bin/python3.13-gdb.py").write_text("#!/usr/bin/python\n")  # pyenv adds it
    (prefix / "bin/python3").symlink_to("python3.13")
    # What else lives in a shared prefix such as /usr/local.
    (prefix / "lib/libfoo.so").write_bytes(b"\x7fELF")
    (prefix / "lib/node_modules").mkdir()
    (prefix / "lib/pkgconfig").mkdir()
    (prefix / "lib/pkgconfig/python-3.13.pc").write_text("")
    (prefix / "lib/pkgconfig/foo.pc").write_text("")
    (prefix / "include/foo.h").write_text("")
    (prefix / "share/man/man1").mkdir(parents=True)
    (prefix / "share/man/man1/python3.13.1").write_text("")
    (prefix / "share/man/man1/foo.1").write_text("")
    (prefix / "share/doc").mkdir()
    return prefix


def test_fake_prefix_layout(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    archive = pack_runtime(
        prefix, tmp_path / "out", version="3.13.1", arch="arm64", stack="heroku-22"
    )
    assert archive.name == "python-3.13.1-ubuntu-22.04-arm64.tar.zst"
    found = tar_members(archive)
    assert sorted(found) == [
        "bin",
        "bin/pydoc3.13",
        "bin/python",
        "bin/python3",
        "bin/python3.13",
        "include",
        "include/python3.13",
        "lib",
        "lib/libpython3.13.so",
        "lib/libpython3.13.so.1.0",
        "lib/pkgconfig",
        "lib/pkgconfig/python-3.13.pc",
        "lib/python3.13",
        "lib/python3.13/config-3.13-x86_64-linux-gnu",
        "lib/python3.13/ensurepip",
        "lib/python3.13/ensurepip/_bundled",
        "lib/python3.13/ensurepip/_bundled/pip-25.0-py3-none-any.whl",
        "lib/python3.13/os.py",
        "lib/python3.13/site-packages",
        "share",
        "share/man",
        "share/man/man1",
        "share/man/man1/python3.13.1",
    ]
    assert found["bin/python"].linkname == "python3"  # added: the install had none
    assert found["lib/libpython3.13.so"].linkname == "libpython3.13.so.1.0"
    assert found["bin/python3.13"].mode == 0o755
    assert found["bin/python3.13"].mtime == int((prefix / "bin/python3.13").stat().st_mtime)


def test_shebangs_name_the_app_path(tmp_path: Path) -> None:
    archive = pack_runtime(fake_prefix(tmp_path), tmp_path / "out", version="3.13.1")
    with open(archive, "rb") as raw, open_zstd_reader(raw) as reader:
        extract_tar_stream(reader, tmp_path / "x", source=str(archive))
    script = (tmp_path / "x/bin/pydoc3.13").read_text()
    assert script == "#!/app/.heroku/python/bin/python3.13\nimport pydoc\n"


def test_packing_is_deterministic(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    first = pack_runtime(prefix, tmp_path / "a", version="3.13.1").read_bytes()
    second = pack_runtime(prefix, tmp_path / "b", version="3.13.1").read_bytes()
    assert first == second


def test_zstd_tool_fallback_makes_the_same_tar(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    by_module = pack_runtime(prefix, tmp_path / "a", version="3.13.1")
    by_tool = pack_runtime(prefix, tmp_path / "b", version="3.13.1", force_zstd_tool=True)
    decompress = zstandard.ZstdDecompressor()
    with open(by_module, "rb") as a, open(by_tool, "rb") as b:
        assert decompress.stream_reader(a).read() == decompress.stream_reader(b).read()
    digest = hashlib.sha256(by_tool.read_bytes()).hexdigest()
    assert by_tool.with_name(by_tool.name + ".sha256").read_text().split()[0] == digest


def test_absolute_link_outside_the_prefix_is_an_error(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    (prefix / "lib/python3.13/libssl.so").symlink_to("/usr/lib/libssl.so")
    with pytest.raises(PackError, match="outside"):
        pack_runtime(prefix, tmp_path / "out", version="3.13.1")
    assert not (tmp_path / "out").exists()


def test_relative_link_leaving_the_prefix_is_an_error(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    (prefix / "lib/python3.13/escape").symlink_to("../../../elsewhere")
    with pytest.raises(PackError, match="outside"):
        pack_runtime(prefix, tmp_path / "out", version="3.13.1")


def test_missing_pip_wheel_is_an_error(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    (prefix / "lib/python3.13/ensurepip/_bundled/pip-25.0-py3-none-any.whl").unlink()
    with pytest.raises(PackError, match="has no pip wheel") as raised:
        pack_runtime(prefix, tmp_path / "out", version="3.13.1")
    # What to do instead, not only what is wrong.
    assert "tools/build-runtime" in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_version_is_detected_from_the_interpreter() -> None:
    expected = ".".join(map(str, sys.version_info[:3]))
    assert runtime_pack.detect_version(Path(sys.base_prefix)) == expected


def test_command_line(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    tool = ROOT / "tools" / "pack-runtime"
    ok = subprocess.run(
        [str(tool), str(prefix), "-o", str(tmp_path / "out"), "--version", "3.13.1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert Path(ok.stdout.strip()).is_file()
    assert "thing" in ok.stderr  # says which bin/ programs it left out

    bad = subprocess.run(
        [str(tool), str(tmp_path / "nowhere"), "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert "pack-runtime: error:" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_system_python_without_bundled_wheels_is_refused_clearly(tmp_path: Path) -> None:
    """Debian's /usr/bin/python3 has no ensurepip/_bundled: say so, and what to do."""
    if not Path("/usr/bin/python3").exists():
        pytest.skip("this machine has no system python3")
    tool = ROOT / "tools" / "pack-runtime"
    result = subprocess.run(
        [str(tool), "/usr", "-o", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "has no pip wheel" in result.stderr
    assert "tools/build-runtime" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# --- the mirror's manifest (runtimes.json) -------------------------------------------


def test_manifest_lists_every_archive_with_its_checksum(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    out = tmp_path / "mirror"
    pack_runtime(prefix, out, version="3.13.2", stack="heroku-24", arch="amd64")
    pack_runtime(prefix, out, version="3.13.1", stack="heroku-24", arch="amd64")
    pack_runtime(prefix, out, version="3.13.1", stack="heroku-22", arch="arm64")
    entries = manifest.read(out)
    assert [(e.stack, e.arch, e.version) for e in entries] == [
        ("heroku-22", "arm64", "3.13.1"),
        ("heroku-24", "amd64", "3.13.1"),
        ("heroku-24", "amd64", "3.13.2"),
    ]
    for entry in entries:
        archive = out / entry.file
        assert entry.size == archive.stat().st_size
        assert entry.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
        sha_file = out / f"{entry.file}.sha256"
        assert download.parse_sha256(sha_file.read_text()) == entry.sha256
    assert manifest.problems(out) == []
    # No temporary files are left beside it.
    assert not [p.name for p in out.iterdir() if ".tmp-" in p.name]


def test_manifest_entry_is_replaced_and_stale_ones_dropped(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    out = tmp_path / "mirror"
    first = pack_runtime(prefix, out, version="3.13.1", arch="amd64")
    pack_runtime(prefix, out, version="3.13.2", arch="amd64")
    (prefix / "lib/python3.13/os.py").write_text("# os, changed\n")
    again = pack_runtime(prefix, out, version="3.13.1", arch="amd64")
    assert again == first
    [entry] = [e for e in manifest.read(out) if e.version == "3.13.1"]
    assert entry.sha256 == hashlib.sha256(again.read_bytes()).hexdigest()
    # An archive deleted by hand leaves the manifest at the next add.
    (out / "python-3.13.2-ubuntu-24.04-amd64.tar.zst").unlink()
    pack_runtime(prefix, out, version="3.13.1", arch="amd64")
    assert [e.version for e in manifest.read(out)] == ["3.13.1"]


def test_manifest_disagreeing_with_a_sha256_file_is_found(tmp_path: Path) -> None:
    out = tmp_path / "mirror"
    archive = pack_runtime(fake_prefix(tmp_path), out, version="3.13.1", arch="amd64")
    sha_file = archive.with_name(archive.name + ".sha256")
    sha_file.write_text(f"{'0' * 64}  {archive.name}\n")
    [problem] = manifest.problems(out)
    assert ".sha256 says 000" in problem


def test_concurrent_adds_are_all_listed(tmp_path: Path) -> None:
    prefix = fake_prefix(tmp_path)
    out = tmp_path / "mirror"
    code = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from tools.runtime_archive.pack import pack_runtime;"
        "pack_runtime(Path(sys.argv[2]), Path(sys.argv[3]), version=sys.argv[4], arch='amd64')"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(prefix), str(out), v])
        for v in ("3.13.1", "3.13.2", "3.13.3", "3.13.4")
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0, 0]
    assert [e.version for e in manifest.read(out)] == ["3.13.1", "3.13.2", "3.13.3", "3.13.4"]


def test_a_broken_manifest_is_not_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "mirror"
    out.mkdir()
    (out / "runtimes.json").write_text("{not json")
    with pytest.raises(PackError, match=r"runtimes\.json: it is not JSON"):
        pack_runtime(fake_prefix(tmp_path), out, version="3.13.1", arch="amd64")
    assert (out / "runtimes.json").read_text() == "{not json"


def test_command_line_stack_and_manifest(tmp_path: Path) -> None:
    tool = ROOT / "tools" / "pack-runtime"
    out = tmp_path / "mirror"
    args = [str(fake_prefix(tmp_path)), "-o", str(out), "--version", "3.13.1", "--arch", "arm64"]
    ok = subprocess.run(
        [str(tool), *args, "--stack", "heroku-22"], capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert Path(ok.stdout.strip()) == out / "python-3.13.1-ubuntu-22.04-arm64.tar.zst"
    [entry] = manifest.read(out)
    assert (entry.stack, entry.arch, entry.version) == ("heroku-22", "arm64", "3.13.1")
    bad = subprocess.run(
        [str(tool), *args, "--stack", "ubuntu-24"], capture_output=True, text=True, timeout=120
    )
    assert bad.returncode == 1
    assert "'ubuntu-24' is not a stack name such as heroku-24" in bad.stderr
