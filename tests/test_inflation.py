"""Deflated data sets inflate in one bounded step: a decompression bomb is refused at the limit, every way in.

The bombs here inflate to 64 MiB against a limit of 1 MiB: before inflation was
bounded, pydicom inflated all 64 MiB (and a 1 GB bomb took 2 GB of memory);
now inflation stops just past the limit, so the peak of traced memory stays a
few megabytes.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from flask import Flask
from pynetdicom import AE

from service import create_app
from service.config import load_settings
from service.dicomnet.scp import StorageSCP
from service.dicomnet.status import STORE_STATUS
from service.errors import NotDicom, TooLarge
from service.ingest.dicomfile import bytes_to_keep, read_dataset
from service.ingest.pipeline import Pipeline
from service.storage import Store
from service.web.context import close_store
from tests.conftest import Runner
from tests.hostile import bomb, zip_with
from tests.samples import ct_report
from tests.signin import signed_in_client

LIMIT = 1 << 20
INFLATED = 64 << 20
#: what a refused bomb may cost in traced memory: the limit, copies of it, the deflated bytes
PEAK = 6 * LIMIT
T = TypeVar("T")


@pytest.fixture(scope="module")
def bomb_bytes() -> bytes:
    return bomb(INFLATED)


def peak_of(work: Callable[[], T]) -> tuple[T, int]:
    """Run ``work`` and return its result and the peak of memory traced meanwhile."""
    tracemalloc.start()
    try:
        return work(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_deflated_report_is_read_as_received() -> None:
    ds = read_dataset(bomb(0), "deflated.dcm")
    assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1.99"
    assert read_dataset(bytes_to_keep(ds) or b"", "kept.dcm").SOPInstanceUID == ds.SOPInstanceUID


def test_a_bomb_stops_inflating_at_the_limit(bomb_bytes: bytes) -> None:
    def read() -> None:
        with pytest.raises(TooLarge, match=r"bomb\.dcm is \d+ bytes deflated but inflates to more than .* 1048576"):
            read_dataset(bomb_bytes, "bomb.dcm", max_bytes=LIMIT)

    _, peak = peak_of(read)
    assert peak < PEAK


@pytest.mark.parametrize(
    ("cut", "message"), [(0.5, r"cut\.dcm is truncated: its deflated data set"), (None, r"cut\.dcm is corrupt")]
)
def test_a_damaged_deflated_stream_is_not_dicom(cut: float | None, message: str) -> None:
    data = bomb(100_000)
    if cut is None:
        start = data.index(b"DICM") + 200
        data = data[:start] + bytes(b ^ 0x5A for b in data[start : start + 64]) + data[start + 64 :]
    else:
        data = data[: int(len(data) * cut)]
    with pytest.raises(NotDicom, match=message):
        read_dataset(data, "cut.dcm")


@pytest.fixture
def small_app(test_config: dict[str, Any]) -> Iterator[Flask]:
    app = create_app({**test_config, "DOSELEDGER_MAX_UPLOAD_BYTES": LIMIT})
    yield app
    close_store(app)


def test_http_answers_413_and_logs_it(small_app: Flask, bomb_bytes: bytes) -> None:
    client = signed_in_client(small_app)
    headers = {"Content-Type": "application/dicom", "X-Filename": "bomb.dcm"}
    response, peak = peak_of(lambda: client.post("/api/imports", data=bomb_bytes, headers=headers))
    assert response.status_code == 413
    assert response.json["code"] == "too-large" and "inflates to more than" in response.json["message"]
    assert peak < PEAK + len(bomb_bytes) * 4
    with small_app.app_context():
        from service.web.context import get_store

        store = get_store()
        rejected = [e for e in store.events_after(0, 100) if e["type"] == "rejected"]
        assert [(e["name"], e["code"]) for e in rejected] == [("bomb.dcm", "too-large")]
        assert store.has_original(rejected[0]["sha256"])  # the deflated bytes, as received


def test_cli_import_of_a_bomb_and_of_a_zip_holding_one(
    runner: Runner, store: Store, tmp_path: Path, bomb_bytes: bytes
) -> None:
    (tmp_path / "bomb.dcm").write_bytes(bomb_bytes)
    archive = zip_with(tmp_path / "batch.zip", {"a-bomb.dcm": bomb_bytes, "b-good.dcm": bomb(0)})
    result = runner.invoke(["import", tmp_path / "bomb.dcm", archive], DOSELEDGER_MAX_UPLOAD_BYTES=str(LIMIT))
    assert result.exit_code == 1
    assert "1 created, 0 merged, 0 duplicate, 2 rejected" in result.stdout
    assert result.stdout.count("inflates to more than the limit of 1048576 bytes") == 2
    assert f"{archive}/a-bomb.dcm" in result.stdout


def test_c_store_of_a_bomb_is_refused_too_large(store: Store, tmp_path: Path, bomb_bytes: bytes) -> None:
    pipeline = Pipeline(store, max_bytes=LIMIT, not_patient_patterns=())
    scp = StorageSCP.for_pipeline(pipeline, load_settings({"DOSELEDGER_SCP_HOST": "127.0.0.1"}), port=0)
    scp.start()
    try:
        path = tmp_path / "bomb.dcm"
        path.write_bytes(bomb_bytes)
        ae = AE("MODALITY")
        ae.add_requested_context(ct_report().SOPClassUID, "1.2.840.10008.1.2.1.99")
        assoc = ae.associate("127.0.0.1", scp.port, ae_title="DOSELEDGER")
        assert assoc.is_established
        status = assoc.send_c_store(path)
        assoc.release()
    finally:
        scp.stop(grace=0)
    assert status.Status == STORE_STATUS["too-large"]
    assert [e["code"] for e in store.events_after(0, 100) if e["type"] == "rejected"] == ["too-large"]
