"""The Storage SCP's network behaviour, with storescu and echoscu as real clients.

``receive`` here records what the SCP hands to ingest and answers what the
test chooses, so statuses, concurrency and shutdown can be driven exactly;
tests/test_dicomnet_ingest.py runs the same server over the real pipeline.
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    SecondaryCaptureImageStorage,
    generate_uid,
)
from pynetdicom import AE
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_STORE

from service.dicomnet.acl import AllowList
from service.dicomnet.scp import MoveOrigin, StorageSCP
from service.errors import DatabaseUnavailable
from service.ingest.sources import Source
from tests import dcmtk


class Recorder:
    """A ``receive`` that keeps what it got and answers ``answer(name)``."""

    def __init__(self) -> None:
        self.received: dict[str, tuple[bytes, str]] = {}
        self.refusals: list[tuple[str, str]] = []
        self.answer: Callable[[str], str] = lambda name: "written"

    def receive(self, source: Source, client: str, move: MoveOrigin | None) -> str:
        self.received[source.name] = (source.read(), client)
        return self.answer(source.name)

    def refused(self, client: str, message: str) -> None:
        self.refusals.append((client, message))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def start_scp(recorder: Recorder) -> Iterator[Callable[..., StorageSCP]]:
    dcmtk.require("storescu")
    started: list[StorageSCP] = []

    def start(allow: AllowList | None = None) -> StorageSCP:
        scp = StorageSCP(
            recorder.receive, recorder.refused, ae_title="DOSELEDGER", host="127.0.0.1", port=0, allow=allow
        )
        scp.start()
        started.append(scp)
        return scp

    yield start
    for scp in started:
        scp.stop(grace=0)


def sop_instance_uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def test_the_data_set_reaches_ingest_as_sent_with_the_calling_ae_title_and_address(
    corpus: Path, start_scp: Callable[..., StorageSCP], recorder: Recorder
) -> None:
    path = corpus / "CT-RDSR-GEPixelMed.dcm"
    scp = start_scp()
    assert dcmtk.storescu(scp.port, [path], calling="CT_SCANNER") == {path.name: "Success"}
    data, client = recorder.received[sop_instance_uid(path)]
    assert client == "CT_SCANNER@127.0.0.1"
    received, sent = pydicom.dcmread(io.BytesIO(data)), pydicom.dcmread(path)
    assert received.file_meta.MediaStorageSOPInstanceUID == sent.SOPInstanceUID
    assert received == sent


def compressed_image(folder: Path) -> Path:
    """Write a CT image whose JPEG pixel data is deliberately not decodable: it must never be decoded."""
    ds = Dataset()
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored = "CT", 2, 2, 8, 8
    ds.HighBit, ds.SamplesPerPixel, ds.PixelRepresentation = 7, 1, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.PixelData = encapsulate([b"\xff\xd8 not really a JPEG \xff\xd9"])
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    path = folder / "compressed.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_compressed_image_is_accepted_in_its_own_transfer_syntax(
    tmp_path: Path, start_scp: Callable[..., StorageSCP], recorder: Recorder
) -> None:
    path = compressed_image(tmp_path)
    scp = start_scp()
    assert dcmtk.storescu(scp.port, [path], propose="--propose-jpeg8") == {path.name: "Success"}
    data, _ = recorder.received[sop_instance_uid(path)]
    received = pydicom.dcmread(io.BytesIO(data))
    assert received.file_meta.TransferSyntaxUID == JPEGBaseline8Bit
    assert received.PixelData == pydicom.dcmread(path).PixelData


def test_each_outcome_gets_its_status(corpus: Path, start_scp: Callable[..., StorageSCP], recorder: Recorder) -> None:
    paths = [corpus / name for name in ("CT-RDSR-GEPixelMed.dcm", "ESR_non-dose.dcm", "RF-RDSR-GE.dcm")]
    database_down, broken_code = (sop_instance_uid(path) for path in paths[:2])

    def answer(name: str) -> str:
        if name == database_down:
            raise DatabaseUnavailable("The database cannot be reached: test")
        if name == broken_code:
            raise KeyError("a bug")
        return "not-dicom"

    recorder.answer = answer
    scp = start_scp()
    assert dcmtk.storescu(scp.port, paths) == {
        "CT-RDSR-GEPixelMed.dcm": "Refused: OutOfResources",
        "ESR_non-dose.dcm": "Error: CannotUnderstand",
        "RF-RDSR-GE.dcm": "Error: CannotUnderstand",
    }


def test_c_echo_is_answered(start_scp: Callable[..., StorageSCP]) -> None:
    dcmtk.require("echoscu")
    done = dcmtk.echoscu(start_scp().port)
    assert done.returncode == 0
    assert "Received Echo Response (Success)" in done.stderr


@pytest.mark.parametrize(
    ("allow", "diagnostic"),
    [
        (AllowList.parse(["CT_SCANNER"], []), "Reason: Calling AE Title Not Recognized"),
        (AllowList.parse([], ["10.0.0.0/8"]), "Reason: No Reason"),
    ],
)
def test_a_peer_outside_the_allow_list_is_rejected_and_logged(
    corpus: Path, start_scp: Callable[..., StorageSCP], recorder: Recorder, allow: AllowList, diagnostic: str
) -> None:
    path = corpus / "CT-RDSR-GEPixelMed.dcm"
    scp = start_scp(allow)
    done = dcmtk.run_storescu(scp.port, [path])
    assert "Association Rejected" in done.stderr and diagnostic in done.stderr
    assert recorder.received == {}
    [(client, message)] = recorder.refusals
    assert client == "MODALITY@127.0.0.1"
    assert message.startswith("Association from MODALITY@127.0.0.1 refused")


def test_a_slow_sender_does_not_stall_another(
    corpus: Path, start_scp: Callable[..., StorageSCP], recorder: Recorder
) -> None:
    slow, quick = corpus / "CT-RDSR-GEPixelMed.dcm", corpus / "RF-RDSR-GE.dcm"
    release = threading.Event()
    recorder.answer = lambda name: "written" if release.wait(30) else "failed"
    scp = start_scp()
    slow_sender = dcmtk.start_storescu(scp.port, [slow])
    wait_until(lambda: sop_instance_uid(slow) in recorder.received)
    recorder.answer = lambda name: "written"
    assert dcmtk.storescu(scp.port, [quick]) == {quick.name: "Success"}
    assert slow_sender.poll() is None
    release.set()
    _, stderr = slow_sender.communicate(timeout=30)
    assert dcmtk.responses(stderr) == {slow.name: "Success"}


def test_shutdown_finishes_the_object_in_flight(
    corpus: Path, start_scp: Callable[..., StorageSCP], recorder: Recorder
) -> None:
    path = corpus / "CT-RDSR-GEPixelMed.dcm"
    finished = threading.Event()

    def slow_write(name: str) -> str:
        time.sleep(1.0)
        finished.set()
        return "written"

    recorder.answer = slow_write
    scp = start_scp()
    sender = dcmtk.start_storescu(scp.port, [path])
    wait_until(lambda: sop_instance_uid(path) in recorder.received)
    scp.stop(grace=0)
    assert finished.is_set()
    sender.communicate(timeout=30)
    refused = dcmtk.run_storescu(scp.port, [path])
    assert "Association Request Failed" in refused.stderr


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_no_spool_file_outlives_its_object(
    tmp_path: Path, start_scp: Callable[..., StorageSCP], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stored object's spool file goes once answered; one whose sender vanished mid-transfer, at the close."""
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))  # where pynetdicom spools received data sets
    scp = start_scp()
    whole = compressed_image(tmp_path)
    assert dcmtk.storescu(scp.port, [whole], propose="--propose-jpeg8") == {whole.name: "Success"}
    assert list(spool.iterdir()) == []

    ae = AE("CUT_SHORT")
    ae.add_requested_context(SecondaryCaptureImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", scp.port, ae_title="DOSELEDGER")
    assert assoc.is_established
    request = C_STORE()
    request.MessageID, request.Priority = 1, 2
    request.AffectedSOPClassUID, request.AffectedSOPInstanceUID = SecondaryCaptureImageStorage, generate_uid()
    request.DataSet = io.BytesIO(b"\x10\x00\x10\x00PN\x02\x00X " * 20_000)  # Patient Name, again and again
    message = C_STORE_RQ()
    message.primitive_to_message(request)
    fragments = list(message.encode_msg(assoc.accepted_contexts[0].context_id, 16_382))
    for fragment in fragments[:-2]:  # all but the end of the data set
        assoc.dul.send_pdu(fragment)
    wait_until(lambda: any(path.stat().st_size > 100_000 for path in spool.iterdir()))
    assoc.dul.socket.close()  # the sender vanishes
    wait_until(lambda: not list(spool.iterdir()))
    assert recorder.received.keys() == {sop_instance_uid(whole)}
