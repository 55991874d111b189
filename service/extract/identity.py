"""What DoseLedger keeps of a patient's identity in a kept original: its own private block.

Before an original is kept, ingest removes the patient's name, ID, birth date
and the other identifying attributes (service.ingest.deidentify). What the
study document derives from them is written first into a private block
(PS3.5 7.8) of creator ``DOSELEDGER 1`` in group 0011, so that extracting a
kept original again (``doseledger reprocess``) gives the document it gave on
arrival:

- ``key``: the patient key (service.access.patient_key), or null;
- ``not_patient_indicator``: what the not-patient patterns found in the name
  and ID, with the patterns configured when the object arrived;
- ``age_from_dates``: the age in years that birth date and study date give
  (unrounded), or null when they give none or an implausible one; extraction
  weighs it against the Patient's Age, which stays in the object, as it weighs
  the dates (service.extract.header.age_years).

The block is one OB element holding UTF-8 JSON: OB is read back as the same
bytes whatever the transfer syntax (an implicit VR file gives private values
back as UN bytes) and character set. Ingest removes any block of this creator
that an object arrives with, so a sender cannot choose a study's key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from pydicom.dataset import Dataset

PRIVATE_GROUP = 0x0011
PRIVATE_CREATOR = "DOSELEDGER 1"
#: the element offset, within the block, of the JSON value
IDENTITY_ELEMENT = 0x01


@dataclass(frozen=True)
class KeptIdentity:
    """What the study document takes from the identifying attributes that are removed."""

    key: str | None
    not_patient_indicator: str | None
    age_from_dates: float | None

    def encode(self) -> bytes:
        """Return the block's value: compact UTF-8 JSON."""
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True).encode("utf-8")


def has_block(ds: Dataset) -> bool:
    """Tell whether ``ds`` holds a DoseLedger private block."""
    try:
        ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR)
    except KeyError:
        return False
    return True


def read_identity(ds: Dataset) -> KeptIdentity | None:
    """Return the identity kept in ``ds``'s DoseLedger block, or None when it has none (or it is unreadable)."""
    try:
        block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR)
        raw = block[IDENTITY_ELEMENT].value
    except KeyError:
        return None
    try:
        found: dict[str, Any] = json.loads(bytes(raw).rstrip(b"\x00 ").decode("utf-8"))
        return KeptIdentity(
            key=_text(found.get("key")),
            not_patient_indicator=_text(found.get("not_patient_indicator")),
            age_from_dates=_number(found.get("age_from_dates")),
        )
    except (TypeError, ValueError, AttributeError):
        return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
