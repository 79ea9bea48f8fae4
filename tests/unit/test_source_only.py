"""selfdeps.source_only: a checked directory's modules come from their source only.

In a fresh interpreter (bytecode writing on, as bin/compile runs), through
bootstrap.activate, as the build puts its own libraries on sys.path.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(code: str, *args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-I", "-c", textwrap.dedent(code), str(ROOT), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.split()


def test_the_checked_directory_gets_no_bytecode_and_the_rest_keeps_its_own(tmp_path):
    checked = tmp_path / "checked"
    (checked / "lib_pkg" / "sub").mkdir(parents=True)
    (checked / "lib_pkg" / "__init__.py").write_text("from lib_pkg.sub import leaf\n")
    (checked / "lib_pkg" / "sub" / "__init__.py").write_text("")
    (checked / "lib_pkg" / "sub" / "leaf.py").write_text("VALUE = 'from source'\n")
    own = tmp_path / "own"
    own.mkdir()
    (own / "own_module.py").write_text("VALUE = 'own'\n")
    printed = run(
        """
        import sys
        from pathlib import Path
        sys.path.insert(0, sys.argv[1])
        from buildpack.selfdeps import bootstrap
        bootstrap.activate(Path(sys.argv[2]))
        sys.path.append(sys.argv[3])
        import lib_pkg, own_module
        print(lib_pkg.leaf.VALUE.replace(" ", "-"), own_module.VALUE, sys.dont_write_bytecode)
        """,
        str(checked),
        str(own),
    )
    assert printed == ["from-source", "own", "False"]
    assert list(checked.rglob("__pycache__")) == []
    assert list((own / "__pycache__").glob("own_module.*.pyc"))


def test_bytecode_in_the_checked_directory_is_never_run(tmp_path):
    checked = tmp_path / "checked"
    checked.mkdir()
    (checked / "planted.py").write_text("VALUE = 'source'\n")
    # Valid bytecode of other code, beside its source and alone.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "planted.py").write_text("VALUE = 'bytecode'\n")
    (elsewhere / "lone.py").write_text("VALUE = 'lone bytecode'\n")
    subprocess.run([sys.executable, "-m", "compileall", "-q", "-b", str(elsewhere)], check=True)
    source = checked / "planted.py"
    pyc = checked / "__pycache__" / f"planted.{sys.implementation.cache_tag}.pyc"
    pyc.parent.mkdir()
    # A header that matches the source's mtime and size, as Python checks it.
    code = (elsewhere / "planted.pyc").read_bytes()[16:]
    stat = source.stat()
    header = importlib.util.MAGIC_NUMBER + b"\0\0\0\0"
    header += int(stat.st_mtime).to_bytes(4, "little") + (stat.st_size & 0xFFFFFFFF).to_bytes(
        4, "little"
    )
    pyc.write_bytes(header + code)
    (elsewhere / "lone.pyc").rename(checked / "lone.pyc")
    printed = run(
        """
        import sys
        from pathlib import Path
        sys.path.insert(0, sys.argv[1])
        from buildpack.selfdeps import bootstrap
        bootstrap.activate(Path(sys.argv[2]))
        import planted
        print(planted.VALUE)
        try:
            import lone
        except ImportError:
            print("no-lone")
        """,
        str(checked),
    )
    assert printed == ["source", "no-lone"]
