"""Objects to import from the file system: files, folders (recursively) and zip archives.

A damaged zip member (its compressed data corrupt, its CRC wrong, the archive
cut off inside it) does not stop an import: reading it raises
:class:`PartlyRead` with the bytes read before the damage, and ingest rejects
that member alone, logged and kept as far as it could be read. So does an
archive whose directory cannot be read at all.
"""

from __future__ import annotations

import lzma
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: names never imported from folders and archives: DICOM media directories and hidden files
SKIPPED_NAMES = frozenset({"DICOMDIR"})
#: bytes read from a zip member at a time (a damaged one is kept to the last whole chunk before the damage)
CHUNK = 64 << 10
#: what reading a damaged member raises, and what each means
ZIP_DAMAGE: dict[type[Exception], str] = {
    zipfile.BadZipFile: "it fails the archive's checks (a wrong CRC or header: damaged or altered)",
    zlib.error: "its compressed data are corrupt",
    lzma.LZMAError: "its compressed data are corrupt",
    EOFError: "the archive ends inside it",
    NotImplementedError: "it is compressed with a method that cannot be read",
    RuntimeError: "it is encrypted",
    OSError: "its data cannot be read",
}


class PartlyRead(Exception):
    """An object that could be read only in part: the bytes read before the damage, and why no more."""

    def __init__(self, message: str, data: bytes) -> None:
        super().__init__(message)
        self.data = data


@dataclass(frozen=True)
class Source:
    """One object to import, read only when needed."""

    name: str
    size: int
    read: Callable[[], bytes]


def _skipped(name: str) -> bool:
    parts = name.split("/")
    return parts[-1].upper() in SKIPPED_NAMES or any(part.startswith(".") for part in parts)


def _damage(error: Exception) -> str:
    """Say in a few words why a zip member could not be read."""
    return next(text for kind, text in ZIP_DAMAGE.items() if isinstance(error, kind))


def _zip_member(archive: Path, member: str) -> Callable[[], bytes]:
    def read() -> bytes:
        data = bytearray()
        try:
            with zipfile.ZipFile(archive) as zf, zf.open(member) as stream:
                while chunk := stream.read(CHUNK):  # zipfile stops at the member's declared size
                    data += chunk
        except tuple(ZIP_DAMAGE) as e:
            message = (
                f"{archive}/{member} cannot be read from its zip archive: {_damage(e)}. "
                f"The {len(data)} bytes read before the damage are kept; the archive's other members are imported."
            )
            raise PartlyRead(message, bytes(data)) from e
        return bytes(data)

    return read


def _unreadable_archive(path: Path, error: Exception) -> Source:
    """Return the whole of an archive whose directory cannot be read, as one object that reading rejects."""

    def read() -> bytes:
        message = f"{path} looks like a zip archive but its directory cannot be read ({_damage(error)}); it is kept."
        raise PartlyRead(message, path.read_bytes())

    return Source(str(path), path.stat().st_size, read)


def _from_zip(path: Path) -> Iterator[Source]:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [info for info in zf.infolist() if not info.is_dir() and not _skipped(info.filename)]
    except tuple(ZIP_DAMAGE) as e:
        yield _unreadable_archive(path, e)
        return
    for info in sorted(members, key=lambda info: info.filename):
        yield Source(f"{path}/{info.filename}", info.file_size, _zip_member(path, info.filename))


def _from_file(path: Path) -> Iterator[Source]:
    if zipfile.is_zipfile(path):
        yield from _from_zip(path)
    else:
        yield Source(str(path), path.stat().st_size, path.read_bytes)


def iter_sources(paths: Iterable[Path]) -> Iterator[Source]:
    """Yield every object under ``paths``; raise OSError for a path that does not exist or is no file or folder.

    A zip file (recognised by content, not by name) contributes its members;
    DICOMDIR and hidden files inside folders and archives are skipped.
    """
    for path in paths:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if not _skipped(child.relative_to(path).as_posix()):
                    yield from _from_file(child)
        elif path.is_file():
            yield from _from_file(path)
        elif path.exists():  # a device, pipe or socket: nothing to read as objects
            raise OSError(f"{path} is neither a file nor a folder; give DICOM files, folders of them or zip archives.")
        else:
            raise FileNotFoundError(f"{path} does not exist.")
