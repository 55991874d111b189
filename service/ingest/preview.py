"""``doseledger extract``: the study documents files would make, built without a database.

Each file goes through what ingest does to an object before it is stored:
strict reading, removal of the patient's identity (which puts the patient key
and the not-patient indicator in DoseLedger's private block), extraction,
merging (files of one study make one document) and validation. The patient key
is computed with the configured secret (``DOSELEDGER_PATIENT_KEY_SECRET`` or
the secret file) when there is one, so the output matches what an import
stores; without one it is left out, and no secret is generated, since the
command touches no database whose fingerprint it could be checked against. A
file that already carries DoseLedger's block (a kept original) is read as
reprocessing reads it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from service.access.patient_key import PatientKeys, read_secret
from service.config import Settings
from service.errors import RejectedObject
from service.extract import extract
from service.ingest.deidentify import prepare
from service.ingest.dicomfile import read_dataset
from service.ingest.document import stamp, study_document
from service.storage import utcnow


def preview(paths: Iterable[Path | str], settings: Settings) -> tuple[list[dict[str, Any]], list[str]]:
    """Return the study documents built from the files, and a message per file that could not be used."""
    secret = read_secret(settings)
    keys = PatientKeys(secret) if secret else None
    documents: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for path in paths:
        try:
            data = Path(path).read_bytes()
            ds = read_dataset(data, str(path), max_bytes=settings.max_upload_bytes)
            prepare(ds, keys, settings.not_patient_patterns, kept=True)
            fragment = extract(ds, not_patient_patterns=settings.not_patient_patterns)
            now = utcnow()
            fragment = stamp(fragment, sha256=hashlib.sha256(data).hexdigest(), received_at=now, via="cli")
            uid = fragment["study_instance_uid"]
            documents[uid] = study_document(documents.get(uid), fragment, now=now).document
        except (OSError, RejectedObject) as e:
            problems.append(str(e))
    return list(documents.values()), problems
