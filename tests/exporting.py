"""Helpers for export tests: corpus studies as documents, and reading exports back."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pydicom

from service.export.core import Export
from service.export.layout import layout
from service.extract import extract
from service.ingest.document import stamp, study_document

NOW = datetime(2026, 1, 1)


def ct_files(corpus: Path) -> list[Path]:
    """Return the corpus files that hold CT dose: CT reports and images, and the PET/CT's CT report."""
    return [*sorted(corpus.glob("CT-*.dcm")), corpus / "NM-CT-RDSR-Siemens.dcm"]


def studies(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Merge the reports at ``paths`` into study documents, as the store does."""
    found: dict[str, dict[str, Any]] = {}
    for path in paths:
        fragment = extract(pydicom.dcmread(path))
        fragment = stamp(fragment, sha256=path.name, received_at=NOW, via="cli")
        uid = fragment["study_instance_uid"]
        found[uid] = study_document(found.get(uid), fragment, now=NOW).document
    return list(found.values())


def export_of(modality: str, docs: list[dict[str, Any]]) -> Export:
    """Return an export of ``docs`` with the most events in one study, as the database gives it."""
    shape = layout(modality)
    most = max((len(shape.events(doc)) for doc in docs), default=0)
    return Export(shape, docs, {"modality": modality}, most)


def hand_built(**equipment: Any) -> dict[str, Any]:
    """Return a small CT study document whose every value is known."""
    events = [
        {"irradiation_event_uid": f"1.2.3.{n}", "acquisition_protocol": protocol, "dlp": dlp,
         "mean_ctdivol": 5.0, "date_time_started": datetime(2024, 5, 6, 7, 8, n),
         "sources": [{"kvp": 120.0, "xray_tube_current": 200.0}]}
        for n, (protocol, dlp) in enumerate([("Head", 100.0), ("Head", 150.5), ("Head", 20.0), ("Neck", 7.0)])
    ]  # fmt: skip
    return {
        "study_instance_uid": "1.2.3", "modalities": ["CT"], "study_date_time": datetime(2024, 5, 6, 7, 0),
        "study_description": "@SUM(A1)", "requested_procedure_description": "+1-2",
        "patient": {"sex": "F", "age_years": 67.5, "not_patient_indicator": "Phantom"},
        "equipment": {"manufacturer": "-ACME", "station_name": "=HYPERLINK(\"http://x\")", **equipment},
        "summary": {"number_of_events": 4, "total_dlp": 277.5, "max_ctdivol": 5.0},
        "ct": {"events": events, "accumulated": {"ct_dose_length_product_total": 277.5}},
    }  # fmt: skip


def read_csv(text: str) -> list[dict[str, str]]:
    """Read CSV export text (with its byte order mark) into dicts by header."""
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def read_sheets(data: bytes) -> dict[str, list[dict[str, Any]]]:
    """Read every sheet after Summary into dicts by header; Summary as plain rows under key 'Summary'."""
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    sheets: dict[str, list[dict[str, Any]]] = {}
    for sheet in book.worksheets:
        rows = [list(row) for row in sheet.iter_rows(values_only=True)]
        if sheet.title == "Summary":
            sheets["Summary"] = [dict(enumerate(row)) for row in rows]
        else:
            sheets[sheet.title] = [dict(zip(rows[0], row, strict=False)) for row in rows[1:]]
    book.close()
    return sheets


def summary_facts(summary: list[Mapping[int, Any]]) -> dict[str, Any]:
    """Return the label/value pairs at the top of a Summary sheet."""
    facts = {}
    for row in summary:
        if not row or row.get(0) is None:
            break
        facts[row[0]] = row.get(1)
    return facts


def sheet_xml(data: bytes) -> bytes:
    """Return the XML of every worksheet of an XLSX file, to look for what openpyxl hides (formulas)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return b"".join(archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/"))
