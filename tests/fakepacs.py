"""A small PACS for tests: pynetdicom's Query/Retrieve SCP over datasets built in the test.

Study Root C-FIND at the study, series and image levels (matching a Study Date
range, Modalities in Study, and the UIDs), C-MOVE to the destinations it knows,
and C-GET. Tests drive its failures: refuse callers it does not know, answer a
retrieve with a failure status, leave objects out of a retrieve, send slowly (and
stop when the requestor cancels), stall a C-FIND past the requestor's
timeout. It records every request.

Unlike Orthanc, pynetdicom's Move SCP names itself, not the requestor, as the
Move Originator of its C-STORE sub-operations (which DoseLedger allows for:
:class:`service.dicomnet.scp.MoveOrigin`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pydicom.dataset import Dataset
from pynetdicom import AE, DEFAULT_TRANSFER_SYNTAXES, evt
from pynetdicom.sop_class import (
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)
from pynetdicom.transport import ThreadedAssociationServer

#: attributes an answer carries at each level
ANSWERED = {
    "STUDY": ("StudyInstanceUID", "StudyDate", "StudyDescription", "AccessionNumber"),
    "SERIES": ("SeriesInstanceUID", "Modality", "SeriesDescription", "SeriesNumber", "StationName"),
    "IMAGE": ("SOPInstanceUID", "SOPClassUID", "InstanceNumber"),
}
#: how a retrieve names its objects at each level
RETRIEVE_KEYS = {"STUDY": "StudyInstanceUID", "SERIES": "SeriesInstanceUID", "IMAGE": "SOPInstanceUID"}


def _values(identifier: Dataset, keyword: str) -> list[str]:
    """Return the values a matching key asks for (a list of UIDs, or one value; none when empty)."""
    value = identifier.get(keyword)
    if value is None or value == "":
        return []
    return [str(v) for v in value] if not isinstance(value, str) and hasattr(value, "__iter__") else [str(value)]


def _in_range(value: str, wanted: str) -> bool:
    """Match a date against a DICOM date range (PS3.4 C.2.2.2.5)."""
    if "-" not in wanted:
        return value == wanted
    low, high = wanted.split("-")
    return bool(value) and (not low or value >= low) and (not high or value <= high)


class FakePacs:
    """A Query/Retrieve SCP holding ``datasets``, on a free port of 127.0.0.1."""

    def __init__(self, datasets: Sequence[Dataset], *, ae_title: str = "FAKEPACS") -> None:
        self.datasets = list(datasets)
        self.ae_title = ae_title
        #: C-MOVE destinations by AE title: (host, port)
        self.destinations: dict[str, tuple[str, int]] = {}
        #: every request: (service, identifier)
        self.requests: list[tuple[str, Dataset]] = []
        #: a failure status to answer a retrieve with, or None to send its objects
        self.failure: Callable[[Dataset], int | None] = lambda identifier: None
        #: SOP Instance UIDs left out of every retrieve (counted as failed sub-operations)
        self.withheld: set[str] = set()
        #: seconds between two objects of a retrieve (a slow PACS); a cancelled retrieve stops between them
        self.pace = 0.0
        #: Study Instance UIDs whose series-level C-FIND is answered only after ``slow_seconds``
        self.slow_studies: set[str] = set()
        self.slow_seconds = 0.0
        self.cancelled = threading.Event()
        self._server: ThreadedAssociationServer | None = None
        self.port = 0

    def start(self, *, callers: Sequence[str] = ()) -> int:
        """Start listening; with ``callers``, associations from other calling AE titles are rejected."""
        ae = AE(self.ae_title)
        ae.require_calling_aet = list(callers)
        for model in (Verification, StudyRootQueryRetrieveInformationModelFind):
            ae.add_supported_context(model)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelMove)
        ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
        for sop_class in sorted({str(ds.SOPClassUID) for ds in self.datasets}):
            ae.add_requested_context(sop_class, DEFAULT_TRANSFER_SYNTAXES)  # C-MOVE sub-operations
            ae.add_supported_context(sop_class, DEFAULT_TRANSFER_SYNTAXES, scu_role=False, scp_role=True)  # C-GET
        handlers = [(evt.EVT_C_FIND, self._on_find), (evt.EVT_C_MOVE, self._on_move), (evt.EVT_C_GET, self._on_get)]
        self._server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=handlers)
        self.port = int(self._server.server_address[1])
        return self.port

    def stop(self) -> None:
        """Stop listening and end open associations."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def retrieves(self, service: str) -> list[Dataset]:
        """Return the identifiers of the C-MOVEs (``move``) or C-GETs (``get``) received."""
        return [identifier for kind, identifier in self.requests if kind == service]

    # -- C-FIND ------------------------------------------------------------------------

    def _on_find(self, event: evt.Event) -> Iterator[tuple[int, Dataset | None]]:
        identifier = event.identifier
        self.requests.append(("find", identifier))
        level = str(identifier.QueryRetrieveLevel)
        if level == "SERIES" and str(identifier.StudyInstanceUID) in self.slow_studies:
            time.sleep(self.slow_seconds)
        for answer in self._answers(level, identifier):
            yield 0xFF00, answer

    def _answers(self, level: str, identifier: Dataset) -> list[Dataset]:
        """Return the answers at ``level``: one per study, series or instance that matches."""
        matching = [ds for ds in self.datasets if self._matches(ds, identifier)]
        unique = RETRIEVE_KEYS[level]
        answers: dict[str, Dataset] = {}
        modalities: dict[str, set[str]] = {}
        for ds in matching:
            key = str(ds[unique].value)
            answers.setdefault(key, self._answer(level, ds))
            modalities.setdefault(key, set()).add(str(ds.Modality))
        wanted = set(_values(identifier, "ModalitiesInStudy"))
        if level != "STUDY":
            return list(answers.values())
        for key, answer in answers.items():
            answer.ModalitiesInStudy = sorted(modalities[key])
        return [answer for key, answer in answers.items() if not wanted or wanted & modalities[key]]

    @staticmethod
    def _answer(level: str, ds: Dataset) -> Dataset:
        answer = Dataset()
        answer.QueryRetrieveLevel = level
        answer.StudyInstanceUID = ds.StudyInstanceUID
        for keyword in ANSWERED[level]:
            setattr(answer, keyword, ds.get(keyword, ""))
        return answer

    @staticmethod
    def _matches(ds: Dataset, identifier: Dataset) -> bool:
        """Tell whether ``ds`` matches the identifier's UIDs and Study Date."""
        for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
            wanted = _values(identifier, keyword)
            if wanted and str(ds.get(keyword, "")) not in wanted:
                return False
        dates = _values(identifier, "StudyDate")
        return not dates or _in_range(str(ds.get("StudyDate", "")), dates[0])

    # -- C-MOVE and C-GET --------------------------------------------------------------

    def _on_move(self, event: evt.Event) -> Iterator[Any]:
        identifier = event.identifier
        self.requests.append(("move", identifier))
        destination = self.destinations.get(str(event.move_destination).strip())
        if destination is None:
            yield None, None
            return
        yield destination
        yield from self._send(event, identifier)

    def _on_get(self, event: evt.Event) -> Iterator[Any]:
        identifier = event.identifier
        self.requests.append(("get", identifier))
        yield from self._send(event, identifier)

    def _send(self, event: evt.Event, identifier: Dataset) -> Iterator[Any]:
        """Yield the number of sub-operations, then each object (or a failure status, or Cancel)."""
        datasets = [ds for ds in self.datasets if self._matches(ds, identifier)]
        failure = self.failure(identifier)
        if failure is not None:
            yield 1
            yield failure, None
            return
        yield len(datasets)
        for number, ds in enumerate(datasets):
            if number and self.pace:
                time.sleep(self.pace)
            if event.is_cancelled:
                self.cancelled.set()
                yield 0xFE00, None
                return
            if str(ds.SOPInstanceUID) in self.withheld:
                yield 0xA702, None  # this sub-operation failed; pynetdicom ends the retrieve here
                return
            yield 0xFF00, ds
