"""Objects whose encoding breaks PS3.5 are refused with a sentence naming the element, never a Python exception.

The drills fed 10,000 fuzzed objects to the import: 157 made extraction raise
internally (RecursionError, AttributeError, unknown VRs, wrong lengths), which
became 422s carrying Python's exception text. Here the same kinds of objects are
built by hand, and a bounded fuzz loop (fixed seed, at most FUZZ_SECONDS)
mutates reports and requires every outcome to be a refusal DoseLedger meant.
"""

from __future__ import annotations

import random
import struct
import time
from pathlib import Path

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag

from service.errors import InvalidDoseReport, NotDicom, RejectedObject
from service.extract import extract
from service.extract.content import MAX_NESTING
from service.extract.structure import problem
from service.ingest.dicomfile import read_dataset
from service.ingest.pipeline import Pipeline
from tests.samples import ct_report, to_bytes
from tests.srbuild import container, text_item

CONTENT = 0x0040A730
FUZZ_SECONDS = 15.0
FUZZ_OBJECTS = 4000


def nested_content(levels: int) -> bytes:
    """Return a Content Sequence element (defined lengths) whose items nest ``levels`` sequences deep."""
    value = b""
    for _ in range(levels):
        element = struct.pack("<HH2sHL", 0x0040, 0xA730, b"SQ", 0, len(value)) + value
        value = struct.pack("<HHL", 0xFFFE, 0xE000, len(element)) + element
    return struct.pack("<HH2sHL", 0x0040, 0xA730, b"SQ", 0, len(value)) + value


def report_with_content(content: bytes) -> bytes:
    """Return a CT report's bytes with its Content Sequence replaced by ``content`` (the last element)."""
    ds = ct_report()
    del ds.ContentSequence
    return to_bytes(ds) + content


def test_content_nested_past_the_limit_is_refused_in_a_sentence() -> None:
    ds = read_dataset(report_with_content(nested_content(600)), "deep.dcm")
    with pytest.raises(InvalidDoseReport, match=f"nests sequences more than {MAX_NESTING} deep"):
        extract(ds)


def test_content_nested_within_the_limit_is_read() -> None:
    ds = read_dataset(report_with_content(nested_content(MAX_NESTING - 2)), "deep.dcm")
    with pytest.raises(RejectedObject) as e:  # an empty tree: a report of nothing, refused as such
        extract(ds)
    assert "deep" not in str(e.value)


def test_content_items_built_in_code_are_bounded_too() -> None:
    item = text_item("125203", "innermost")
    for _ in range(MAX_NESTING + 10):
        item = container("113811", item)
    ds = ct_report()
    ds.ContentSequence.append(item)
    with pytest.raises(InvalidDoseReport, match=f"content items are nested more than {MAX_NESTING} deep"):
        extract(ds)


@pytest.mark.parametrize(
    ("tag", "vr", "value", "message"),
    [
        (0x00081030, "L\xfe", b"HEAD", r"\(0008,1030\) StudyDescription has the value representation 'Lþ', which"),
        (0x0008103E, "L\xfe", b"HEAD", None),  # an element no extractor reads does not matter
        (0x00181150, "IS", b"\x01\x02", None),  # a text VR with junk: read leniently, not refused
        (0x0040A043, "LO", b"TITLE ", r"\(0040,A043\) ConceptNameCodeSequence is encoded as LO, not as the sequence"),
        (0x00400275, "US", b"\x01\x00", r"\(0040,0275\) RequestAttributesSequence is encoded as US"),
    ],
)
def test_a_broken_element_is_named(tag: int, vr: str, value: bytes, message: str | None) -> None:
    ds = ct_report()
    ds[tag] = RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)
    if message is None:
        extract(ds)
        return
    with pytest.raises(InvalidDoseReport, match=message):
        extract(ds)


@pytest.mark.parametrize(
    ("tag", "vr", "length", "found"),
    [
        (0x0040A161, "FD", 7, "its element (0040,A161) FloatingPointValue (FD) is 7 bytes long, not a multiple of 8"),
        (0x0040A161, "FD", 16, None),
        (0x00280010, None, 3, "its element (0028,0010) Rows (US) is 3 bytes long, not a multiple of 2"),
        (0x00091001, "QQ", 2, "its element (0009,1001) has the value representation 'QQ', which is not one of DICOM's"),
        (0x0040A730, "UN", 10, None),  # a sequence sent as UN: read as one (PS3.5 6.2.2)
    ],
)
def test_problem(tag: int, vr: str | None, length: int, found: str | None) -> None:
    assert problem(tag, vr, length) == found


def test_a_content_item_element_of_the_wrong_kind_is_named() -> None:
    ds = ct_report()
    data = bytearray(to_bytes(ds))
    name_code = data.index(b"\x40\x00\x43\xa0SQ", data.index(b"\x40\x00\x30\xa7"))  # first concept name in content
    data[name_code + 4 : name_code + 6] = b"OB"  # the concept name becomes bytes
    with pytest.raises(InvalidDoseReport, match=r"\(0040,A043\) ConceptNameCodeSequence is encoded as OB"):
        extract(read_dataset(bytes(data), "odd.dcm"))


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """Flip, overwrite, cut or repeat a few bytes past the preamble, or change a VR."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        pos = rng.randrange(132, len(out))
        choice = rng.randrange(5)
        if choice == 0:
            out[pos] = rng.randrange(256)
        elif choice == 1:
            out[pos : pos + 4] = rng.choice(
                [b"\xff\xff\xff\xff", b"\0\0\0\0", b"\xfe\xff\x00\xe0", b"\x40\x00\x30\xa7"]
            )
        elif choice == 2 and (vr := out.find(rng.choice([b"SQ", b"DS", b"CS", b"UI", b"US", b"FD"]), pos)) > 0:
            out[vr : vr + 2] = rng.choice([b"SQ", b"UN", b"OB", b"XX", b"UT", b"US", b"\0\0"])
        elif choice == 3:
            del out[pos : pos + rng.randint(1, 16)]
        else:
            out[pos:pos] = out[rng.randrange(len(out)) :][: rng.randint(1, 64)]
    return bytes(out)


def test_fuzzed_objects_are_refused_on_purpose_or_read(corpus: Path) -> None:
    """Every outcome is a document or a RejectedObject; nothing else escapes reading and extraction."""
    seeds = [path.read_bytes() for path in sorted(corpus.glob("*.dcm")) if path.stat().st_size < 1_000_000]
    seeds.append(to_bytes(ct_report()))
    rng = random.Random(20)
    deadline = time.monotonic() + FUZZ_SECONDS
    escaped: list[str] = []
    for count in range(FUZZ_OBJECTS):
        if time.monotonic() > deadline:
            break
        data = _mutate(rng.choice(seeds), rng)
        try:
            extract(read_dataset(data, f"fuzz-{count}.dcm"))
        except RejectedObject:
            pass
        except Exception as e:  # what the test looks for: an error DoseLedger did not mean
            escaped.append(f"fuzz-{count}: {type(e).__name__}: {e}")
    assert count > 500 and escaped == []


def test_the_pipeline_answers_an_internal_failure_in_a_sentence(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> dict[str, object]:
        raise AttributeError("'NoneType' object has no attribute 'secret'")

    monkeypatch.setattr("service.ingest.pipeline.extract", broken)
    outcome = pipeline.ingest(to_bytes(ct_report()), name="odd.dcm", via="cli", client="t")
    assert outcome.code == "invalid-dose-report"
    assert "odd.dcm could not be read as a dose report" in outcome.message
    assert "secret" not in outcome.message and "Error" not in outcome.message


def test_an_unreadable_file_says_so_without_pydicom_text() -> None:
    data = bytearray(to_bytes(ct_report()))
    data[140:148] = b"\xff" * 8  # the file meta group length and beyond: nothing parses
    with pytest.raises(NotDicom) as e:
        read_dataset(bytes(data), "bad.dcm")
    assert "bad.dcm is" in str(e.value) and "Error" not in str(e.value)
