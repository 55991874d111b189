"""Storage amplification: bytes that are no readable DICOM are kept only up to DOSELEDGER_KEEP_NOT_DICOM_BYTES.

Before the bound a 612 KB zip of ten 60 MB members of zeros grew the database
by 2.5 GB (every rejected member kept whole). Now each keeps its first bytes,
with the SHA-256 and length of the whole; a rejected DICOM object is still kept
whole, pixel data removed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from service.config import load_settings
from service.errors import ConfigurationError
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.conftest import Runner
from tests.hostile import bomb, zip_with
from tests.samples import image_without_dose

ZEROS = bytes(8 << 20)


def files_entry(store: Store, data: bytes) -> dict[str, Any]:
    entry = store.db["originals.files"].find_one({"_id": hashlib.sha256(data).hexdigest()})
    assert entry is not None
    return entry


def test_bytes_that_are_not_dicom_keep_their_first_megabyte(store: Store) -> None:
    pipeline = Pipeline(store, max_bytes=64 << 20, not_patient_patterns=())
    outcome = pipeline.ingest(ZEROS, name="zeros.bin", via="cli", client="t")
    assert outcome.code == "not-dicom"
    assert outcome.message.endswith(
        "Only its first 1048576 bytes are kept (DOSELEDGER_KEEP_NOT_DICOM_BYTES), with the SHA-256 and length of all 8388608."
    )
    assert store.read_original(outcome.sha256 or "") == ZEROS[: 1 << 20]
    entry = files_entry(store, ZEROS)
    assert (entry["length"], entry["metadata"]["size"], entry["metadata"]["truncated"]) == (1 << 20, 8 << 20, True)
    assert [e["message"] for e in store.events_after(0, 10) if e["type"] == "rejected"] == [outcome.message]


def test_a_small_object_is_kept_whole_and_says_nothing_more(store: Store) -> None:
    pipeline = Pipeline(store, max_bytes=64 << 20, not_patient_patterns=(), keep_not_dicom_bytes=100)
    outcome = pipeline.ingest(b"not dicom at all", name="small.bin", via="cli", client="t")
    assert "kept" not in outcome.message
    assert store.read_original(outcome.sha256 or "") == b"not dicom at all"
    assert "truncated" not in files_entry(store, b"not dicom at all")["metadata"]


def test_a_rejected_dicom_object_is_still_kept_whole_without_pixel_data(store: Store) -> None:
    pipeline = Pipeline(store, max_bytes=64 << 20, not_patient_patterns=(), keep_not_dicom_bytes=100)
    data = image_without_dose()
    outcome = pipeline.ingest(data, name="image.dcm", via="cli", client="t")
    assert outcome.code == "not-a-dose-object"
    assert 100 < len(store.read_original(outcome.sha256 or "")) < len(data)


def test_a_bomb_keeps_its_first_deflated_bytes(store: Store) -> None:
    data = bomb(256 << 20)
    pipeline = Pipeline(store, max_bytes=1 << 20, not_patient_patterns=(), keep_not_dicom_bytes=65536)
    outcome = pipeline.ingest(data, name="bomb.dcm", via="cli", client="t")
    assert outcome.code == "too-large" and "Only its first 65536 bytes are kept" in outcome.message
    assert store.read_original(outcome.sha256 or "") == data[:65536]


def test_a_zip_of_zeros_costs_the_store_its_bound(runner: Runner, store: Store, tmp_path: Path) -> None:
    archive = zip_with(tmp_path / "zeros.zip", {f"{n}.dcm": ZEROS for n in range(10)})
    assert archive.stat().st_size < 200_000
    result = runner.invoke(["import", archive], DOSELEDGER_KEEP_NOT_DICOM_BYTES="65536")
    assert result.exit_code == 1 and "0 created, 0 merged, 0 duplicate, 10 rejected" in result.stdout
    lengths = [entry["length"] for entry in store.db["originals.files"].find()]
    assert lengths == [65536]  # ten identical members: one original, keyed by the SHA-256 of the whole
    names = [e["name"] for e in store.events_after(0, 100) if e["type"] == "rejected"]
    assert sorted(names) == [f"{archive}/{n}.dcm" for n in range(10)]


@pytest.mark.parametrize("raw", ["-1", "lots"])
def test_the_setting_is_checked(raw: str) -> None:
    with pytest.raises(ConfigurationError, match="DOSELEDGER_KEEP_NOT_DICOM_BYTES"):
        load_settings({"DOSELEDGER_KEEP_NOT_DICOM_BYTES": raw})
