"""Originals: the bytes of every object received, in a GridFS bucket keyed by their SHA-256.

The protocol: chunks first with no look-up, the ``files`` entry last (as the
GridFS spec orders it), so a file is never seen half written and concurrent
writers of the same bytes meet on the unique index (see
:meth:`OriginalStore.keep_original`). The key stays the hash of the bytes
received even when the bytes kept differ (pixel data and the patient's identity
removed), so a resend is recognised. Replacing kept bytes
(:meth:`OriginalStore.replace_original`, for ``doseledger scrub-originals``)
stages the new bytes first, so an interruption never loses an original; deleting
(:meth:`OriginalStore.delete_originals`) removes the ``files`` entry first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import gridfs
from pymongo import ASCENDING
from pymongo.database import Database
from pymongo.errors import BulkWriteError, DuplicateKeyError

from service.errors import NotFound
from service.storage.connection import Index, guarded, raise_unless_duplicates, translated, utcnow

ORIGINALS_BUCKET = "originals"
#: GridFS's default chunk size (255 KiB). keep_original writes the bucket's documents
#: itself: pymongo's uploader looks for an existing file with an unfiltered find_one on
#: every upload, which SecantusDB answers by reading the whole collection (O(n) per upload).
GRIDFS_CHUNK_SIZE = 255 * 1024
ORIGINALS_ORDER = [("uploadDate", ASCENDING), ("_id", ASCENDING)]
#: prefix of the ``files_id`` under which replace_original stages new bytes
STAGING = "staging:"

INDEXES: tuple[Index, ...] = (
    (f"{ORIGINALS_BUCKET}.files", ORIGINALS_ORDER, {}),
    # the GridFS spec's own indexes, made here because keep_original writes the bucket itself
    (f"{ORIGINALS_BUCKET}.files", [("filename", ASCENDING), ("uploadDate", ASCENDING)], {}),
    (f"{ORIGINALS_BUCKET}.chunks", [("files_id", ASCENDING), ("n", ASCENDING)], {"unique": True}),
    (f"{ORIGINALS_BUCKET}.files", [("metadata.study_instance_uid", ASCENDING)], {}),  # deleting a study
)


def _chunks(files_id: str, data: bytes) -> list[dict[str, Any]]:
    """Cut ``data`` into GridFS chunk documents of ``files_id``."""
    return [
        {"files_id": files_id, "n": n, "data": data[start : start + GRIDFS_CHUNK_SIZE]}
        for n, start in enumerate(range(0, max(len(data), 1), GRIDFS_CHUNK_SIZE))
    ]


@dataclass(frozen=True)
class Original:
    """One kept object as received (pixel data and, when ``scrubbed``, the patient's identity removed)."""

    sha256: str
    name: str
    via: str
    client: str
    received_at: datetime
    data: bytes
    #: the Study Instance UID read when it was kept (None: unreadable, or kept by an earlier version)
    study_instance_uid: str | None = None
    #: whether the patient-identifying attributes were removed (service.ingest.deidentify)
    scrubbed: bool = False


class OriginalStore:
    """The ``originals`` GridFS bucket of a :class:`service.storage.Store`."""

    db: Database[dict[str, Any]]

    def __init__(self) -> None:
        self._originals = gridfs.GridFSBucket(self.db, bucket_name=ORIGINALS_BUCKET)

    @guarded
    def keep_original(
        self,
        sha256: str,
        data: bytes,
        *,
        name: str,
        via: str,
        client: str,
        received_at: datetime,
        size: int,
        study_instance_uid: str | None = None,
        scrubbed: bool = False,
        truncated: bool = False,
    ) -> bool:
        """Store ``data`` under ``sha256`` in the GridFS bucket unless it is kept; tell whether it was new.

        ``size`` is the length of the bytes received, which differs from
        ``len(data)`` when pixel data was removed before keeping, or when only
        the first bytes of an object that is not DICOM are kept (``truncated``,
        noted in the metadata). The chunks go
        first, with no look-up before them: the unique index on (files_id, n)
        tells when the original is there already. The same SHA-256 means the
        same kept bytes, so the same chunks, whoever writes them: a writer that
        meets chunks already there makes sure the file is complete (the rest of
        a concurrent or interrupted write) and says it was not new.
        """
        metadata = {"name": name, "via": via, "client": client, "received_at": received_at, "size": size}
        metadata |= {"study_instance_uid": study_instance_uid, "scrubbed": scrubbed}
        if truncated:
            metadata["truncated"] = True
        chunks = _chunks(sha256, data)
        file = {"_id": sha256, "length": len(data), "chunkSize": GRIDFS_CHUNK_SIZE, "uploadDate": utcnow()}
        file |= {"filename": name, "metadata": metadata}
        try:
            self.db[f"{ORIGINALS_BUCKET}.chunks"].insert_many(chunks)  # ordered: stops at the first one there
        except BulkWriteError as e:
            raise_unless_duplicates(e)
            new = e.details["nInserted"] > 0  # this writer's first chunk went in: the original is its own
            if new or not self.has_original(sha256):
                self._complete_original(chunks, file)
            return new
        self._insert_original_file(file)
        return True

    def _complete_original(self, chunks: list[dict[str, Any]], file: dict[str, Any]) -> None:
        """Insert the chunks that are missing, then the files entry, if another writer has not."""
        try:
            self.db[f"{ORIGINALS_BUCKET}.chunks"].insert_many(chunks, ordered=False)
        except BulkWriteError as e:
            raise_unless_duplicates(e)
        self._insert_original_file(file)

    def _insert_original_file(self, file: dict[str, Any]) -> None:
        """Insert the files entry last, as the GridFS spec orders it: a file is never seen half written."""
        with contextlib.suppress(DuplicateKeyError):  # a concurrent writer of the same bytes finished first
            self.db[f"{ORIGINALS_BUCKET}.files"].insert_one(file)

    @guarded
    def has_original(self, sha256: str) -> bool:
        """Tell whether an original with this SHA-256 is kept."""
        return self.db[f"{ORIGINALS_BUCKET}.files"].find_one({"_id": sha256}, {"_id": 1}) is not None

    @guarded
    def read_original(self, sha256: str) -> bytes:
        """Return the kept bytes of ``sha256``; raise :class:`NotFound` if none are kept."""
        try:
            return self._originals.open_download_stream(sha256).read()
        except gridfs.errors.NoFile:
            raise NotFound(f"No original with SHA-256 {sha256} is kept.") from None

    @guarded
    def read_kept(self, sha256: str) -> Original:
        """Return one kept original with how it came; raise :class:`NotFound` if it is not kept."""
        try:
            return self._original(sha256)
        except gridfs.errors.NoFile:
            raise NotFound(f"No original with SHA-256 {sha256} is kept.") from None

    @guarded
    def kept_originals(self, sha256s: list[str]) -> set[str]:
        """Return which of these SHA-256s have their original kept."""
        if not sha256s:
            return set()
        found = self.db[f"{ORIGINALS_BUCKET}.files"].find({"_id": {"$in": sorted(set(sha256s))}}, {"_id": 1})
        return {entry["_id"] for entry in found}

    def _original(self, sha256: str) -> Original:
        """Read one kept original with its metadata."""
        grid_out = self._originals.open_download_stream(sha256)
        metadata = grid_out.metadata or {}
        return Original(
            sha256=sha256,
            name=metadata.get("name", grid_out.filename or ""),
            via=metadata.get("via", ""),
            client=metadata.get("client", ""),
            received_at=metadata.get("received_at", grid_out.upload_date),
            data=grid_out.read(),
            study_instance_uid=metadata.get("study_instance_uid"),
            scrubbed=bool(metadata.get("scrubbed")),
        )

    @guarded
    def count_originals(self) -> int:
        """Return the number of kept originals."""
        return self.db[f"{ORIGINALS_BUCKET}.files"].count_documents({})

    def iter_originals(self, batch: int = 200, *, unscrubbed_only: bool = False) -> Iterator[Original]:
        """Yield every kept original (or those whose identity is not removed), oldest first.

        Pages by (uploadDate, _id) instead of holding one cursor open, so a long
        reprocess never outlives a server-side cursor timeout.
        """
        files = self.db[f"{ORIGINALS_BUCKET}.files"]
        which = {"metadata.scrubbed": {"$ne": True}} if unscrubbed_only else {}
        after: dict[str, Any] = {}
        with translated():
            while True:
                query = {"$and": [which, after]} if which and after else which or after
                page = list(files.find(query, {"uploadDate": 1}).sort(ORIGINALS_ORDER).limit(batch))
                for entry in page:
                    yield self._original(entry["_id"])
                if len(page) < batch:
                    return
                last = page[-1]
                after = {
                    "$or": [
                        {"uploadDate": {"$gt": last["uploadDate"]}},
                        {"uploadDate": last["uploadDate"], "_id": {"$gt": last["_id"]}},
                    ]
                }

    @guarded
    def originals_of_study(self, study_instance_uid: str) -> list[str]:
        """Return the SHA-256 of every original kept with this Study Instance UID (rejected ones included)."""
        found = self.db[f"{ORIGINALS_BUCKET}.files"].find({"metadata.study_instance_uid": study_instance_uid})
        return [entry["_id"] for entry in found]

    @guarded
    def delete_originals(self, sha256s: Iterable[str]) -> int:
        """Delete kept originals, ``files`` entries first (none is ever seen half there); return how many went.

        Only a study's deletion (service.retention: by an admin, or past retention) and
        ``doseledger demo --remove`` delete originals; what a modality sent is otherwise kept.
        """
        ids = sorted(set(sha256s))
        if not ids:
            return 0
        deleted = self.db[f"{ORIGINALS_BUCKET}.files"].delete_many({"_id": {"$in": ids}}).deleted_count
        self.db[f"{ORIGINALS_BUCKET}.chunks"].delete_many({"files_id": {"$in": ids}})
        return deleted

    @guarded
    def replace_original(self, sha256: str, data: bytes, *, study_instance_uid: str | None, scrubbed: bool) -> None:
        """Replace the bytes kept under ``sha256`` (the key stays the hash of the bytes received).

        The new bytes are staged under ``staging:<sha256>`` and the files entry
        notes their length before the old chunks go, so an interruption leaves
        either the old original or a staged one that
        :meth:`finish_replacements` completes.
        """
        staging = f"{STAGING}{sha256}"
        chunks = self.db[f"{ORIGINALS_BUCKET}.chunks"]
        chunks.delete_many({"files_id": staging})
        chunks.insert_many(_chunks(staging, data))
        changes = {"metadata.staged_length": len(data), "metadata.study_instance_uid": study_instance_uid}
        self.db[f"{ORIGINALS_BUCKET}.files"].update_one({"_id": sha256}, {"$set": changes})
        self._swap_in_staged(sha256, len(data), scrubbed=scrubbed)

    def _swap_in_staged(self, sha256: str, length: int, *, scrubbed: bool) -> None:
        """Make the staged bytes of ``sha256`` its kept bytes, then drop the staging copy."""
        staging = f"{STAGING}{sha256}"
        chunks = self.db[f"{ORIGINALS_BUCKET}.chunks"]
        data = b"".join(chunk["data"] for chunk in chunks.find({"files_id": staging}).sort("n", ASCENDING))
        if len(data) != length:  # staging was cut short before the length was noted: the old bytes are whole
            raise RuntimeError(f"the staged bytes of original {sha256} are {len(data)} bytes, not {length}")
        chunks.delete_many({"files_id": sha256})
        chunks.insert_many(_chunks(sha256, data))
        update = {
            "$set": {"length": length, "metadata.scrubbed": scrubbed, "metadata.scrubbed_at": utcnow()},
            "$unset": {"metadata.staged_length": ""},
        }
        self.db[f"{ORIGINALS_BUCKET}.files"].update_one({"_id": sha256}, update)
        chunks.delete_many({"files_id": staging})

    @guarded
    def finish_replacements(self) -> int:
        """Complete the replacements an interruption left staged; return how many there were."""
        files = self.db[f"{ORIGINALS_BUCKET}.files"]
        pending = list(files.find({"metadata.staged_length": {"$exists": True}}, {"metadata.staged_length": 1}))
        for entry in pending:
            self._swap_in_staged(entry["_id"], entry["metadata"]["staged_length"], scrubbed=True)
        return len(pending)
