"""manifest.read_ahead: an own mirror's runtimes.json, asked for in a child from the start.

A fork happens only in a process running no other thread, unlike a test
worker: each case runs in a fresh interpreter (tests/support/threads.py),
with a file:// mirror, which needs no server thread either.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from buildpack.runtime.manifest import RuntimeEntry, encode_manifest
from tests.support import threads

SETUP = """
import json, sys
from pathlib import Path
from buildpack.runtime import manifest
from tests.unit.ctx_factory import make_ctx

def build(**config):
    captured = make_ctx(Path(sys.argv[1]), config=config)
    ctx = captured.ctx
    ctx.stack, ctx.arch = "heroku-24", "amd64"
    manifest.read_ahead(ctx)
    return captured
"""


def _mirror(tmp_path: Path) -> str:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    entry = RuntimeEntry("python-3.13.15.tar.zst", "3.13.15", "heroku-24", "amd64", 10, "a" * 64)
    (mirror / "runtimes.json").write_bytes(encode_manifest([entry]))
    return f"file://{mirror}"


def alone(tmp_path: Path, body: str) -> list[str]:
    code = SETUP + textwrap.dedent(body)
    return threads.printed_alone(code, str(tmp_path)).splitlines()


def test_the_answer_comes_from_the_child_and_this_process_imports_no_http(tmp_path):
    url = _mirror(tmp_path)
    printed = alone(
        tmp_path,
        f"""
        captured = build(BUILDPACK_S3_BASE_URL={url!r})
        asked = captured.ctx.manifest_ahead
        print(asked.url, asked.child.pid is not None)
        found = manifest.load(captured.ctx, {url!r})
        fields = captured.ctx.report.fields
        print(json.dumps([found.versions, fields["runtime_manifest_read_ahead"]]))
        print(asked.child.pid, captured.ctx.manifest_ahead)  # reaped, and taken
        print("buildpack.runtime.download" in sys.modules, "http.client" in sys.modules)
        """,
    )
    assert printed == [
        f"{url}/runtimes.json True",
        json.dumps([["3.13.15"], True]),
        "None None",
        "False False",
    ]


def test_a_question_for_another_mirror_is_not_taken(tmp_path):
    url = _mirror(tmp_path)
    printed = alone(
        tmp_path,
        f"""
        captured = build(BUILDPACK_S3_BASE_URL="file:///nowhere")
        asked = captured.ctx.manifest_ahead
        found = manifest.load(captured.ctx, {url!r})
        print(found.versions, captured.ctx.report.fields["runtime_manifest_read_ahead"])
        print(asked.child.pid)
        """,
    )
    assert printed == ["('3.13.15',) False", "None"]


def test_a_setting_the_child_cannot_use_fails_in_its_usual_place(tmp_path):
    """The child ends without an answer; load asks itself and raises the
    build's own error for the setting."""
    url = _mirror(tmp_path)
    printed = alone(
        tmp_path,
        f"""
        from buildpack.core.errors import BuildError
        captured = build(BUILDPACK_S3_BASE_URL={url!r}, BUILDPACK_DOWNLOAD_RETRIES="many")
        print(captured.ctx.manifest_ahead is not None)
        try:
            manifest.load(captured.ctx, {url!r})
        except BuildError as exc:
            print(exc.reason)
        print(captured.ctx.report.fields["runtime_manifest_read_ahead"])
        """,
    )
    assert printed == ["True", "install-python::invalid-download-setting", "False"]


def test_herokus_bucket_is_not_asked(tmp_path):
    printed = alone(
        tmp_path,
        """
        print(build().ctx.manifest_ahead)
        """,
    )
    assert printed == ["None"]
