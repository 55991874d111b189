"""Helpers for export tests: corpus studies as documents, and reading exports back."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pydicom

from service.export.core import Export
from service.export.layout import layout
from service.extract import extract
from service.merge import merge

NOW = datetime(2026, 1, 1)


def ct_files(corpus: Path) -> list[Path]:
    """Return the corpus files that hold CT dose: CT reports and images, and the PET/CT's CT report."""
    return [*sorted(corpus.glob("CT-*.dcm")), corpus / "NM-CT-RDSR-Siemens.dcm"]


def studies(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Merge the reports at ``paths`` into study documents, as the store does."""
    found: dict[str, dict[str, Any]] = {}
    for path in paths:
        fragment = extract(pydicom.dcmread(path))
        fragment["report"].update(sha256=path.name, received_at=NOW, via="cli")
        uid = fragment["study_instance_uid"]
        found[uid] = merge(found.get(uid), fragment, now=NOW).document
    return list(found.values())


def export_of(modality: str, docs: list[dict[str, Any]]) -> Export:
    """Return an export of ``docs`` with the most events in one study, as the database gives it."""
    shape = layout(modality)
    most = max((len(shape.events(doc)) for doc in docs), default=0)
    return Export(shape, docs, {"modality": modality}, most)


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
