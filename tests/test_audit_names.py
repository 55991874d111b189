"""Standard names in Python (service.audits.names) against the audits' own $lookup: the same matches."""

from __future__ import annotations

from typing import Any

import pytest

from schemas.query import StudyQuery
from service.audits import pipeline
from service.audits.names import StandardNames, raw_name_paths
from service.audits.run import run_audit
from service.export import start_export
from service.export.standard import StandardColumn
from service.ingest.document import save_fragment
from service.storage import Store
from tests import auditdata as data
from tests.auditdata import NOW

#: Mappings of some raw names of :func:`auditdata.filter_studies` and of the variants below, not of others.
MAPPINGS = [
    ("CT", "acquisition_protocol", "HEAD ROUTINE", "Head"),
    ("CT", "study_description", "CT HEAD", "Head"),
    ("CT", "study_description", "CHEST", "Chest"),
    ("RF", "acquisition_protocol", "HEAD angio", "Cerebral angio"),
    ("RF", "study_description", "Barium swallow", "Swallow"),
    ("DX", "acquisition_protocol", "Chest PA", "Chest"),
    ("DX", "acquisition_protocol", "HEAD ROUTINE", "not CT's"),  # another modality's mapping of a CT name
    ("MG", "image_view", "cranio-caudal", "CC"),
    ("NM", "radiopharmaceutical_agent", "Fluorodeoxyglucose", "FDG"),
]


def variants() -> list[dict[str, Any]]:
    """Return CT studies whose protocols and descriptions differ from mapped ones only in case or spaces."""
    when = data.datetime(2025, 3, 3, 9, 0)
    return [
        data.ct(
            [("Head Routine", 5.0), ("HEAD ROUTINE ", 6.0), (" HEAD ROUTINE", 7.0)], when=when, description="ct head"
        ),
        data.ct([("HEAD  ROUTINE", 8.0), ("head routine", 9.0)], when=when, description="CT HEAD "),
    ]


@pytest.fixture
def mapped(store: Store) -> Store:
    for fragment in [*data.filter_studies(), *variants()]:
        save_fragment(store, fragment, now=NOW)
    for modality, field, raw, standard in MAPPINGS:
        store.set_standard_name({"modality": modality, "field": field, "raw": raw, "standard": standard})
    return store


def test_raw_name_paths_are_those_the_audits_group_by() -> None:
    paths = raw_name_paths()
    assert {modality: tuple(fields) for modality, fields in paths.items()} == pipeline.name_fields()
    assert paths["CT"]["acquisition_protocol"] == "ct.events.acquisition_protocol"
    assert (
        paths["NM"]["radiopharmaceutical_agent"]
        == "radiopharmaceutical.administrations.radiopharmaceutical_agent.code_meaning"
    )


def test_standard_names_match_exactly_and_only_their_modality() -> None:
    names = StandardNames.of(
        "CT", [dict(zip(("modality", "field", "raw", "standard"), m, strict=True)) for m in MAPPINGS]
    )
    assert names.standard("acquisition_protocol", "HEAD ROUTINE") == "Head"
    for other in ("Head Routine", "HEAD ROUTINE ", " HEAD ROUTINE", "HEAD  ROUTINE", "head routine"):
        assert names.standard("acquisition_protocol", other) is None
    assert names.standard("study_description", "HEAD ROUTINE") is None  # mapped for another field
    assert names.standard("acquisition_protocol", "Chest PA") is None  # mapped for DX only
    assert names.standard("study_description", None) is None
    assert names.standard("study_description", 7) is None


def _pairs(store: Store, modality: str, field: str) -> dict[str, str | None]:
    """Return each raw name of ``field`` an export of ``modality`` shows, with the standard name beside it."""
    export = start_export(store, StudyQuery(modality=modality), "xlsx")
    shape, found, path = export.layout, {}, raw_name_paths()[modality][field]
    for flat in export:
        for columns, rows in ((shape.study_columns, [flat.cells]), (shape.event_columns, flat.events)):
            indices = [i for i, c in enumerate(columns) if isinstance(c, StandardColumn) and path.endswith(c.path)]
            found |= {row[i - 1]: row[i] for row in rows for i in indices if row[i - 1] is not None}
    return found


NAMED_AUDITS = sorted(name for name, audit in pipeline.audits().items() if "name_field" in audit.constants)


@pytest.mark.parametrize("audit", NAMED_AUDITS)
def test_exports_name_raw_names_as_the_audit_groups_them(mapped: Store, audit: str) -> None:
    constants = pipeline.audits()[audit].constants
    rows = run_audit(mapped, audit, {"names": "standard", "per_station": "no"}, alert_levels={}).rows
    grouped = {raw: row["name"] for row in rows for raw in row["raw_names"] if raw is not None}
    pairs = _pairs(mapped, constants["modality"], constants["name_field"])
    shown = {raw: standard for raw, standard in pairs.items() if raw in grouped}
    assert set(shown) == set(grouped)  # plus names of studies without the audit's value (no RF dose at RP)
    # unmapped: the audit keeps the raw name, the export leaves the standard cell empty
    assert {raw: standard or raw for raw, standard in shown.items()} == {raw: grouped[raw] for raw in shown}
    assert any(shown.values()) and not all(shown.values())  # some mapped, some not: the test can tell


def test_case_and_space_variants_stay_unmapped_in_audits_and_exports(mapped: Store) -> None:
    rows = run_audit(mapped, "ct_dlp_by_protocol", {"names": "standard", "per_station": "no"}, alert_levels={}).rows
    names = {row["name"]: row["raw_names"] for row in rows}
    assert names["Head"] == ["HEAD ROUTINE"]
    assert names["Head Routine"] == ["Head Routine"] and names["HEAD ROUTINE "] == ["HEAD ROUTINE "]
    pairs = _pairs(mapped, "CT", "acquisition_protocol")
    assert pairs["HEAD ROUTINE"] == "Head"
    assert [pairs[raw] for raw in ("Head Routine", "HEAD ROUTINE ", " HEAD ROUTINE", "HEAD  ROUTINE")] == [None] * 4
    descriptions = _pairs(mapped, "CT", "study_description")
    assert (descriptions["CT HEAD"], descriptions["CT HEAD "], descriptions["ct head"]) == ("Head", None, None)
