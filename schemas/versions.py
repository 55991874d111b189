"""The study document's schema version, and the steps that upgrade older documents to it.

Every study document carries ``schema_version``. A change to the shape of
stored documents (a field renamed, a unit changed, a block split) raises
:data:`SCHEMA_VERSION` and adds the step from the version before to
:data:`STEPS`: a pure function of one document. Writes upgrade the study they
fold into (:func:`upgrade`, from ``service.ingest.merge``), and ``doseledger
migrate`` upgrades every older document at once (:mod:`service.migrate`),
so a deployment can be upgraded in place and the command run again at no cost.

Version history:

1. The first version carrying the field: documents written before it have the
   same shape and only gain ``schema_version``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: the version documents written by this code have
SCHEMA_VERSION = 1

Step = Callable[[dict[str, Any]], dict[str, Any]]


def _stamp_version_1(document: dict[str, Any]) -> dict[str, Any]:
    """Upgrade a document written before versioning: same shape, no version."""
    return dict(document)


#: version n -> the step that makes a document of version n one of version n + 1
STEPS: dict[int, Step] = {0: _stamp_version_1}


def version_of(document: dict[str, Any]) -> int:
    """Return a stored document's schema version (0: written before versions existed)."""
    version = document.get("schema_version", 0)
    return version if isinstance(version, int) and not isinstance(version, bool) else 0


def upgrade(document: dict[str, Any]) -> dict[str, Any]:
    """Return ``document`` upgraded to :data:`SCHEMA_VERSION` (itself when it is current; never changed in place).

    Raises ``ValueError`` for a document newer than this code, which an older
    release must not rewrite.
    """
    version = version_of(document)
    if version > SCHEMA_VERSION:
        raise ValueError(
            f"study {document.get('study_instance_uid')} has schema version {version}, newer than this "
            f"DoseLedger's {SCHEMA_VERSION}: upgrade DoseLedger rather than write it with an older release"
        )
    while version < SCHEMA_VERSION:
        document = {**STEPS[version](document), "schema_version": version + 1}
        version += 1
    return document
