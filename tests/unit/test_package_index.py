"""Finding and fetching pinned wheels from a PEP 503 index, against a real loopback server."""

from __future__ import annotations

import configparser
import hashlib
import importlib.util
import os
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest

from buildpack.selfdeps import package_index
from buildpack.selfdeps.package_index import (
    IndexSettings,
    IndexUnavailable,
    Pin,
    WheelLink,
    choose_wheel,
    fetch_pinned,
    fetch_wheel,
    find_wheel,
    index_settings,
    parse_simple_page,
)
from buildpack.selfdeps.pip_config import config_files, default_index_url, pip_default_index
from buildpack.selfdeps.wheel_choice import Interpreter, manylinux_platforms
from tests.support.fault_server import Fault, FaultServer
from tests.unit.wheel_factory import Index, build_wheel

REPO_ROOT = Path(__file__).resolve().parents[2]
CP311 = Interpreter.runtime("3.11", manylinux_platforms("x86_64", (2, 36)))
SHA_A = "a" * 64
PIP_INDEX_SOURCE = (
    "class PackageIndex:\n    pass\n\n\n"
    'PyPI = PackageIndex("https://pypi.org/", file_storage_domain="files.pythonhosted.org")\n'
    "TestPyPI = PackageIndex(\n"
    '    "https://test.pypi.org/", file_storage_domain="test-files.pythonhosted.org"\n'
    ")\n"
)


def _etc_pip_conf() -> dict[str, str]:
    """What the machine's /etc/pip.conf (which index_settings always reads) sets."""
    parser = configparser.RawConfigParser()
    try:
        parser.read("/etc/pip.conf", encoding="utf-8")
    except configparser.Error:
        return {"unreadable": "yes"}
    values = {}
    for section in ("global", "install"):
        if parser.has_section(section):
            values.update((k.replace("_", "-"), v) for k, v in parser.items(section))
    return values


ETC = _etc_pip_conf()
# Tests that need the index (and not just the precedence of later files) to be
# left alone by the machine's own configuration.
needs_plain_etc = pytest.mark.skipif(
    bool({"index-url", "no-index", "unreadable"} & set(ETC)),
    reason="/etc/pip.conf on this machine sets the index",
)


# --- default_index_url and pip_default_index -------------------------------------------


def test_default_index_url_reads_pips_source() -> None:
    assert default_index_url(PIP_INDEX_SOURCE) == "https://pypi.org/simple"


def test_default_index_url_joins_simple_under_the_base_path() -> None:
    source = "PyPI = PackageIndex('https://mirror.example/pypi/', file_storage_domain='x')"
    assert default_index_url(source) == "https://mirror.example/pypi/simple"


def test_default_index_url_without_a_pypi_definition() -> None:
    assert default_index_url("import urllib.parse\n") is None
    assert default_index_url("") is None


def test_pip_default_index_matches_the_running_pip(tmp_path: Path) -> None:
    if importlib.util.find_spec("pip") is None:
        pytest.skip("this interpreter has no pip")
    from pip._internal.models.index import PyPI  # the authority, imported for real

    # The interpreter's own pip wins over any wheel given.
    fake = _fake_pip_wheel(tmp_path / "pip-99.0-py3-none-any.whl", "https://x.invalid/")
    assert pip_default_index([fake]) == PyPI.simple_url
    assert pip_default_index() == PyPI.simple_url


def _fake_pip_wheel(path: Path, url: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "pip/_internal/models/index.py",
            f'PyPI = PackageIndex("{url}", file_storage_domain="files.example")\n',
        )
    return path


def test_pip_default_index_reads_a_pip_wheel_when_there_is_no_pip(tmp_path: Path) -> None:
    """-S keeps site-packages (and so the interpreter's pip) out of sys.path."""
    not_a_zip = tmp_path / "broken.whl"
    not_a_zip.write_bytes(b"not a zip")
    no_index_py = tmp_path / "other.whl"
    with zipfile.ZipFile(no_index_py, "w") as zf:
        zf.writestr("pip/__init__.py", "")
    good = _fake_pip_wheel(tmp_path / "pip-99.0-py3-none-any.whl", "https://mirror.invalid/")
    second = _fake_pip_wheel(tmp_path / "pip-98.0-py3-none-any.whl", "https://second.invalid/")
    script = (
        "import importlib.util, sys; from pathlib import Path\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "assert importlib.util.find_spec('pip') is None, 'pip is importable'\n"
        "from buildpack.selfdeps.pip_config import pip_default_index\n"
        "print(pip_default_index([Path(p) for p in sys.argv[2:]]))\n"
    )

    def run(*wheels: Path) -> str:
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-c", script, str(REPO_ROOT), *map(str, wheels)],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if "pip is importable" in result.stderr:
            pytest.skip("pip is importable even with -S here")
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert run(not_a_zip, tmp_path / "missing.whl", no_index_py, good, second) == (
        "https://mirror.invalid/simple"
    )
    assert run(not_a_zip, no_index_py) == "None"
    assert run() == "None"


# --- pip_config_files ----------------------------------------------------------------------


def test_pip_config_files_in_pips_order(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home), "XDG_CONFIG_DIRS": f"{tmp_path}/a{os.pathsep}{tmp_path}/b"}
    files = config_files(env, [tmp_path / "prefix"])
    assert files == [
        tmp_path / "a/pip/pip.conf",
        tmp_path / "b/pip/pip.conf",
        Path("/etc/pip.conf"),
        home / ".pip/pip.conf",
        home / ".config/pip/pip.conf",
        tmp_path / "prefix/pip.conf",
    ]


def test_pip_config_files_defaults_and_xdg_config_home(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    files = config_files(env, [])
    assert files[0] == Path("/etc/xdg/pip/pip.conf")
    assert files[-1] == tmp_path / "cfg/pip/pip.conf"
    assert tmp_path / ".config/pip/pip.conf" not in files


def test_pip_config_files_without_home_has_no_user_files(tmp_path: Path) -> None:
    files = config_files({"XDG_CONFIG_DIRS": str(tmp_path)}, [])
    assert files == [tmp_path / "pip/pip.conf", Path("/etc/pip.conf")]


def test_existing_pip_config_file_replaces_the_user_files(tmp_path: Path) -> None:
    config = tmp_path / "custom.conf"
    config.write_text("[global]\n")
    env = {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path), "PIP_CONFIG_FILE": str(config)}
    files = config_files(env, [tmp_path / "prefix"])
    assert files[-2:] == [tmp_path / "prefix/pip.conf", config]
    assert tmp_path / ".pip/pip.conf" not in files
    assert tmp_path / ".config/pip/pip.conf" not in files


def test_missing_pip_config_file_keeps_the_user_files(tmp_path: Path) -> None:
    config = tmp_path / "missing.conf"
    env = {"HOME": str(tmp_path), "XDG_CONFIG_DIRS": str(tmp_path), "PIP_CONFIG_FILE": str(config)}
    files = config_files(env, [])
    assert tmp_path / ".config/pip/pip.conf" in files
    assert files[-1] == config


# --- index_settings ------------------------------------------------------------------------


class PipEnv:
    """An environment whose pip config files all live under a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.xdg = root / "xdg"  # XDG_CONFIG_DIRS: keeps /etc/xdg/pip out
        self.prefix = root / "prefix"
        for d in (self.home, self.xdg, self.prefix):
            d.mkdir()
        self.env: dict[str, str] = {"HOME": str(self.home), "XDG_CONFIG_DIRS": str(self.xdg)}

    def write(self, path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    @property
    def user_conf(self) -> Path:
        return self.home / ".config" / "pip" / "pip.conf"

    @property
    def legacy_user_conf(self) -> Path:
        return self.home / ".pip" / "pip.conf"

    @property
    def site_conf(self) -> Path:
        return self.xdg / "pip" / "pip.conf"

    @property
    def prefix_conf(self) -> Path:
        return self.prefix / "pip.conf"

    def settings(self, default_url: str | None = "https://pypi.org/simple") -> IndexSettings:
        return index_settings(self.env, default_url=default_url, site_prefixes=[self.prefix])


@pytest.fixture
def pip_env(tmp_path: Path) -> PipEnv:
    return PipEnv(tmp_path)


@needs_plain_etc
def test_without_configuration_the_default_index_is_used(pip_env: PipEnv) -> None:
    assert pip_env.settings("https://pypi.org/simple/").url == "https://pypi.org/simple"


@needs_plain_etc
def test_pips_default_is_read_only_when_nothing_names_an_index(pip_env: PipEnv) -> None:
    """Reading it opens a pip wheel of a thousand files (pip_index): not
    when PIP_INDEX_URL or a config file names the index."""
    asked: list[bool] = []

    def read_default() -> str:
        asked.append(True)
        return "https://pypi.org/simple"

    pip_env.env["PIP_INDEX_URL"] = "https://mirror.example/simple"
    named = index_settings(pip_env.env, default_url=read_default, site_prefixes=[pip_env.prefix])
    assert named.url == "https://mirror.example/simple" and asked == []
    del pip_env.env["PIP_INDEX_URL"]
    pip_env.prefix_conf.parent.mkdir(parents=True, exist_ok=True)
    pip_env.prefix_conf.write_text("[global]\nindex-url = https://conf.example/simple\n")
    configured = index_settings(
        pip_env.env, default_url=read_default, site_prefixes=[pip_env.prefix]
    )
    assert configured.url == "https://conf.example/simple" and asked == []
    pip_env.prefix_conf.unlink()
    default = index_settings(pip_env.env, default_url=read_default, site_prefixes=[pip_env.prefix])
    assert default.url == "https://pypi.org/simple" and asked == [True]


@needs_plain_etc
def test_index_url_from_the_user_config(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.user_conf, "[global]\nindex-url = https://user.example/simple/\n")
    assert pip_env.settings().url == "https://user.example/simple"


@needs_plain_etc
def test_underscores_in_config_keys(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.user_conf, "[global]\nindex_url = https://under.example/simple\n")
    assert pip_env.settings().url == "https://under.example/simple"


@needs_plain_etc
def test_install_section_beats_global_in_one_file(pip_env: PipEnv) -> None:
    pip_env.write(
        pip_env.user_conf,
        "[install]\nindex-url = https://install.example/simple\n"
        "[global]\nindex-url = https://global.example/simple\n",
    )
    assert pip_env.settings().url == "https://install.example/simple"


@needs_plain_etc
def test_later_files_win(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.site_conf, "[global]\nindex-url = https://site.example/simple\n")
    assert pip_env.settings().url == "https://site.example/simple"
    pip_env.write(pip_env.legacy_user_conf, "[global]\nindex-url = https://legacy.example/s\n")
    assert pip_env.settings().url == "https://legacy.example/s"
    pip_env.write(pip_env.user_conf, "[global]\nindex-url = https://user.example/simple\n")
    assert pip_env.settings().url == "https://user.example/simple"
    pip_env.write(pip_env.prefix_conf, "[global]\nindex-url = https://prefix.example/simple\n")
    assert pip_env.settings().url == "https://prefix.example/simple"
    env_conf = pip_env.write(pip_env.root / "env.conf", "[global]\nindex-url = https://env.ex/s\n")
    pip_env.env["PIP_CONFIG_FILE"] = str(env_conf)
    assert pip_env.settings().url == "https://env.ex/s"


def test_pip_index_url_beats_every_config_file(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.user_conf, "[install]\nindex-url = https://user.example/simple\n")
    env_conf = pip_env.write(pip_env.root / "env.conf", "[install]\nindex-url = https://e.x/s\n")
    pip_env.env["PIP_CONFIG_FILE"] = str(env_conf)
    pip_env.env["PIP_INDEX_URL"] = "https://env-var.example/simple/"
    assert pip_env.settings().url == "https://env-var.example/simple"


@needs_plain_etc
def test_an_empty_pip_index_url_is_ignored(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.user_conf, "[global]\nindex-url = https://user.example/simple\n")
    pip_env.env["PIP_INDEX_URL"] = ""
    assert pip_env.settings().url == "https://user.example/simple"


@needs_plain_etc
def test_existing_pip_config_file_skips_the_user_config(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.user_conf, "[global]\nindex-url = https://user.example/simple\n")
    env_conf = pip_env.write(pip_env.root / "env.conf", "[global]\ntimeout = 60\n")
    pip_env.env["PIP_CONFIG_FILE"] = str(env_conf)
    assert pip_env.settings().url == "https://pypi.org/simple"
    pip_env.env["PIP_CONFIG_FILE"] = str(pip_env.root / "missing.conf")
    assert pip_env.settings().url == "https://user.example/simple"


@pytest.mark.parametrize("value", ["true", "1", "yes", "On"])
def test_no_index_in_a_config_file(pip_env: PipEnv, value: str) -> None:
    pip_env.write(pip_env.user_conf, f"[install]\nno-index = {value}\n")
    with pytest.raises(IndexUnavailable, match="not to use an index"):
        pip_env.settings()


def test_pip_no_index_in_the_environment(pip_env: PipEnv) -> None:
    pip_env.env["PIP_NO_INDEX"] = "1"
    with pytest.raises(IndexUnavailable):
        pip_env.settings()


@needs_plain_etc
def test_pip_no_index_false_overrides_the_config(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.user_conf, "[global]\nno-index = true\nindex-url = https://u.ex/s\n")
    pip_env.env["PIP_NO_INDEX"] = "false"
    assert pip_env.settings().url == "https://u.ex/s"


@pytest.mark.parametrize(
    "url", ["file:///srv/wheels/simple", "/srv/wheels/simple", "ftp://mirror.example/simple"]
)
def test_an_index_that_is_not_http_is_refused(pip_env: PipEnv, url: str) -> None:
    pip_env.env["PIP_INDEX_URL"] = url
    with pytest.raises(IndexUnavailable, match="not an http"):
        pip_env.settings()


def test_a_plain_http_index_is_accepted(pip_env: PipEnv) -> None:
    pip_env.env["PIP_INDEX_URL"] = "http://127.0.0.1:8080/simple"
    assert pip_env.settings().url == "http://127.0.0.1:8080/simple"


@needs_plain_etc
def test_no_url_and_no_default(pip_env: PipEnv) -> None:
    with pytest.raises(IndexUnavailable, match="not known"):
        pip_env.settings(default_url=None)


@needs_plain_etc
def test_a_configured_url_needs_no_default(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.user_conf, "[global]\nindex-url = https://user.example/simple\n")
    assert pip_env.settings(default_url=None).url == "https://user.example/simple"


def test_cert_from_pip_cert(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.user_conf, "[global]\ncert = /from/config.pem\n")
    pip_env.env["PIP_CERT"] = "/from/env.pem"
    assert pip_env.settings().cafile == "/from/env.pem"


def test_cert_from_a_config_file(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.user_conf, "[install]\ncert = /from/config.pem\n")
    assert pip_env.settings().cafile == "/from/config.pem"


@pytest.mark.skipif("cert" in ETC, reason="/etc/pip.conf on this machine sets a cert")
def test_no_cert_by_default(pip_env: PipEnv) -> None:
    assert pip_env.settings().cafile is None


def test_an_unreadable_config_file_gives_up(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.user_conf, "index-url = https://no-section.example/simple\n")
    with pytest.raises(IndexUnavailable, match="could not be read"):
        pip_env.settings()


@needs_plain_etc
def test_install_section_in_an_earlier_file_beats_global_in_a_later_one(pip_env: PipEnv) -> None:
    # pip pools every file's keys, then applies [global], then [install]:
    # `pip install` here looks in https://install.example/simple.
    pip_env.write(pip_env.site_conf, "[install]\nindex-url = https://install.example/simple\n")
    env_conf = pip_env.write(pip_env.root / "env.conf", "[global]\nindex-url = https://g.ex/s\n")
    pip_env.env["PIP_CONFIG_FILE"] = str(env_conf)
    assert pip_env.settings().url == "https://install.example/simple"


def test_pip_config_file_devnull_disables_config_files(pip_env: PipEnv) -> None:
    pip_env.write(pip_env.site_conf, "[global]\nindex-url = https://site.example/simple\n")
    pip_env.write(pip_env.prefix_conf, "[global]\nindex-url = https://prefix.example/simple\n")
    pip_env.env["PIP_CONFIG_FILE"] = os.devnull
    assert pip_env.settings().url == "https://pypi.org/simple"


# --- parse_simple_page -----------------------------------------------------------------------

PAGE_URL = "http://127.0.0.1:8000/simple/demo/"


def test_relative_hrefs_are_joined_to_the_page() -> None:
    page = f'<a href="../../files/demo-1.0-py3-none-any.whl#sha256={SHA_A}">demo</a>'
    [link] = parse_simple_page(PAGE_URL, page)
    assert link == WheelLink(
        "demo-1.0-py3-none-any.whl",
        "http://127.0.0.1:8000/files/demo-1.0-py3-none-any.whl",
        SHA_A,
    )


def test_absolute_hrefs_and_entities() -> None:
    page = (
        "<html><body>\n"
        '<a href="https://files.example/p/demo-1.0-py3-none-any.whl?a=1&amp;b=2'
        f'#sha256={SHA_A}" data-requires-python="&gt;=3.8">x</a><br/>\n'
    )
    [link] = parse_simple_page(PAGE_URL, page)
    assert link.url == "https://files.example/p/demo-1.0-py3-none-any.whl?a=1&b=2"
    assert link.filename == "demo-1.0-py3-none-any.whl"


def test_single_quoted_unquoted_and_upper_case_anchors() -> None:
    sha_b, sha_c = "b" * 64, "C" * 64
    page = (
        f"<a class='x' href='/files/one-1.0-py3-none-any.whl#sha256={SHA_A}'>1</a>\n"
        f"<a href=/files/two-1.0-py3-none-any.whl#sha256={sha_b}>2</a>\n"
        f'<A HREF="/files/three-1.0-py3-none-any.whl#sha256={sha_c}">3</A>\n'
    )
    links = parse_simple_page(PAGE_URL, page)
    assert [(link.filename, link.url, link.sha256) for link in links] == [
        ("one-1.0-py3-none-any.whl", "http://127.0.0.1:8000/files/one-1.0-py3-none-any.whl", SHA_A),
        ("two-1.0-py3-none-any.whl", "http://127.0.0.1:8000/files/two-1.0-py3-none-any.whl", sha_b),
        (
            "three-1.0-py3-none-any.whl",
            "http://127.0.0.1:8000/files/three-1.0-py3-none-any.whl",
            "c" * 64,
        ),
    ]


def test_links_without_a_usable_sha256_are_skipped() -> None:
    page = (
        '<a href="/f/nohash-1.0-py3-none-any.whl">a</a>\n'
        f'<a href="/f/md5-1.0-py3-none-any.whl#md5={"a" * 32}">b</a>\n'
        '<a href="/f/short-1.0-py3-none-any.whl#sha256=abc">c</a>\n'
        f'<a href="/f/ok-1.0-py3-none-any.whl#sha256={SHA_A}">d</a>\n'
    )
    assert [link.filename for link in parse_simple_page(PAGE_URL, page)] == [
        "ok-1.0-py3-none-any.whl"
    ]


def test_non_wheels_are_skipped() -> None:
    page = (
        f'<a href="/f/demo-1.0.tar.gz#sha256={SHA_A}">sdist</a>\n'
        f'<a href="/f/demo-1.0-py3-none-any.whl.metadata#sha256={SHA_A}">meta</a>\n'
        f'<a href="/f/demo-1.0.zip#sha256={SHA_A}">zip</a>\n'
    )
    assert parse_simple_page(PAGE_URL, page) == []


def test_percent_encoded_filenames_are_decoded() -> None:
    page = f'<a href="/f/demo-1.0%2Blocal-py3-none-any.whl#sha256={SHA_A}">x</a>'
    [link] = parse_simple_page(PAGE_URL, page)
    assert link.filename == "demo-1.0+local-py3-none-any.whl"


def test_containing_keeps_only_matching_links() -> None:
    page = "\n".join(
        f'<a href="/f/demo-{v}-py3-none-any.whl#sha256={SHA_A}">{v}</a>'
        for v in ("1.0", "1.0.1", "11.0", "2.0")
    )
    links = parse_simple_page(PAGE_URL, page, containing="-1.0-")
    assert [link.filename for link in links] == ["demo-1.0-py3-none-any.whl"]
    assert len(parse_simple_page(PAGE_URL, page)) == 4


# --- choose_wheel --------------------------------------------------------------------------


def _link(filename: str, sha: str = SHA_A) -> WheelLink:
    return WheelLink(filename, f"https://files.example/{filename}", sha)


def test_choose_wheel_picks_the_best_rank() -> None:
    links = [
        _link("demo-1.0-py3-none-any.whl"),
        _link("demo-1.0-cp38-abi3-manylinux_2_17_x86_64.whl"),
        _link("demo-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        _link("demo-1.0-cp311-cp311-musllinux_1_1_x86_64.whl"),
        _link("demo-1.0-cp312-cp312-manylinux_2_17_x86_64.whl"),
    ]
    assert choose_wheel(links, Pin("demo", "1.0"), CP311) == links[2]
    # On another Python the exact wheel does not fit; abi3 does.
    cp310 = Interpreter.runtime("3.10", manylinux_platforms("x86_64", (2, 36)))
    assert choose_wheel(links, Pin("demo", "1.0"), cp310) == links[1]
    # Without glibc only the pure wheel is left.
    musl = Interpreter.runtime("3.11", ["musllinux_1_2_x86_64"])
    assert choose_wheel(links, Pin("demo", "1.0"), musl) == links[0]


def test_choose_wheel_ignores_other_versions_and_projects() -> None:
    links = [
        _link("demo-2.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        _link("demo_extra-1.0-cp311-cp311-manylinux_2_17_x86_64.whl"),
        _link("demo-1.1-cp311-cp311-manylinux_2_17_x86_64.whl"),
        _link("demo-1.0-py3-none-any.whl"),
        _link("not-a-wheel-name.whl"),
    ]
    assert choose_wheel(links, Pin("demo", "1.0"), CP311) == links[3]
    # PEP 440: 1.0.0 is 1.0, as pip's ==1.0 takes it.
    same = _link("demo-1.0.0-cp311-cp311-manylinux_2_17_x86_64.whl")
    assert choose_wheel([*links, same], Pin("demo", "1.0"), CP311) == same


@pytest.mark.parametrize(
    "project", ["charset-normalizer", "charset_normalizer", "Charset.Normalizer"]
)
def test_choose_wheel_normalises_project_names(project: str) -> None:
    link = _link("charset_normalizer-3.3.2-py3-none-any.whl")
    assert choose_wheel([link], Pin(project, "3.3.2"), CP311) == link


def test_choose_wheel_with_nothing_suitable() -> None:
    links = [
        _link("demo-1.0-cp311-cp311-win_amd64.whl"),
        _link("demo-1.0-cp311-cp311-macosx_11_0_arm64.whl"),
        _link("demo-0.9-py3-none-any.whl"),
    ]
    with pytest.raises(IndexUnavailable, match=r"demo 1\.0"):
        choose_wheel(links, Pin("demo", "1.0"), CP311)
    with pytest.raises(IndexUnavailable):
        choose_wheel([], Pin("demo", "1.0"), CP311)


# --- against a real index ---------------------------------------------------------------------


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    d = tmp_path / "dest"
    d.mkdir()
    return d


def test_find_wheel_reads_the_project_page(index: Index) -> None:
    old = index.add_wheel("demo_pkg", "1.0")
    new = index.add_wheel("demo_pkg", "2.0")
    index.publish("demo-pkg", [old, new])
    link = find_wheel(index.settings, Pin("Demo_Pkg", "1.0"), CP311)
    assert link.filename == old.name
    assert link.url == f"{index.url}/files/{old.name}"
    assert link.sha256 == hashlib.sha256(old.read_bytes()).hexdigest()


def test_find_wheel_for_a_missing_project(index: Index) -> None:
    with pytest.raises(IndexUnavailable, match="404"):
        find_wheel(index.settings, Pin("nothing", "1.0"), CP311)


def test_find_wheel_without_the_pinned_version(index: Index) -> None:
    index.publish("demo", [index.add_wheel("demo", "2.0")])
    with pytest.raises(IndexUnavailable, match=r"no wheel of demo 1\.0"):
        find_wheel(index.settings, Pin("demo", "1.0"), CP311)


def test_fetch_wheel_downloads_a_good_file(index: Index, dest: Path) -> None:
    wheel = index.add_wheel("demo", "1.0")
    index.publish("demo", [wheel])
    link = find_wheel(index.settings, Pin("demo", "1.0"), CP311)
    fetched = fetch_wheel(index.settings, link, dest)
    assert fetched == dest / wheel.name
    assert fetched.read_bytes() == wheel.read_bytes()


def test_fetch_wheel_refuses_a_tampered_file(index: Index, dest: Path) -> None:
    wheel = index.add_wheel("demo", "1.0")
    index.publish("demo", [wheel], sha={wheel.name: hashlib.sha256(b"the real one").hexdigest()})
    link = find_wheel(index.settings, Pin("demo", "1.0"), CP311)
    with pytest.raises(IndexUnavailable, match="does not match the sha256"):
        fetch_wheel(index.settings, link, dest)
    assert list(dest.iterdir()) == []


def test_fetch_wheel_for_a_missing_file(index: Index, dest: Path) -> None:
    link = WheelLink(
        "gone-1.0-py3-none-any.whl", f"{index.url}/files/gone-1.0-py3-none-any.whl", SHA_A
    )
    with pytest.raises(IndexUnavailable, match="404"):
        fetch_wheel(index.settings, link, dest)
    assert list(dest.iterdir()) == []


@pytest.mark.parametrize(
    "filename", ["../escape-1.0-py3-none-any.whl", ".hidden-1.0-py3-none-any.whl", "a/b.whl"]
)
def test_fetch_wheel_refuses_unusable_filenames(index: Index, dest: Path, filename: str) -> None:
    wheel = index.add_wheel("escape", "1.0")
    link = WheelLink(
        filename, f"{index.url}/files/{wheel.name}", hashlib.sha256(wheel.read_bytes()).hexdigest()
    )
    with pytest.raises(IndexUnavailable, match="unusable file"):
        fetch_wheel(index.settings, link, dest)
    assert list(dest.iterdir()) == []
    assert not (dest.parent / "escape-1.0-py3-none-any.whl").exists()


def test_fetch_wheel_refuses_a_file_larger_than_the_limit(
    index: Index, dest: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = index.add_wheel("demo", "1.0")
    index.publish("demo", [wheel])
    link = find_wheel(index.settings, Pin("demo", "1.0"), CP311)
    monkeypatch.setattr(package_index, "_MAX_WHEEL_BYTES", wheel.stat().st_size - 1)
    with pytest.raises(IndexUnavailable, match="larger than any wheel"):
        fetch_wheel(index.settings, link, dest)


def test_find_wheel_refuses_a_page_larger_than_the_limit(
    index: Index, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.publish("demo", [index.add_wheel("demo", "1.0")])
    monkeypatch.setattr(package_index, "_MAX_PAGE_BYTES", 10)
    with pytest.raises(IndexUnavailable, match="larger than an index page"):
        find_wheel(index.settings, Pin("demo", "1.0"), CP311)


def _broken_transfer(tmp_path: Path, dest: Path, kind: str) -> None:
    files = tmp_path / "mirror"
    files.mkdir()
    wheel = build_wheel(files, "demo", "1.0", {"demo/__init__.py": os.urandom(300_000)})
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    with FaultServer(files) as server:
        server.add(f"/{wheel.name}", Fault(kind, times=None, after=1000))  # type: ignore[arg-type]
        link = WheelLink(wheel.name, f"{server.url}/{wheel.name}", sha)
        with pytest.raises(IndexUnavailable):
            fetch_wheel(IndexSettings(server.url), link, dest)


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_fetch_wheel_gives_up_on_a_broken_transfer(tmp_path: Path, dest: Path, kind: str) -> None:
    _broken_transfer(tmp_path, dest, kind)


def test_a_broken_transfer_leaves_no_partial_file(tmp_path: Path, dest: Path) -> None:
    _broken_transfer(tmp_path, dest, "truncate")
    assert list(dest.iterdir()) == []


def test_a_link_that_is_not_http_gives_up(index: Index, dest: Path) -> None:
    link = WheelLink(
        "demo-1.0-py3-none-any.whl", "ftp://files.example/demo-1.0-py3-none-any.whl", SHA_A
    )
    with pytest.raises(IndexUnavailable):
        fetch_wheel(index.settings, link, dest)


def test_fetch_pinned_calls_then_once_per_wheel(index: Index, dest: Path) -> None:
    a = index.add_wheel("alpha", "1.0")
    b = index.add_wheel("beta", "2.0")
    c = index.add_wheel("gamma", "3.0")
    index.publish("alpha", [a, index.add_wheel("alpha", "0.9")])
    index.publish("beta", [b])
    index.publish("gamma", [c])
    seen: list[Path] = []
    lock = threading.Lock()

    def then(wheel: Path) -> None:
        assert wheel.is_file()  # already downloaded and checked
        with lock:
            seen.append(wheel)

    pins = [Pin("alpha", "1.0"), Pin("beta", "2.0"), Pin("gamma", "3.0")]
    fetched = fetch_pinned(index.settings, pins, CP311, dest, then=then)
    assert fetched == [dest / a.name, dest / b.name, dest / c.name]
    assert sorted(seen) == sorted(fetched)
    for original, copy in zip([a, b, c], fetched, strict=True):
        assert copy.read_bytes() == original.read_bytes()


def test_fetch_pinned_single_pin_and_no_callback(index: Index, dest: Path) -> None:
    wheel = index.add_wheel("alpha", "1.0")
    index.publish("alpha", [wheel])
    assert fetch_pinned(index.settings, [Pin("alpha", "1.0")], CP311, dest) == [dest / wheel.name]
    assert fetch_pinned(index.settings, [], CP311, dest) == []


def test_fetch_pinned_fails_when_any_pin_fails(index: Index, dest: Path) -> None:
    index.publish("alpha", [index.add_wheel("alpha", "1.0")])
    seen: list[Path] = []
    with pytest.raises(IndexUnavailable, match="404"):
        fetch_pinned(
            index.settings,
            [Pin("alpha", "1.0"), Pin("missing", "1.0")],
            CP311,
            dest,
            then=seen.append,
        )
    assert all(p.name.startswith("alpha-") for p in seen)


# --- plain http only where pip would use it -----------------------------------------


@pytest.mark.parametrize(
    ("url", "trusted", "secure"),
    [
        ("https://pypi.example/simple/x/", "", True),
        ("http://127.0.0.1:8080/simple/x/", "", True),
        ("http://localhost/simple/x/", "", True),
        ("http://[::1]:9/simple/x/", "", True),
        ("http://mirror.internal/simple/x/", "", False),
        ("http://mirror.internal/simple/x/", "mirror.internal", True),
        ("http://mirror.internal:8080/simple/x/", "mirror.internal:8080", True),
        ("http://mirror.internal:8080/simple/x/", "other.internal:8080", False),
        ("ftp://mirror.internal/x.whl", "mirror.internal", False),
    ],
)
def test_is_secure_follows_pips_secure_origins(url: str, trusted: str, secure: bool) -> None:
    assert package_index.is_secure(url, frozenset(trusted.split())) is secure


def test_trusted_hosts_come_from_pip_trusted_host(pip_env: PipEnv) -> None:
    pip_env.env["PIP_TRUSTED_HOST"] = "a.internal b.internal:8080"
    assert pip_env.settings().trusted_hosts == frozenset({"a.internal", "b.internal:8080"})


def test_a_plain_http_index_elsewhere_is_not_used(dest: Path) -> None:
    """Over plain http to another host, a page's sha256 proves nothing: pip
    ignores such an index unless trusted, and so does the fast path."""
    link = WheelLink("demo-1.0-py3-none-any.whl", "http://mirror.internal/demo.whl", SHA_A)
    with pytest.raises(IndexUnavailable, match="neither https nor a trusted host"):
        fetch_wheel(IndexSettings("http://mirror.internal/simple"), link, dest)
    assert list(dest.iterdir()) == []
