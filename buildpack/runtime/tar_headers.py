"""Limits on tar headers, checked before tarfile or the OS act on them.

``tarfile`` reads a long-name, long-link or pax header record whole into
memory before the extractor sees the member it belongs to (a 16 KB archive
can declare gigabytes), and hands on whatever mtime or name a header holds,
which os.utime or os.open then fail on with a traceback. The extractor uses
``CheckedTarInfo`` and ``check_fields`` so that any of these is an
``ArchiveInvalid`` (shown as an invalid runtime archive) instead.
"""

from __future__ import annotations

import math
import os
import tarfile
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing_extensions import Self


class ArchiveInvalid(Exception):
    """The archive is not one this buildpack unpacks; the message says why."""


# Real header records hold one path or a few key=value lines.
MAX_HEADER_RECORD_BYTES = 1024 * 1024
# Records tarfile reads one after the other (recursively) for one member.
_MAX_HEADER_CHAIN = 8
_HEADER_RECORDS = {
    tarfile.GNUTYPE_LONGNAME: "long-name",
    tarfile.GNUTYPE_LONGLINK: "long-link",
    tarfile.XHDTYPE: "pax",
    tarfile.XGLTYPE: "pax global",
    tarfile.SOLARIS_XHDTYPE: "pax",
}
# What the filesystem takes (NAME_MAX, PATH_MAX); more is not a runtime.
_MAX_NAME_BYTES = 255
_MAX_PATH_BYTES = 4000
# 9999-12-31: an mtime beyond (or before 1970, or not a number) is not a real file's.
_MAX_MTIME = 253_402_300_799


# Why tarfile stopped reading headers, by the name of the (undocumented)
# HeaderError subclass it raised and then swallowed.
_HEADER_ENDS = {
    "EOFHeaderError": "marker",
    "EmptyHeaderError": "the data ends before the end-of-archive marker",
    "TruncatedHeaderError": "the data ends inside a member header",
}
_HOW_HEADERS_ENDED: weakref.WeakKeyDictionary[tarfile.TarFile, str] = weakref.WeakKeyDictionary()
# How many header records tarfile is reading, one inside the other, per archive.
_DEPTH: weakref.WeakKeyDictionary[tarfile.TarFile, int] = weakref.WeakKeyDictionary()


class CheckedTarInfo(tarfile.TarInfo):
    """Header parsing with limits, noting why tarfile stopped reading headers.

    Header records (long names, long links, pax) are refused above
    ``MAX_HEADER_RECORD_BYTES`` before tarfile reads them, and so are long
    chains of them (tarfile reads each chained record by recursion).

    ``tarfile`` ends iteration quietly both at the end-of-archive marker and at
    a truncated or garbled header. Only the marker means the archive is
    complete, so the extractor checks which one it was (``how_headers_ended``).
    """

    def _proc_member(self, archive: tarfile.TarFile) -> tarfile.TarInfo:
        kind = _HEADER_RECORDS.get(self.type)
        if kind is not None and self.size > MAX_HEADER_RECORD_BYTES:
            raise ArchiveInvalid(
                f"a {kind} header declares {self.size} bytes, more than the "
                f"{MAX_HEADER_RECORD_BYTES} a header may have"
            )
        # A private tarfile method, the same from 3.8 to 3.14: what reads the record.
        proc_member: Callable[[tarfile.TarFile], tarfile.TarInfo] = super()._proc_member  # type: ignore[misc]
        return proc_member(archive)

    @classmethod
    def fromtarfile(cls, tarfile_: tarfile.TarFile) -> Self:
        depth = _DEPTH.get(tarfile_, 0)
        if depth >= _MAX_HEADER_CHAIN:
            raise ArchiveInvalid(f"more than {_MAX_HEADER_CHAIN} header records precede a member")
        _DEPTH[tarfile_] = depth + 1
        try:
            return super().fromtarfile(tarfile_)
        except tarfile.HeaderError as exc:
            ended = _HEADER_ENDS.get(type(exc).__name__, f"a member header is corrupt ({exc})")
            _HOW_HEADERS_ENDED[tarfile_] = ended
            raise
        finally:
            _DEPTH[tarfile_] = depth


def how_headers_ended(tf: tarfile.TarFile) -> str | None:
    """ "marker" when tarfile read the end-of-archive marker, else why it stopped."""
    return _HOW_HEADERS_ENDED.get(tf)


def check_fields(member: tarfile.TarInfo) -> None:
    """What no CPython build produces and the OS would choke on: refused as
    an invalid archive (never a traceback from os.utime or os.open)."""
    name = shown(member.name)
    mtime = member.mtime
    if not isinstance(mtime, (int, float)) or not math.isfinite(mtime):
        raise ArchiveInvalid(f"'{name}' has an impossible modification time ({mtime!r})")
    if not 0 <= mtime <= _MAX_MTIME:
        raise ArchiveInvalid(f"'{name}' has an impossible modification time ({mtime:.6g})")
    for what, path in (("name", member.name), ("link target", member.linkname)):
        if "\0" in path:
            raise ArchiveInvalid(f"'{name}' has a NUL byte in its {what}")
        raw = os.fsencode(path)
        if len(raw) > _MAX_PATH_BYTES:
            raise ArchiveInvalid(
                f"'{name}' has a {what} of {len(raw)} bytes, longer than paths can be"
            )
        if any(len(part) > _MAX_NAME_BYTES for part in raw.split(b"/")):
            raise ArchiveInvalid(
                f"'{name}' has a {what} with a component longer than "
                f"{_MAX_NAME_BYTES} bytes, longer than file names can be"
            )


def shown(name: str, limit: int = 120) -> str:
    return name if len(name) <= limit else name[: limit - 3] + "..."
