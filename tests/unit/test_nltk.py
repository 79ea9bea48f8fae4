"""NLTK corpora from nltk.txt, downloaded by the real nltk from a loopback server.

nltk (3.10+) refuses to fetch from loopback addresses directly (its SSRF
guard), so the test server is reached the way a build behind a corporate
proxy reaches the real index: the app sets http_proxy and
NLTK_ALLOW_PROXIED_URLOPEN=1 as config vars, and the loopback server is the
proxy that answers for the made-up host in NLTK_DOWNLOAD_URL.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile
from collections.abc import Iterator

import pytest

from buildpack.core import errors
from buildpack.steps import nltk
from tests.unit.ctx_factory import fake_site_packages, link_python_home, make_ctx

INDEX_HOST = "nltk-index.test"  # .test never resolves: only the proxy answers


def corpus_zip() -> tuple[bytes, int]:
    files = {"tinycorpus/README": "a tiny corpus\n", "tinycorpus/words": "alpha\nbeta\n"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue(), sum(len(t) for t in files.values())


def index_xml(data: bytes, unzipped: int) -> bytes:
    return f"""<?xml version="1.0"?>
<nltk_data>
  <packages>
    <package id="tinycorpus" name="Tiny corpus" subdir="corpora"
      url="http://{INDEX_HOST}/packages/tinycorpus.zip" size="{len(data)}"
      unzipped_size="{unzipped}" checksum="{hashlib.md5(data).hexdigest()}"
      sha256_checksum="{hashlib.sha256(data).hexdigest()}" unzip="1" />
  </packages>
  <collections />
</nltk_data>
""".encode()


@pytest.fixture
def index_proxy() -> Iterator[dict[str, str]]:
    """A loopback HTTP proxy serving an NLTK index; yields the app's config vars."""
    data, unzipped = corpus_zip()
    files = {
        f"http://{INDEX_HOST}/index.xml": index_xml(data, unzipped),
        f"http://{INDEX_HOST}/packages/tinycorpus.zip": data,
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield {
            "NLTK_DOWNLOAD_URL": f"http://{INDEX_HOST}/index.xml",
            "http_proxy": f"http://127.0.0.1:{server.server_address[1]}",
            "NLTK_ALLOW_PROXIED_URLOPEN": "1",
        }
    finally:
        server.shutdown()
        server.server_close()


def test_read_corpora_trims_and_skips_comments(tmp_path):
    path = tmp_path / "nltk.txt"
    path.write_text(
        "# corpora for the app\n  punkt  \n\nstopwords wordnet\r\n   # indented comment\n"
    )
    assert nltk.read_corpora(path) == ["punkt", "stopwords", "wordnet"]


def test_no_nltk_installed_does_nothing(tmp_path):
    c = make_ctx(tmp_path)
    (c.ctx.build_dir / "nltk.txt").write_text("punkt\n")
    assert nltk.download_corpora(c.ctx) is None
    assert "nltk_downloader" not in c.ctx.report.fields
    assert c.log == ""


def test_nltk_without_nltk_txt_is_skipped(tmp_path):
    c = make_ctx(tmp_path)
    fake_site_packages(c.ctx.build_python_home, "nltk-3.10.4")
    assert nltk.download_corpora(c.ctx) == "skipped-no-nltk-file"
    assert c.ctx.report.fields["nltk_downloader"] == "skipped-no-nltk-file"
    assert "NLTK_DATA" not in c.ctx.extra_env


def test_corpora_are_downloaded_and_nltk_data_is_exported(tmp_path, app_python_home, index_proxy):
    c = make_ctx(tmp_path, config=index_proxy)
    link_python_home(c.ctx, app_python_home)
    (c.ctx.build_dir / "nltk.txt").write_text("# needed at run time\ntinycorpus\n")
    assert nltk.download_corpora(c.ctx) == "enabled"
    words = c.ctx.build_python_home / "nltk_data" / "corpora" / "tinycorpus" / "words"
    assert words.read_text() == "alpha\nbeta\n"
    assert c.ctx.extra_env["NLTK_DATA"] == str(c.ctx.python_home / "nltk_data")
    assert c.ctx.profile_env["NLTK_DATA"] == "$HOME/.heroku/python/nltk_data"
    assert c.ctx.report.fields["nltk_downloader"] == "enabled"
    assert "nltk_downloader_duration" in c.ctx.report.fields
    assert "-----> Downloading NLTK corpora: tinycorpus\n" in c.stdout.getvalue()
    assert "       [nltk_data] Downloading package tinycorpus" in c.stdout.getvalue()


def test_unknown_corpus_fails_with_a_clear_error(tmp_path, app_python_home, index_proxy):
    c = make_ctx(tmp_path, config=index_proxy)
    link_python_home(c.ctx, app_python_home)
    (c.ctx.build_dir / "nltk.txt").write_text("tinycorpus\nno_such_corpus\n")
    with pytest.raises(errors.BuildError) as info:
        nltk.download_corpora(c.ctx)
    err = info.value
    assert err.reason == "nltk-downloader"
    assert "no_such_corpus" in err.detail
    assert "not found in index" in err.detail
    assert "NLTK_DATA" not in c.ctx.extra_env
    assert nltk.FAILED_MARK not in c.stdout.getvalue()


def test_unreachable_index_fails_with_a_clear_error(tmp_path, app_python_home):
    # A port nothing listens on: the proxy connection is refused.
    config = {
        "NLTK_DOWNLOAD_URL": f"http://{INDEX_HOST}/index.xml",
        "http_proxy": "http://127.0.0.1:9",
        "NLTK_ALLOW_PROXIED_URLOPEN": "1",
    }
    c = make_ctx(tmp_path, config=config)
    link_python_home(c.ctx, app_python_home)
    (c.ctx.build_dir / "nltk.txt").write_text("tinycorpus\n")
    with pytest.raises(errors.BuildError) as info:
        nltk.download_corpora(c.ctx)
    assert info.value.reason == "nltk-downloader"
    assert "tinycorpus" in info.value.detail
    assert "NLTK_DOWNLOAD_URL" in info.value.action
