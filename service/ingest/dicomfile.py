"""Strict reading of DICOM bytes, and the encoding in which an original is kept.

pydicom reads a truncated file silently (the last value comes back short), and
with ``force=True`` it "reads" almost any bytes. Ingest must tell the sender
that a file is broken, so reading here is strict: short reads are errors, and
a file without the Part 10 header (PS3.10 7.1: 128-byte preamble and ``DICM``)
is read only when it starts like a DICOM data set and yields SOP Class and SOP
Instance UIDs.

A Content Sequence of undefined length (Siemens writes them so) would be
parsed by pydicom into a Dataset per item while the file is read, the cost that
:mod:`service.extract.content` exists to avoid. Reading stops before it, finds
its end, keeps its bytes as a raw element like a defined-length one, and reads
on after it.

A data set in the Deflated Explicit VR Little Endian transfer syntax (PS3.5
A.5) is inflated here, in one bounded step, before pydicom sees it: pydicom
would inflate it whole, and a megabyte of deflated zeros inflates to a
gigabyte. Inflation stops past ``max_bytes`` (``DOSELEDGER_MAX_UPLOAD_BYTES``)
and the object is refused as too large; this is the one place every way in
(HTTP, CLI, zip members, C-STORE, reprocess) inflates.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import zlib

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.filereader import read_dataset as read_elements
from pydicom.filereader import read_partial
from pydicom.filewriter import write_file_meta_info
from pydicom.tag import BaseTag
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRLittleEndian

from service.config import DEFAULT_MAX_UPLOAD_BYTES
from service.errors import NotDicom, TooLarge
from service.extract.content import UNDEFINED, MalformedContent, Syntax, undefined_length_end

log = logging.getLogger(__name__)

#: PS3.10 7.1: the "DICM" prefix follows a 128-byte preamble
PREAMBLE_LENGTH = 128
MAGIC = b"DICM"
#: pixel data elements (PS3.3 C.7.6.3): removed before an original is kept
PIXEL_DATA_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
CONTENT_SEQUENCE = 0x0040A730
_VR = re.compile(rb"[A-Z]{2}")


class _CutOffDetector(io.BytesIO):
    """A byte stream that notes a short read instead of letting it pass as the end of the file.

    pydicom ends a data set when an 8-byte element header read finds the end
    of the data; any other short read means the file was cut off. (Raising
    here would only become a pydicom warning and a partial data set.) A cut
    that falls exactly between two top-level elements cannot be told from a
    complete file; extraction then finds the content missing.
    """

    cut_off_at: int | None = None

    def read(self, size: int | None = -1, /) -> bytes:
        start = self.tell()
        data = super().read(size)
        short = size is not None and 0 <= len(data) < size
        if short and (data or size != 8) and self.cut_off_at is None:
            self.cut_off_at = start
        return data


def read_dataset(data: bytes, name: str, *, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> Dataset:
    """Parse ``data`` into a Dataset, or raise :class:`NotDicom` naming ``name`` and the evidence.

    A deflated data set that inflates to more than ``max_bytes`` raises :class:`TooLarge`.
    """
    if not data:
        raise NotDicom(f"{name} is empty (0 bytes); it is not a DICOM file.")
    has_header = data[PREAMBLE_LENGTH : PREAMBLE_LENGTH + 4] == MAGIC
    if not has_header and not _looks_like_dataset(data):
        raise NotDicom(
            f"{name} is not a DICOM file: it has no 'DICM' marker at byte 128 and does not start "
            f"like a DICOM data set (first bytes {data[:16]!r}, {len(data)} bytes in all)."
        )
    data, deflated = _inflated(data, name, max_bytes, PREAMBLE_LENGTH + len(MAGIC) if has_header else 0)
    stream = _CutOffDetector(data)
    try:
        ds = _read(stream, data, force=not has_header)
    except MalformedContent as e:
        raise NotDicom(f"{name} is corrupt or truncated ({len(data)} bytes): its Content Sequence {e}") from e
    except Exception as e:  # pydicom raises many types on bad bytes; each means "not readable"
        log.info("pydicom could not read %s: %s", name, e)
        raise NotDicom(
            f"{name} is corrupt or truncated ({len(data)} bytes): its data elements cannot be read "
            "as PS3.5 encodes them."
        ) from e
    if stream.cut_off_at is not None:
        raise NotDicom(
            f"{name} is truncated: it ends after {len(data)} bytes, inside the data element "
            f"that starts at byte {stream.cut_off_at}."
        )
    if not has_header:
        _require_identity(ds, name)
    if deflated:
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian  # as received
    return ds


def _inflated(data: bytes, name: str, max_bytes: int, meta_start: int) -> tuple[bytes, bool]:
    """Return ``data`` with a deflated data set inflated and its file meta saying so, and whether it was."""
    stream = io.BytesIO(data)
    stream.seek(meta_start)
    try:
        meta = read_elements(stream, False, True, stop_when=lambda tag, vr, length: tag.group != 2)
        deflated = meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian
    except Exception:  # a broken file meta: pydicom, reading it the same way, says what is wrong
        return data, False
    if not deflated:
        return data, False
    body = _inflate(data[stream.tell() :], name, max_bytes)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    buffer = io.BytesIO()
    buffer.write(data[:meta_start])
    write_file_meta_info(buffer, pydicom.dataset.FileMetaDataset(meta), enforce_standard=False)
    buffer.write(body)
    return buffer.getvalue(), True


def _inflate(deflated: bytes, name: str, max_bytes: int) -> bytes:
    """Inflate a deflated data set (PS3.5 A.5), stopping as soon as it passes ``max_bytes``."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        body = inflater.decompress(deflated, max_bytes + 1)
    except zlib.error as e:
        raise NotDicom(
            f"{name} is corrupt: its data set is deflated (Deflated Explicit VR Little Endian) "
            f"but its {len(deflated)} deflated bytes cannot be inflated."
        ) from e
    if len(body) > max_bytes:
        raise TooLarge(
            f"{name} is {len(deflated)} bytes deflated but inflates to more than the limit of {max_bytes} bytes "
            "(DOSELEDGER_MAX_UPLOAD_BYTES); inflation stopped at the limit and it was not read."
        )
    if not inflater.eof:
        raise NotDicom(
            f"{name} is truncated: its deflated data set (Deflated Explicit VR Little Endian) ends "
            f"after {len(deflated)} bytes, before the end of the deflated stream."
        )
    return body


def _read(stream: _CutOffDetector, data: bytes, *, force: bool) -> Dataset:
    """Read ``data``, keeping an undefined-length Content Sequence as raw bytes."""
    stopped = []

    def at_undefined_length_content(tag: BaseTag, vr: str | None, length: int) -> bool:
        stopped.append(tag == CONTENT_SEQUENCE and length == UNDEFINED)
        return stopped[-1]

    ds = read_partial(stream, stop_when=at_undefined_length_content, force=force)
    if not (stopped and stopped[-1]):
        return ds
    implicit, little = ds.original_encoding
    header = stream.tell()
    start = header + (8 if implicit else 12)
    syntax = Syntax(implicit or data[header + 4 : header + 6] == b"UN", little is not False, "")
    end = undefined_length_end(data, start, syntax)
    value = data[start : end - 8]  # without the sequence delimitation item
    ds[CONTENT_SEQUENCE] = RawDataElement(
        BaseTag(CONTENT_SEQUENCE), "SQ", len(value), value, start, syntax.implicit, syntax.little
    )
    if end < len(data):
        stream.seek(end)
        ds.update(read_elements(stream, bool(implicit), little is not False))
    return ds


def _looks_like_dataset(data: bytes) -> bool:
    """Tell whether headerless bytes start with a plausible group 0002 or 0008 element."""
    if len(data) < 8:
        return False
    group, _element = struct.unpack("<HH", data[:4])
    if group not in (0x0002, 0x0008):
        return False
    explicit = _VR.fullmatch(data[4:6]) is not None
    implicit_length = struct.unpack("<L", data[4:8])[0]
    return explicit or implicit_length < len(data)


def _require_identity(ds: Dataset, name: str) -> None:
    """Refuse a headerless read that did not yield SOP Class and SOP Instance UIDs."""
    try:
        missing = [keyword for keyword in ("SOPClassUID", "SOPInstanceUID") if not ds.get(keyword)]
    except Exception as e:  # a forced read of non-DICOM bytes fails on first use of a value
        raise NotDicom(f"{name} has no DICOM file header and does not read as a data set.") from e
    if missing:
        raise NotDicom(
            f"{name} has no DICOM file header and, read as a bare data set, lacks {' and '.join(missing)}; "
            "it is not a DICOM object."
        )


def bytes_to_keep(ds: Dataset) -> bytes | None:
    """Return ``ds`` encoded without pixel data, as it is to be kept; None when pydicom cannot write it back."""
    for tag in PIXEL_DATA_TAGS:
        if tag in ds:
            del ds[tag]
    buffer = io.BytesIO()
    try:
        ds.save_as(buffer, enforce_file_format=False)
    except Exception:  # the caller keeps the bytes received rather than lose them
        log.warning("Could not re-encode %s; keeping it as received.", ds.get("SOPInstanceUID"))
        return None
    return buffer.getvalue()
