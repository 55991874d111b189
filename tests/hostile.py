"""Hostile objects for the abuse tests and drills: decompression bombs and damaged zip archives.

Each is built in a stream, so a drill can make a gigabyte bomb without holding the gigabyte.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import DeflatedExplicitVRLittleEndian

from tests.samples import ct_report

#: (FFFC,FFFC) Data Set Trailing Padding (PS3.10 7.2): the last element of a data set, OB
TRAILING_PADDING = struct.pack("<HH2sHL", 0xFFFC, 0xFFFC, b"OB", 0, 0)
CHUNK = 1 << 20


def deflated(ds: Dataset, *, padding: int = 0) -> bytes:
    """Encode ``ds`` in Deflated Explicit VR Little Endian, followed by ``padding`` zero bytes of trailing padding.

    The padding is deflated in chunks, so a bomb of a gigabyte costs a
    megabyte of memory to build (deflate gives about 1,000:1 on zeros).
    """
    meta = ds.file_meta
    meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    out = io.BytesIO()
    out.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(out, meta)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    out.write(compressor.compress(body.getvalue()))
    if padding:
        out.write(compressor.compress(TRAILING_PADDING[:-4] + struct.pack("<L", padding)))
        zeros = bytes(CHUNK)
        for start in range(0, padding, CHUNK):
            out.write(compressor.compress(zeros[: min(CHUNK, padding - start)]))
    out.write(compressor.flush())
    return out.getvalue()


def bomb(inflated_size: int) -> bytes:
    """Return a CT dose report, deflated, that inflates to about ``inflated_size`` bytes."""
    return deflated(ct_report(dlp="42"), padding=inflated_size)


def zip_with(path: Path, members: dict[str, bytes]) -> Path:
    """Write ``members`` into a deflated zip archive at ``path``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def damage_member(path: Path, member: str) -> None:
    """Flip bytes in the middle of ``member``'s compressed data, so that reading it fails (zlib.error or CRC)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    data = bytearray(path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    middle = start + info.compress_size // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))
