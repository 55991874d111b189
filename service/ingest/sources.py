"""Objects to import from the file system: files, folders (recursively) and zip archives."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: names never imported from folders and archives: DICOM media directories and hidden files
SKIPPED_NAMES = frozenset({"DICOMDIR"})


@dataclass(frozen=True)
class Source:
    """One object to import, read only when needed."""

    name: str
    size: int
    read: Callable[[], bytes]


def _skipped(name: str) -> bool:
    parts = name.split("/")
    return parts[-1].upper() in SKIPPED_NAMES or any(part.startswith(".") for part in parts)


def _zip_member(archive: Path, member: str) -> Callable[[], bytes]:
    def read() -> bytes:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)

    return read


def _from_zip(path: Path) -> Iterator[Source]:
    with zipfile.ZipFile(path) as zf:
        members = [info for info in zf.infolist() if not info.is_dir() and not _skipped(info.filename)]
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
