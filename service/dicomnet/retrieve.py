"""Retrieve chosen objects: C-MOVE to DoseLedger's Storage SCP, or C-GET on the same association (PS3.4 C.4.2-C.4.3).

A retrieve asks for one series: the whole series (SERIES level) when every
instance the PACS listed is wanted, else the wanted instances (IMAGE level, a
list of SOP Instance UIDs). C-MOVE sends the objects to the SCP, which ingests
them as it ingests any C-STORE; C-GET sends them back on the association, where
:func:`get_contexts` has proposed the storage classes with the SCP role (PS3.7
D.3.3.4) and the caller's C-STORE handler ingests them. Either way each
object goes through :mod:`service.ingest` like every other arrival.

:func:`follow` reads the responses: the sub-operation counts (PS3.4
C.4.2.1.4), the final status and the Failed SOP Instance UID List. While
sub-operations are pending it asks ``should_stop`` and, when told to, sends
C-CANCEL (PS3.7 9.3.2.3) and lets the PACS finish with status Cancel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pydicom import uid
from pydicom.dataset import Dataset
from pynetdicom import build_role
from pynetdicom.association import Association
from pynetdicom.pdu_primitives import SCP_SCU_RoleSelectionNegotiation
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as FIND
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as GET
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove as MOVE

from service.dicomnet.association import Context, settle
from service.dicomnet.nodes import Node
from service.dicomnet.presentation import STORAGE_CLASSES, TRANSFER_SYNTAXES
from service.dicomnet.query import texts

PENDING = (0xFF00, 0xFF01)
CANCELLED = 0xFE00
SUCCESS = 0x0000
#: C-MOVE and C-GET statuses (PS3.4 C.4.2.1.5, C.4.3.1.4) as messages name them
STATUSES = {
    0x0000: "Success",
    0xB000: "Warning: sub-operations complete, one or more failures",
    0xFE00: "Cancel: sub-operations terminated",
    0xA701: "Refused: Out of Resources, unable to calculate number of matches",
    0xA702: "Refused: Out of Resources, unable to perform sub-operations",
    0xA801: "Refused: Move Destination unknown",
    0xA900: "Error: Identifier does not match SOP Class",
}

UNCOMPRESSED = (uid.ExplicitVRLittleEndian, uid.ImplicitVRLittleEndian, uid.DeflatedExplicitVRLittleEndian)
COMPRESSED = tuple(ts for ts in TRANSFER_SYNTAXES if ts not in (*UNCOMPRESSED, uid.ExplicitVRBigEndian))


@dataclass(frozen=True)
class Request:
    """One retrieve: a whole series, or some of its instances."""

    study_uid: str
    series_uid: str
    #: the instances asked for; empty: the whole series
    sop_uids: tuple[str, ...] = ()

    @property
    def level(self) -> str:
        """Return the Query/Retrieve Level of the request."""
        return "IMAGE" if self.sop_uids else "SERIES"

    def identifier(self) -> Dataset:
        """Return the C-MOVE/C-GET identifier: the unique keys down to the level (PS3.4 C.4.2.1.4.1)."""
        identifier = Dataset()
        identifier.QueryRetrieveLevel = self.level
        identifier.StudyInstanceUID = self.study_uid
        identifier.SeriesInstanceUID = self.series_uid
        if self.sop_uids:
            identifier.SOPInstanceUID = list(self.sop_uids)
        return identifier


@dataclass(frozen=True)
class Retrieved:
    """What the PACS said of a retrieve."""

    #: the final status; None when the PACS stopped answering (timeout, abort)
    status: int | None
    completed: int = 0
    failed: int = 0
    warning: int = 0
    failed_uids: tuple[str, ...] = ()

    @property
    def cancelled(self) -> bool:
        """Tell whether the PACS ended the retrieve on a C-CANCEL."""
        return self.status == CANCELLED

    def describe(self, node: Node) -> str:
        """Say what the PACS answered, for a run's report of a study."""
        if self.status is None:
            return f"{node.address} stopped answering the retrieve (timeout or abort)"
        meaning = STATUSES.get(self.status, "Failure: Unable to Process" if self.status >> 12 == 0xC else "Failure")
        return (
            f"{node.address} answered {self.status:#06x} ({meaning}): {self.completed} completed, "
            f"{self.failed} failed, {self.warning} with warnings"
        )


def get_contexts() -> list[Context]:
    """Return the contexts of a C-GET association: the query models, then every storage class twice.

    Uncompressed and compressed transfer syntaxes go in separate contexts, so the
    PACS finds one in which an object can travel as it is stored instead of
    transcoding it (PS3.4 C.4.3.1.3).
    """
    storage = [(sop_class, syntaxes) for sop_class in STORAGE_CLASSES for syntaxes in (UNCOMPRESSED, COMPRESSED)]
    return [(GET, ()), (FIND, ()), *storage]


def get_roles() -> list[SCP_SCU_RoleSelectionNegotiation]:
    """Return the role selections that let the PACS send storage sub-operations to DoseLedger (PS3.7 D.3.3.4)."""
    return [build_role(sop_class, scp_role=True) for sop_class in STORAGE_CLASSES]


def move_contexts() -> list[Context]:
    """Return the contexts of a C-MOVE association: the query models."""
    return [(MOVE, ()), (FIND, ())]


def follow(
    assoc: Association,
    responses: Iterable[tuple[Dataset, Dataset | None]],
    *,
    msg_id: int,
    model: str,
    should_stop: Callable[[], bool],
) -> Retrieved:
    """Read a retrieve's responses to the end, sending C-CANCEL once ``should_stop`` says so."""
    cancel_sent = False
    for status, identifier in responses:
        code = status.get("Status")
        if code is None:
            return Retrieved(None)
        if code in PENDING:
            if not cancel_sent and should_stop():
                assoc.send_c_cancel(msg_id, query_model=model)
                cancel_sent = True
            continue
        settle(assoc)
        return Retrieved(
            code,
            completed=int(status.get("NumberOfCompletedSuboperations") or 0),
            failed=int(status.get("NumberOfFailedSuboperations") or 0),
            warning=int(status.get("NumberOfWarningSuboperations") or 0),
            failed_uids=texts(identifier, "FailedSOPInstanceUIDList") if identifier is not None else (),
        )
    return Retrieved(None)


def move(
    assoc: Association, request: Request, destination: str, *, msg_id: int, should_stop: Callable[[], bool]
) -> Retrieved:
    """Ask the PACS to send ``request``'s objects to ``destination`` (C-MOVE) and follow it to the end."""
    responses = assoc.send_c_move(request.identifier(), destination, MOVE, msg_id=msg_id)
    return follow(assoc, responses, msg_id=msg_id, model=MOVE, should_stop=should_stop)


def get(assoc: Association, request: Request, *, msg_id: int, should_stop: Callable[[], bool]) -> Retrieved:
    """Ask the PACS to send ``request``'s objects back on this association (C-GET) and follow it to the end."""
    responses = assoc.send_c_get(request.identifier(), GET, msg_id=msg_id)
    return follow(assoc, responses, msg_id=msg_id, model=GET, should_stop=should_stop)
