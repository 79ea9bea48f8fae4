"""Shebang repair, editable-record rewriting, the boot-time rewrite and the
relocation audit, on realistic trees built in temporary directories."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest

from buildpack.relocation.audit import Finding, audit
from buildpack.relocation.boot_script import boot_rewrite_script, find_app_path_references
from buildpack.relocation.records import rewrite_build_paths
from buildpack.relocation.shebangs import fix_shebangs

PY = ".heroku/python"
SP = f"{PY}/lib/python3.11/site-packages"
HOST_PYTHON = os.path.realpath(sys.executable)
# A directory name with everything that breaks naive quoting: a space, both
# quote kinds, and something a shell would expand.
AWKWARD = 'build it\'s "q" $HOME'


def make_build(tmp_path: Path, name: str = "build_x") -> tuple[Path, Path, Path]:
    build = tmp_path / name
    home = build / PY
    (home / "bin").mkdir(parents=True)
    (build / "app.py").write_text("print('app')\n")
    return build, home, tmp_path / "app" / PY


def write(path: Path, data: bytes | str, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    path.chmod(mode)
    return path


BODY = "# -*- coding: utf-8 -*-\nimport sys\nprint('args', sys.argv[1:])\n"


def distlib_trampoline(python: str) -> str:
    # What distlib's ScriptMaker._build_shebang writes for a long or spaced path.
    exe = f'"{python}"' if " " in python else python
    return f"#!/bin/sh\n'''exec' {exe} \"$0\" \"$@\"\n' '''\n" + BODY


def sh_escaped(path: str) -> str:
    return path.replace("'", "'\"'\"'")


def uv_trampoline(python: str) -> str:
    # What uv's format_shebang writes: single-quoted, quotes as '"'"'.
    exe = "'" + sh_escaped(python) + "'"
    return f"#!/bin/sh\n'''exec' {exe} \"$0\" \"$@\"\n' '''\n" + BODY


def link_host_python(python_home: Path) -> None:
    (python_home / "bin").mkdir(parents=True, exist_ok=True)
    os.symlink(HOST_PYTHON, python_home / "bin" / "python3")


# --- fix_shebangs ---------------------------------------------------------------


def test_direct_shebang_is_rewritten_and_only_its_first_line(tmp_path: Path) -> None:
    _build, home, app = make_build(tmp_path)
    # The body names the build dir too: only the interpreter line is ours.
    body = f"# built in {home}/bin\n" + BODY
    script = write(home / "bin/gunicorn", f"#!{home}/bin/python3.11\n" + body)

    assert fix_shebangs(home / "bin", build_python_home=home, app_python_home=app) == [script]
    assert script.read_text() == f"#!{app}/bin/python3.11\n" + body
    # Idempotent: nothing left to fix.
    assert fix_shebangs(home / "bin", build_python_home=home, app_python_home=app) == []


def test_shebang_with_arguments(tmp_path: Path) -> None:
    _build, home, app = make_build(tmp_path)
    script = write(home / "bin/tool", f"#!{home}/bin/python3 -E -s\n" + BODY)
    fix_shebangs(home / "bin", build_python_home=home, app_python_home=app)
    assert script.read_text() == f"#!{app}/bin/python3 -E -s\n" + BODY


def test_shebang_without_trailing_newline(tmp_path: Path) -> None:
    _build, home, app = make_build(tmp_path)
    script = write(home / "bin/bare", f"#!{home}/bin/python")
    fix_shebangs(home / "bin", build_python_home=home, app_python_home=app)
    assert script.read_text() == f"#!{app}/bin/python"


@pytest.mark.parametrize(
    ("dirname", "trampoline"),
    [
        ("b" * 130, distlib_trampoline),
        ("build with space", distlib_trampoline),
        ("b" * 130, uv_trampoline),
        (AWKWARD, uv_trampoline),
    ],
    ids=["distlib-long", "distlib-space", "uv-long", "uv-quotes"],
)
def test_trampolines_are_rewritten_and_still_run(
    tmp_path: Path, dirname: str, trampoline: object
) -> None:
    build, home, app = make_build(tmp_path, dirname)
    original = trampoline(f"{home}/bin/python3")  # type: ignore[operator]
    script = write(home / "bin/hello", original)

    assert fix_shebangs(home / "bin", build_python_home=home, app_python_home=app) == [script]
    # The same line with the new path in the old path's place and quoting.
    if trampoline is uv_trampoline:
        expected = original.replace(sh_escaped(str(home)), str(app))
    else:
        expected = original.replace(str(home), str(app))
    assert expected != original
    assert script.read_text() == expected

    # Relocated, with the build gone, the repaired trampoline runs the app's Python.
    link_host_python(home)
    shutil.copytree(home, app, symlinks=True)
    shutil.rmtree(build)
    run = subprocess.run(
        [app / "bin/hello", "one", "two words"], capture_output=True, text=True, check=True
    )
    assert run.stdout == "args ['one', 'two words']\n"


def test_unrelated_scripts_binaries_and_symlinks_are_left_alone(tmp_path: Path) -> None:
    _build, home, app = make_build(tmp_path)
    bindir = home / "bin"
    # Names the build dir, but not as its interpreter.
    sh_script = write(bindir / "activate-ish", f"#!/bin/sh\necho {home}/bin\n")
    env_script = write(bindir / "other", "#!/usr/bin/env python3\nprint(1)\n")
    elf = write(bindir / "native", b"\x7fELF\x02\x01\x01\0" + os.fsencode(f"#!{home}/bin/python"))
    target = write(bindir / "real", f"#!{home}/bin/python3\n" + BODY)
    (bindir / "alias").symlink_to("real")
    (bindir / "outside").symlink_to(tmp_path / "elsewhere")  # dangling, outside bin
    # A sibling directory whose name starts like the Python home's.
    lookalike = write(bindir / "lookalike", f"#!{home}2/bin/python3\n")
    untouched = [sh_script, env_script, elf, lookalike]
    before = {p: (p.read_bytes(), p.stat().st_ino) for p in untouched}

    fixed = fix_shebangs(bindir, build_python_home=home, app_python_home=app)

    assert fixed == [target]
    for p in untouched:
        assert (p.read_bytes(), p.stat().st_ino) == before[p], p
    assert os.readlink(bindir / "alias") == "real"
    assert os.readlink(bindir / "outside") == str(tmp_path / "elsewhere")


@pytest.mark.parametrize("mode", [0o755, 0o700, 0o555])
def test_file_mode_is_kept(tmp_path: Path, mode: int) -> None:
    _build, home, app = make_build(tmp_path)
    script = write(home / "bin/tool", f"#!{home}/bin/python3\n", mode=mode)
    fix_shebangs(home / "bin", build_python_home=home, app_python_home=app)
    assert script.read_text() == f"#!{app}/bin/python3\n"
    assert stat.S_IMODE(script.stat().st_mode) == mode
    # No temporary file left behind.
    assert sorted(p.name for p in (home / "bin").iterdir()) == ["tool"]


def test_realpath_spelling_of_a_build_dir_behind_a_symlink(tmp_path: Path) -> None:
    real_parent = tmp_path / "private" / "tmp"
    real_parent.mkdir(parents=True)
    (tmp_path / "tmp").symlink_to(real_parent)
    _build, home, app = make_build(tmp_path / "tmp")  # given through the symlink
    real_home = Path(os.path.realpath(home))
    assert real_home != home
    resolved = write(home / "bin/resolved", f"#!{real_home}/bin/python3\n")
    given = write(home / "bin/given", f"#!{home}/bin/python3\n")

    fixed = fix_shebangs(home / "bin", build_python_home=home, app_python_home=app)

    assert sorted(fixed) == sorted([given, resolved])
    assert resolved.read_text() == given.read_text() == f"#!{app}/bin/python3\n"


def test_in_place_build_changes_nothing(tmp_path: Path) -> None:
    _, home, _ = make_build(tmp_path)
    write(home / "bin/tool", f"#!{home}/bin/python3\n")
    assert fix_shebangs(home / "bin", build_python_home=home, app_python_home=home) == []


def _tiny_wheel(directory: Path) -> Path:
    files = {
        "hello_reloc/__init__.py": "def main():\n    print('hello from', __file__)\n",
        "hello_reloc-0.1.dist-info/METADATA": (
            "Metadata-Version: 2.1\nName: hello-reloc\nVersion: 0.1\n"
        ),
        "hello_reloc-0.1.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        "hello_reloc-0.1.dist-info/entry_points.txt": (
            "[console_scripts]\nhello-reloc = hello_reloc:main\n"
        ),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append("hello_reloc-0.1.dist-info/RECORD,,")
    files["hello_reloc-0.1.dist-info/RECORD"] = "\n".join(record) + "\n"
    wheel = directory / "hello_reloc-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return wheel


def test_real_pip_trampoline_is_repaired_and_runs_after_relocation(tmp_path: Path) -> None:
    """pip writes the sh trampoline when the interpreter path is over 127
    bytes; this installs a real wheel with a console script that way."""
    if subprocess.run([HOST_PYTHON, "-m", "pip", "--version"], capture_output=True).returncode:
        pytest.skip(f"{HOST_PYTHON} has no pip to install the test wheel with")
    build, home, app = make_build(tmp_path, "build_" + "x" * 120)
    # The build's "runtime": the host interpreter reached through the build
    # path, so pip records that path as sys.executable, as an installer that
    # resolved the /app symlink would.
    link_host_python(home)
    wheel = _tiny_wheel(tmp_path)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYTHONNOUSERSITE": "1",
    }
    subprocess.run(
        [
            home / "bin/python3",
            "-m",
            "pip",
            "install",
            "--no-index",
            "--no-deps",
            "--no-compile",
            "--prefix",
            home,
            wheel,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    script = home / "bin/hello-reloc"
    lines = script.read_text().splitlines()
    assert lines[0] == "#!/bin/sh", "pip did not write the long-path trampoline"
    assert str(home) in lines[1]
    mode = stat.S_IMODE(script.stat().st_mode)

    assert fix_shebangs(home / "bin", build_python_home=home, app_python_home=app) == [script]

    new_lines = script.read_text().splitlines()
    assert new_lines[0] == "#!/bin/sh"
    assert new_lines[1].startswith(f"'''exec' {app}/bin/python3 ")
    assert new_lines[2:] == lines[2:]
    assert stat.S_IMODE(script.stat().st_mode) == mode
    # Relocate for real: copy to the app location, delete the build dir.
    shutil.copytree(home, app, symlinks=True)
    shutil.rmtree(build)
    site = next(app.glob("lib/python*/site-packages"))
    run = subprocess.run(
        [app / "bin/hello-reloc"],
        env={**env, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.startswith(f"hello from {site}/")


# --- editable-install records ---------------------------------------------------


def editable_records(src: str) -> dict[str, str]:
    """The records pip/setuptools write for an editable install of ``src``,
    spelled as each tool spells paths."""
    mapping = {"mylib": f"{src}/mylib"}
    return {
        "__editable__.mylib-0.1.pth": f"{src}\n",
        "mylib.egg-link": f"{src}\n.",
        "__editable___mylib_0_1_finder.py": (
            f"import sys\nMAPPING: dict[str, str] = {mapping!r}\nNAMESPACES = {{}}\n"
        ),
        "mylib-0.1.dist-info/direct_url.json": json.dumps(
            {"dir_info": {"editable": True}, "url": "file://" + quote(src)}, sort_keys=True
        ),
    }


@pytest.mark.parametrize("dirname", ["build_x", AWKWARD])
def test_records_naming_the_python_home_are_rewritten(tmp_path: Path, dirname: str) -> None:
    build, home, app = make_build(tmp_path, dirname)
    site = home / "lib/python3.11/site-packages"
    for name, text in editable_records(f"{home}/src/mylib").items():
        write(site / name, text, mode=0o644)
    (site / "mylib.egg-link").chmod(0o600)
    # Not rewritten: app-source paths (a boot-time job), unrelated .pth files,
    # and files site never reads (not at the top level, not a record kind).
    app_pth = write(site / "__editable__.app-0.1.pth", f"{build}/src\n", mode=0o644)
    other = write(site / "distutils-precedence.pth", "import os\n", mode=0o644)
    nested = write(site / "pkg/data.pth", f"{home}/src\n", mode=0o644)
    note = write(site / "mylib-0.1.dist-info/RECORD", f"{home}/x,,\n", mode=0o644)
    left_alone = {p: p.read_bytes() for p in (app_pth, other, nested, note)}

    changed = rewrite_build_paths(site, build_python_home=home, app_python_home=app)

    expected = editable_records(f"{app}/src/mylib")
    assert sorted(changed) == sorted(site / n for n in expected)
    for name, text in expected.items():
        assert (site / name).read_text() == text, name
    assert stat.S_IMODE((site / "mylib.egg-link").stat().st_mode) == 0o600
    assert stat.S_IMODE((site / "__editable__.mylib-0.1.pth").stat().st_mode) == 0o644
    for p, data in left_alone.items():
        assert p.read_bytes() == data
    assert rewrite_build_paths(site, build_python_home=home, app_python_home=app) == []


def test_find_app_path_references_lists_records_naming_the_app_source(tmp_path: Path) -> None:
    build, home, app = make_build(tmp_path)
    site = home / "lib/python3.11/site-packages"
    write(site / "__editable__.applib-0.1.pth", f"{build}/libs/applib\n")
    write(site / "applib-0.1.dist-info/direct_url.json", json.dumps({"url": f"file://{build}"}))
    write(site / "clean.pth", f"{app}/src/x\n")
    write(site / "applib-0.1.dist-info/RECORD", f"{build}/x,,\n")  # not a path record

    assert find_app_path_references(home, build) == [
        f"{SP}/__editable__.applib-0.1.pth",
        f"{SP}/applib-0.1.dist-info/direct_url.json",
    ]


# --- boot-time rewrite ------------------------------------------------------------


def _shells() -> list[str]:
    return [s for s in ("sh", "bash") if shutil.which(s)]


@pytest.mark.parametrize("shell", _shells())
def test_boot_snippet_rewrites_listed_files_once(tmp_path: Path, shell: str) -> None:
    build, home, _ = make_build(tmp_path, AWKWARD)
    site = home / "lib/python3.11/site-packages"
    for name, text in editable_records(f"{build}/libs/mylib").items():
        write(site / name, text, mode=0o644)
    # Mentions the build dir but is not a record: the snippet must not walk.
    stray = write(site / "mylib-0.1.dist-info/RECORD", f"{build}/libs,,\n")
    link_host_python(home)
    files = find_app_path_references(home, build)
    assert len(files) == 4
    snippet = tmp_path / "relocate.sh"
    snippet.write_text(boot_rewrite_script(build, files))

    # The dyno: the slug copied to a $HOME that is not /app (and has a space).
    dyno_home = tmp_path / "dyno home"
    shutil.copytree(build, dyno_home, symlinks=True)
    shutil.rmtree(build)
    dyno_site = dyno_home / SP
    probe = (
        'set -- a "b c"; . "$SNIPPET"; '
        'printf "%s|" "$@" "${_pbr_todo-unset}" "${_pbr_file-unset}"; '
        "command -v __python_buildpack_relocate || echo gone"
    )
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(dyno_home)}
    env["SNIPPET"] = str(snippet)

    first = subprocess.run([shell, "-c", probe], env=env, capture_output=True, text=True)

    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    # The sourcing shell keeps its arguments and gets no stray names.
    assert first.stdout == "a|b c|unset|unset|gone\n"
    for name, text in editable_records(f"{dyno_home}/libs/mylib").items():
        assert (dyno_site / name).read_text() == text, name
    assert (dyno_site / "mylib.egg-link").stat().st_mode & 0o777 == 0o644
    assert (dyno_home / SP / stray.relative_to(site)).read_text() == f"{build}/libs,,\n"

    # Second boot: nothing names the build dir, so Python must not even start.
    marker = tmp_path / "python-started"
    python = dyno_home / PY / "bin/python3"
    python.unlink()
    write(python, f"#!/bin/sh\ntouch '{marker}'\nexit 1\n")
    inodes = {p: p.stat().st_ino for p in dyno_site.rglob("*") if p.is_file()}

    second = subprocess.run([shell, "-c", probe], env=env, capture_output=True, text=True)

    assert (second.returncode, second.stdout, second.stderr) == (0, first.stdout, "")
    assert not marker.exists()
    assert {p: p.stat().st_ino for p in dyno_site.rglob("*") if p.is_file()} == inodes


def test_boot_snippet_survives_a_missing_python(tmp_path: Path) -> None:
    build, home, _ = make_build(tmp_path)
    write(home / "lib/python3.11/site-packages/x.pth", f"{build}/src\n")
    snippet = tmp_path / "relocate.sh"
    snippet.write_text(boot_rewrite_script(build, find_app_path_references(home, build)))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(build)}
    env["HOME"] = str(tmp_path / "elsewhere")
    shutil.copytree(build, env["HOME"])

    run = subprocess.run(
        ["sh", "-c", f". '{snippet}'; echo still here"], env=env, capture_output=True, text=True
    )

    assert run.stdout == "still here\n"
    assert "could not update paths" in run.stderr


def test_boot_snippet_is_empty_without_files(tmp_path: Path) -> None:
    assert boot_rewrite_script(tmp_path, []) == ""


# --- audit --------------------------------------------------------------------------


def clean_tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    build, home, app = make_build(tmp_path)
    write(home / "bin/gunicorn", f"#!{app}/bin/python\n" + BODY)
    (home / "bin/python").symlink_to("python3.11")
    write(home / "bin/python3.11", b"\x7fELF\x02\x01\x01\0" + b"\0" * 64)
    site = home / "lib/python3.11/site-packages"
    write(site / "distutils-precedence.pth", "import os\n")
    write(site / "gunicorn/__pycache__/app.cpython-311.pyc", b"\xa7\r\r\n\0\0" + b"/app/x.py")
    write(site / "gunicorn-23.0.dist-info/RECORD", "../../../bin/gunicorn,,\n")
    return build, home, app


def test_audit_of_a_clean_tree_is_one_line(tmp_path: Path) -> None:
    build, home, _ = clean_tree(tmp_path)
    result = audit(home, build_dir=build, boot_rewritten=set())
    assert result.summary_lines() == [
        "Relocation check: no file under .heroku/python refers to the build directory."
    ]
    assert result.files_scanned == 5
    assert result.report_fields() == {
        "relocation_findings_count": 0,
        "relocation_unfixed_count": 0,
        "relocation_boot_rewritten_count": 0,
        "relocation_binary_count": 0,
    }


def test_audit_reports_a_planted_stray_path(tmp_path: Path) -> None:
    build, home, _ = clean_tree(tmp_path)
    write(home / "lib/python3.11/site-packages/gunicorn/config.txt", f"root = {build}/static\n")

    result = audit(home, build_dir=build, boot_rewritten=set())

    stray = f"{SP}/gunicorn/config.txt"
    assert result.findings == [Finding(stray, "other text")]
    lines = result.summary_lines()
    assert lines[0] == (
        f"Relocation check: 1 file under .heroku/python refers to the build directory ({build}):"
    )
    assert "  other text (1):" in lines
    assert f"    {stray}" in lines
    assert lines[-1].startswith("Not fixed: 1 file above still names the build directory")
    assert result.report_fields()["relocation_unfixed_count"] == 1


def test_audit_groups_by_kind_and_marks_boot_rewrites(tmp_path: Path) -> None:
    build, home, _ = clean_tree(tmp_path)
    site = home / "lib/python3.11/site-packages"
    write(home / "bin/broken", f"#!{build}/{PY}/bin/python\n")
    write(site / "__editable__.app-0.1.pth", f"{build}/src\n")
    write(site / "__editable___app_0_1_finder.py", f"MAPPING = {{'app': '{build}/src/app'}}\n")
    write(site / "app.egg-link", f"{build}/src\n.")
    write(site / "app-0.1.dist-info/direct_url.json", json.dumps({"url": f"file://{build}"}))
    write(site / "app-0.1.dist-info/RECORD", f"{build}/src/app/__init__.py,,\n")
    write(site / "app/__pycache__/x.cpython-311.pyc", b"\xa7\r\r\n\0\0" + os.fsencode(f"{build}/x"))
    (site / "app-data").symlink_to(build / "data")
    boot = {f"{SP}/__editable__.app-0.1.pth", f"{SP}/app-0.1.dist-info/direct_url.json"}

    result = audit(home, build_dir=build, boot_rewritten=boot)

    assert {f.path: f.kind for f in result.findings} == {
        f"{PY}/bin/broken": "entrypoint script",
        f"{SP}/__editable__.app-0.1.pth": ".pth",
        f"{SP}/__editable___app_0_1_finder.py": "editable finder",
        f"{SP}/app.egg-link": "egg-link",
        f"{SP}/app-0.1.dist-info/direct_url.json": "direct_url.json",
        f"{SP}/app-0.1.dist-info/RECORD": "RECORD",
        f"{SP}/app/__pycache__/x.cpython-311.pyc": "binary",
        f"{SP}/app-data": "symlink",
    }
    lines = result.summary_lines()
    assert f"    {SP}/__editable__.app-0.1.pth (rewritten at boot)" in lines
    assert f"    {SP}/app.egg-link" in lines
    assert "  binary (1, counted, not edited):" in lines
    # Kinds appear in a fixed order.
    headings = [line.strip() for line in lines if line.startswith("  ") and line.endswith(":")]
    assert headings == [
        "entrypoint script (1):",
        ".pth (1):",
        "egg-link (1):",
        "editable finder (1):",
        "direct_url.json (1):",
        "RECORD (1):",
        "symlink (1):",
        "binary (1, counted, not edited):",
    ]
    assert lines[-1].startswith("Not fixed: 5 files above still name the build directory")
    assert result.report_fields() == {
        "relocation_findings_count": 8,
        "relocation_unfixed_count": 5,
        "relocation_boot_rewritten_count": 2,
        "relocation_binary_count": 1,
    }
    # The binary is counted, not edited.
    assert os.fsencode(str(build)) in (site / "app/__pycache__/x.cpython-311.pyc").read_bytes()


def test_audit_when_everything_left_is_rewritten_at_boot(tmp_path: Path) -> None:
    build, home, _ = clean_tree(tmp_path)
    write(home / "lib/python3.11/site-packages/a.pth", f"{build}/src\n")
    result = audit(home, build_dir=build, boot_rewritten={f"{SP}/a.pth"})
    assert result.summary_lines()[-1] == (
        "Every text file listed is rewritten to the app's directory at boot."
    )
    assert result.report_fields()["relocation_unfixed_count"] == 0


def test_audit_finds_a_path_split_across_read_chunks(tmp_path: Path) -> None:
    build, home, _ = clean_tree(tmp_path)
    needle = os.fsencode(f"{build}/lib")
    chunk = 1024 * 1024
    blob = b"\0" * (chunk - 5) + needle + b"\0" * chunk
    write(home / "lib/libbig.so", blob)
    result = audit(home, build_dir=build, boot_rewritten=set())
    assert result.findings == [Finding(f"{PY}/lib/libbig.so", "binary")]


def test_audit_matches_whole_paths_and_both_spellings(tmp_path: Path) -> None:
    real_parent = tmp_path / "private"
    real_parent.mkdir()
    (tmp_path / "tmp").symlink_to(real_parent)
    build, home, _ = make_build(tmp_path / "tmp")
    real_build = os.path.realpath(build)
    site = home / "lib/python3.11/site-packages"
    write(site / "lookalike.txt", f"{build}_other/src and {build}2\n")
    write(site / "resolved.txt", f"x={real_build}/src\n")
    write(site / "given.txt", f"x={build}\n")
    # A symlinked directory is not followed out of the Python home.
    outside = tmp_path / "outside"
    write(outside / "secret.txt", f"{build}/x\n")
    (site / "linked").symlink_to(outside)

    result = audit(home, build_dir=build, boot_rewritten=set())

    assert [f.path for f in result.findings] == [f"{SP}/given.txt", f"{SP}/resolved.txt"]
