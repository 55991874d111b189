"""Content trees read from raw bytes (service.extract.content) give what pydicom's own parse gives."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from service.errors import InvalidDoseReport, NotDicom
from service.extract import extract
from service.extract.content import Item
from service.extract.elements import content_items
from service.ingest.dicomfile import read_dataset
from tests.samples import ct_report, to_bytes
from tests.srbuild import container, sr_dataset, text_item


def fully_parsed(data: bytes) -> Dataset:
    """Read ``data`` with pydicom and convert every value, as pydicom alone would."""
    ds = pydicom.dcmread(io.BytesIO(data))
    for element in ds.iterall():
        element.value  # noqa: B018 - convert the value
    return ds


def _sequences(ds: Dataset) -> Iterator[Dataset]:
    for element in ds:
        if element.VR == "SQ":
            yield element
            for item in element.value:
                yield from _sequences(item)


def encoded(ds: Dataset, syntax: str, *, undefined_lengths: bool = False) -> bytes:
    """Encode ``ds`` in transfer syntax ``syntax``, optionally with every sequence and item of undefined length."""
    for element in _sequences(ds):
        element.is_undefined_length = undefined_lengths
        for item in element.value:
            item.is_undefined_length_sequence_item = undefined_lengths
    ds.file_meta.TransferSyntaxUID = syntax
    return to_bytes(ds)


def test_every_corpus_object_extracts_as_from_pydicoms_parse(corpus: Path) -> None:
    differing = []
    for path in sorted(corpus.glob("*.dcm")):
        data = path.read_bytes()
        try:
            fast = extract(read_dataset(data, path.name))
        except InvalidDoseReport:
            continue
        except Exception as e:  # a refusal must be the same refusal either way
            with pytest.raises(type(e)):
                extract(fully_parsed(data))
            continue
        if fast != extract(fully_parsed(data)):
            differing.append(path.name)
    assert differing == []


def test_siemens_undefined_length_content_stays_raw_until_extraction(corpus: Path) -> None:
    data = (corpus / "NM-CT-RDSR-Siemens.dcm").read_bytes()
    assert pydicom.dcmread(io.BytesIO(data))["ContentSequence"].is_undefined_length
    ds = read_dataset(data, "NM-CT-RDSR-Siemens.dcm")
    assert isinstance(ds.get_item("ContentSequence"), pydicom.dataelem.RawDataElement)
    assert all(type(item) is Item for item in content_items(ds))
    assert extract(ds) == extract(fully_parsed(data))


@pytest.mark.parametrize(
    "syntax", [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian]
)
@pytest.mark.parametrize("undefined_lengths", [False, True], ids=["defined", "undefined"])
def test_every_encoding_gives_the_values_of_the_report_built(syntax: str, undefined_lengths: bool) -> None:
    built = ct_report(dlp="123.4")
    expected = extract(built)
    data = encoded(built, syntax, undefined_lengths=undefined_lengths)
    ds = read_dataset(data, "report.dcm")
    assert all(type(item) is Item for item in content_items(ds))  # deflated ones too: inflated before reading
    found = extract(ds)
    assert found["ct"] == expected["ct"]
    assert found["ct"]["accumulated"]["ct_dose_length_product_total"] == 123.4
    assert found["ct"]["events"][0]["acquisition_protocol"] == "Chest routine"


def test_text_in_the_declared_character_set_is_decoded() -> None:
    ds = ct_report()
    ds.SpecificCharacterSet = "ISO_IR 100"
    event = ds.ContentSequence[2]
    event.ContentSequence[0].TextValue = "Thorax Übersicht"
    found = extract(read_dataset(to_bytes(ds), "latin1.dcm"))
    assert found["ct"]["events"][0]["acquisition_protocol"] == "Thorax Übersicht"


@pytest.mark.parametrize(
    ("charsets", "text"),
    [
        (["", "ISO 2022 IR 87"], "胸部ルーチン"),  # Japanese: 7-bit bytes with escape sequences
        (["", "ISO 2022 IR 149"], "흉부 일반"),  # Korean
        (["", "ISO 2022 IR 87", "ISO 2022 IR 159"], "ＣＴ胸部"),
    ],
)
@pytest.mark.parametrize("parsed", [False, True])
def test_iso_2022_text_in_content_is_decoded(charsets: list[str], text: str, parsed: bool) -> None:
    ds = ct_report()
    ds.SpecificCharacterSet = charsets
    ds.ContentSequence[2].ContentSequence[0].TextValue = text
    data = to_bytes(ds)
    assert b"\x1b" in data
    read = read_dataset(data, "iso2022.dcm")
    if parsed:  # a Content Sequence pydicom has already parsed is read through its Datasets
        read.ContentSequence[2].ContentSequence[0]
    assert extract(read)["ct"]["events"][0]["acquisition_protocol"] == text


def test_an_item_where_none_can_be_is_refused_with_its_place() -> None:
    data = bytearray(to_bytes(sr_dataset([container("113811", text_item("125203", "x"))])))
    item_tag = b"\xfe\xff\x00\xe0"
    first_item = data.index(item_tag, data.index(b"\x40\x00\x30\xa7"))  # the Content Sequence's first item
    data[first_item : first_item + 4] = b"\x08\x00\x50\x00"  # (0008,0050) where an item must start
    with pytest.raises(InvalidDoseReport, match=r"\(0008,0050\) where an item must start"):
        extract(read_dataset(bytes(data), "bad.dcm"))


def test_an_undefined_length_content_sequence_cut_off_is_truncated() -> None:
    data = encoded(ct_report(), ExplicitVRLittleEndian, undefined_lengths=True)
    cut = data[: data.rindex(b"\xfe\xff\xdd\xe0")]  # without the final sequence delimiter
    with pytest.raises(NotDicom, match=r"truncated.*inside a sequence of undefined length"):
        read_dataset(cut, "cut.dcm")
