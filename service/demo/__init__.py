"""Demonstration studies for a first look at DoseLedger: added with one command, removed with one.

``doseledger demo`` (scripts/cli_demo.py) adds generated studies of every list
modality (:mod:`service.demo.studies` and :mod:`service.demo.projection`, built with
:mod:`service.demo.build` from :mod:`service.demo.catalogue`) and writes an example
CT dose report to import (:mod:`service.demo.rdsr`);
``doseledger demo --remove`` removes every study under the demonstration UID
root, the example's included, with the originals an import of it kept.

Decisions:

* Every demonstration patient is a test patient (``patient.not_patient_indicator``
  is :data:`MARK`): the lists show them marked "test", exports and audits leave
  them out unless ``test_patients`` asks for them (:mod:`schemas.query`), so they
  never mix with real patients' figures by default.
* They are recognised for removal by their Study Instance UID, under
  :data:`DEMO_ROOT` (a UUID-derived root no device uses), and a set not-patient
  indicator: removal never touches a study that is not marked as a test patient.
* Adding twice adds nothing: the studies there are counted and reported.
* Each study added or removed is an event-log entry (type ``demo``, outcome
  ``created`` or ``deleted``), so the log accounts for every study, as it does
  for imports. Removal is the one case where the service deletes studies and
  kept originals; the event log keeps the entries.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from service.demo.studies import COUNTS, DEMO_ROOT, MARK, demo_studies
from service.modalities import list_modalities
from service.storage import Store, event_entry, utcnow

__all__ = ["COUNTS", "DEMO_ROOT", "MARK", "add_demo", "demo_present", "remove_demo"]


def per_modality(documents: list[dict[str, Any]]) -> Counter[str]:
    """Count studies per list modality (a PET/CT study counts in CT and in NM)."""
    return Counter(key for doc in documents for key in list_modalities(doc.get("modalities") or []))


def demo_present(store: Store) -> list[dict[str, Any]]:
    """Return the demonstration studies in the store (marked as test patients, under :data:`DEMO_ROOT`)."""
    return [doc for doc in store.studies_under(DEMO_ROOT) if (doc.get("patient") or {}).get("not_patient_indicator")]


def add_demo(store: Store, *, now: datetime, client: str) -> list[dict[str, Any]]:
    """Add the demonstration studies (dated before ``now``, local time), each logged; return them."""
    documents = demo_studies(now, utcnow())
    store.insert_studies(documents)
    store.append_events([_entry(doc, "created", client) for doc in documents])
    return documents


def remove_demo(store: Store, *, client: str) -> list[dict[str, Any]]:
    """Remove every demonstration study and the originals its reports came from, each logged; return them."""
    removed = [doc for doc in demo_present(store) if store.delete_study(doc["study_instance_uid"]) is not None]
    kept = sorted({report["sha256"] for doc in removed for report in doc.get("reports", []) if "sha256" in report})
    store.delete_originals(kept)  # only an imported example has any
    store.append_events([_entry(doc, "deleted", client) for doc in removed])
    return removed


def _entry(document: dict[str, Any], outcome: str, client: str) -> dict[str, Any]:
    """Return the event-log entry of one demonstration study added or removed."""
    uid = document["study_instance_uid"]
    modalities = ", ".join(list_modalities(document.get("modalities") or []))
    station = (document.get("equipment") or {}).get("station_name")
    done = "created by `doseledger demo`" if outcome == "created" else "deleted by `doseledger demo --remove`"
    message = f"Demonstration study {uid} ({modalities}, {station}) {done}; not a patient."
    reports = document.get("reports") or [{}]
    return event_entry(
        "demo",
        via="cli",
        client=client,
        study_instance_uid=uid,
        sop_instance_uid=reports[0].get("sop_instance_uid"),
        outcome=outcome,
        message=message,
        details={"reports": [report.get("sop_instance_uid") for report in reports]},
    )
