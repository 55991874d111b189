"""Remote DICOM nodes (PACS) that DoseLedger queries and retrieves from: what identifies one, and its checks.

A node is stored by :mod:`service.storage.pacs` and managed by an administrator
(``doseledger pacs add``, ``POST /api/pacs``). ``retrieve`` says how its objects
come back: ``move`` (C-MOVE: the PACS opens an association of its own to
``move_destination``, the AE title under which it knows DoseLedger's Storage
SCP) or ``get`` (C-GET: the PACS sends them back on DoseLedger's own
association, so it needs no route to DoseLedger; PS3.4 C.4.2, C.4.3).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

#: how a node's objects are retrieved: C-MOVE to DoseLedger's SCP, or C-GET on the same association
RETRIEVE_METHODS = ("move", "get")


def is_ae_title(value: str) -> bool:
    """Tell whether ``value`` is an AE title: 1-16 printable ASCII characters, no backslash (PS3.5 6.2, AE)."""
    return 0 < len(value) <= 16 and value.isascii() and value.isprintable() and "\\" not in value


@dataclass(frozen=True)
class Node:
    """A remote DICOM node: its name in DoseLedger, its AE title and address, and how to retrieve from it."""

    name: str
    ae_title: str
    host: str
    port: int
    retrieve: str = "move"
    #: the AE title the PACS knows DoseLedger's Storage SCP by; None: DoseLedger's own AE title
    move_destination: str | None = None

    @property
    def client(self) -> str:
        """Return the event log's ``client`` for objects this node sends back: ``AE_TITLE@host``."""
        return f"{self.ae_title}@{self.host}"

    @property
    def address(self) -> str:
        """Return the node as messages name it: ``NAME (AE_TITLE@host:port)``."""
        return f"{self.name} ({self.ae_title}@{self.host}:{self.port})"

    def destination(self, own_ae_title: str) -> str:
        """Return the C-MOVE destination: the configured one, else DoseLedger's own AE title."""
        return self.move_destination or own_ae_title

    def as_document(self) -> dict[str, Any]:
        """Return the node as stored and as the API shows it."""
        return asdict(self)

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Node:
        """Build a node from its stored document (extra fields such as ``_id`` are ignored)."""
        return cls(**{name: document.get(name) for name in cls.__dataclass_fields__ if name in document})
