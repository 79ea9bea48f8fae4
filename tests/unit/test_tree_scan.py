"""The listing verified_tree.check_tree compares with a lock (tree_scan)."""

from __future__ import annotations

import hashlib
import os
import signal
import stat
from pathlib import Path

import pytest

from buildpack.selfdeps import tree_scan, verified_tree
from tests.support import threads


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """A directory to scan, with a link to a directory outside it, one to
    a file outside it, a fifo, nested directories, and a left-out one."""
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "planted.py").write_text("planted\n")
    root = tmp_path / "root"
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / ".wheels").mkdir()
    (root / ".wheels" / "x.whl").write_bytes(b"wheel")
    (root / "top.txt").write_text("top\n")
    (root / "pkg" / "mod.py").write_text("mod\n")
    (root / "pkg" / "sub" / "leaf.py").write_text("leaf\n")
    (root / "pkg" / "linked").symlink_to(outside)
    (root / "pkg" / "file-link").symlink_to(outside / "deep" / "planted.py")
    os.mkfifo(root / "pkg" / "fifo")
    return root, outside


def _os_walk(root: Path, leave_out: str) -> list[tuple[str, int]]:
    """The listing verified_tree made with os.walk before tree_scan."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == "." and leave_out:
            dirnames[:] = [d for d in dirnames if d != leave_out]
        for name in dirnames + filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            found.append((rel, os.lstat(os.path.join(dirpath, name)).st_mode))
    return found


def test_a_scan_lists_what_os_walk_did_in_its_order_and_never_through_a_link(tmp_path):
    root, _ = _tree(tmp_path)
    entries = tree_scan.scan(root, leave_out=".wheels")
    kinds = {
        stat.S_IFDIR: tree_scan.DIR,
        stat.S_IFLNK: tree_scan.LINK,
        stat.S_IFREG: tree_scan.FILE,
        stat.S_IFIFO: tree_scan.OTHER,
    }
    walked = _os_walk(root, ".wheels")
    assert [(e.rel, e.kind) for e in entries] == [
        (rel, kinds[stat.S_IFMT(mode)]) for rel, mode in walked
    ]
    by_rel = {e.rel: e for e in entries}
    assert by_rel["pkg/linked"].kind == tree_scan.LINK
    assert not any("planted" in e.rel or e.rel.startswith(".wheels") for e in entries)
    assert by_rel["pkg/file-link"].sha256 == ""  # a link is not read
    assert by_rel["pkg/fifo"].sha256 == ""  # nor a fifo (opening it would wait)
    assert by_rel["pkg/sub/leaf.py"].sha256 == hashlib.sha256(b"leaf\n").hexdigest()


@pytest.mark.parametrize("child", [False, True], ids=["thread", "process"])
def test_a_scan_begun_early_gives_the_same_listing_and_check(tmp_path, child):
    root, _ = _tree(tmp_path)
    for name in ("pkg/linked", "pkg/file-link", "pkg/fifo"):
        (root / name).unlink()
    files = {
        rel: hashlib.sha256((root / rel).read_bytes()).hexdigest()
        for rel in ("top.txt", "pkg/mod.py", "pkg/sub/leaf.py")
    }
    with tree_scan.started(root, ".wheels", child=child) as scanning:
        listed = scanning.entries()
        assert scanning.how == ("process" if child else "thread")
        verified_tree.check_tree(root, files, leave_out=".wheels", scanned=scanning)
    assert listed == tree_scan.scan(root, ".wheels")
    (root / "pkg" / "sub" / "leaf.py").write_text("changed\n")
    with (
        tree_scan.started(root, ".wheels", child=child) as scanning,
        pytest.raises(verified_tree.Untrusted, match=r"pkg/sub/leaf\.py differs"),
    ):
        verified_tree.check_tree(root, files, leave_out=".wheels", scanned=scanning)
    with (
        tree_scan.started(root, child=child) as scanning,
        pytest.raises(ValueError, match="the scan is of"),
    ):
        verified_tree.check_tree(root, files, leave_out=".wheels", scanned=scanning)


def test_a_scan_left_early_is_stopped_and_waited_for(tmp_path):
    root, _ = _tree(tmp_path)
    with tree_scan.started(root, child=False) as scanning:
        pass
    assert isinstance(scanning, tree_scan.Scan)
    assert not scanning._thread.is_alive()


def test_a_child_scan_left_early_is_ended_and_reaped(tmp_path):
    root = _many_files(tmp_path)
    with tree_scan.started(root, child=True) as scanning:
        assert isinstance(scanning, tree_scan.ChildScan)
        pid = scanning.child.pid
        assert pid is not None
    with pytest.raises(ChildProcessError):  # reaped: no such child any more
        os.waitpid(pid, os.WNOHANG)


def _many_files(tmp_path: Path) -> Path:
    root = tmp_path / "many"
    for d in range(20):
        (root / f"d{d}").mkdir(parents=True)
        for f in range(40):
            (root / f"d{d}" / f"f{f}.py").write_bytes(b"x" * 4096)
    return root


def test_a_child_scan_lists_and_hashes_as_scan_does(tmp_path):
    root, _ = _tree(tmp_path)
    with tree_scan.started(root, ".wheels", child=True) as scanning:
        # A fifo in the tree must not block the child either.
        assert scanning.entries() == tree_scan.scan(root, ".wheels")


def test_a_child_that_dies_is_an_error_not_a_short_listing(tmp_path):
    """A real SIGKILL, before the child could list 800 files."""
    root = _many_files(tmp_path)
    with tree_scan.started(root, child=True) as scanning:
        assert isinstance(scanning, tree_scan.ChildScan) and scanning.child.pid is not None
        os.kill(scanning.child.pid, signal.SIGKILL)
        with pytest.raises(OSError, match="ended with status -9"):
            scanning.entries()


def test_a_listing_crosses_from_the_child_unchanged(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    odd = os.fsdecode(b"caf\xe9\nline.py")  # not UTF-8, and a newline
    (root / odd).write_bytes(b"odd\n")
    (root / "link").symlink_to(odd)
    with tree_scan.started(root, child=True) as scanning:
        listed = scanning.entries()
    assert listed == tree_scan.scan(root)
    assert {e.rel: e.sha256 for e in listed}[odd] == hashlib.sha256(b"odd\n").hexdigest()


def test_the_scan_runs_in_a_child_only_when_no_other_thread_runs(tmp_path):
    root, _ = _tree(tmp_path)
    code = (
        "import sys; from pathlib import Path; from buildpack.selfdeps import tree_scan\n"
        "with tree_scan.started(Path(sys.argv[1])) as s:\n"
        "    s.entries(); print(s.how)\n"
    )
    assert threads.printed_alone(code, str(root)) == "process"
    with threads.another_thread(), tree_scan.started(root) as scanning:
        assert scanning.how == "thread"


def test_what_a_scan_could_not_read_is_raised_when_checked(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.py").write_text("a\n")
    error = PermissionError(13, "Permission denied")
    entries = [tree_scan.Entry("a.py", tree_scan.FILE, error=error)]

    class Scanned(tree_scan.Scan):
        def entries(self) -> list[tree_scan.Entry]:
            return entries

    # A fake listing: root reads every file, so an unreadable one cannot be staged.
    with pytest.raises(PermissionError):
        verified_tree.check_tree(root, {"a.py": "0" * 64}, scanned=Scanned(root))
