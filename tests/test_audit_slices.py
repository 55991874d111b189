"""Audits and their reads run in slices: the same rows as the whole pipeline, every audit and parameter.

The whole pipeline (what ``mongosh`` runs) is the reference: ``run_audit``
reads in date windows and batches of studies and finishes the statistics over
merged groups, and must give exactly its rows. Slices are made tiny here so
that every group spreads over many windows, batches and ``$documents``
operations.
"""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from typing import Any

import pytest

from schemas.query import parse_study_query
from service.audits import pipeline, sliced
from service.audits.run import run_audit
from service.errors import DatabaseTimeout
from service.ingest.document import save_fragment
from service.reading import slices
from service.reading.filters import study_filter
from service.storage import Store
from tests import auditdata

NOW = datetime(2026, 1, 1)
LEVELS = {"fluoroscopy": {"modalities": ["RF", "XA"], "levels": {"total_dap": 2e-4, "total_rp_dose": 0.5}}}
STATISTICS = [audit.name for audit in pipeline.audits().values() if audit.parameters]
PROTOCOLS = ("HEAD ROUTINE", "Routine Head", "CHEST", "Chest", "Abdomen")
#: views and radiopharmaceuticals: one code with two meanings, in SNOMED RT and CT, two codes with one meaning, text
VIEWS = (
    "cranio-caudal",
    "medio-lateral oblique",
    auditdata.coded("399162004", "SCT", "Cranio-caudal"),
    auditdata.coded("R-10242", "SRT", "cranio-caudal"),
    auditdata.coded("399162004", "SCT", "cranio-caudal"),
    auditdata.coded("CC", "99LOCAL", "Cranio-caudal"),
)
AGENTS = ("Tc99m MDP", "F18 FDG", auditdata.coded("35321007", "SCT", "F18 FDG"),
          auditdata.coded("C-B1031", "SRT", "Fluorodeoxyglucose F^18^"), None)  # fmt: skip


def _studies(rng: random.Random) -> list[dict[str, Any]]:
    """Return 240 studies of every modality over three years (some on one day, some undated)."""
    found = []
    for n in range(240):
        when = None if n % 40 == 0 else NOW - timedelta(days=rng.choice([rng.uniform(0, 1100), 17.5]))
        common = {"when": when, "station": rng.choice(["CT-NORTH", "CT-SOUTH", "ROOM 3"]),
                  "description": rng.choice(["CT HEAD", "Head CT", "CHEST"])}  # fmt: skip
        kind = n % 5
        if kind == 0:
            protocols = [(rng.choice(PROTOCOLS), round(rng.uniform(5, 900), 3)) for _ in range(rng.randint(1, 6))]
            found.append(auditdata.ct(protocols, **common))
        elif kind == 1:
            found.append(auditdata.fluoro(rng.uniform(1e-4, 3e-2), rng.uniform(0.01, 3), rng.uniform(5, 900),
                                          rng.sample(PROTOCOLS, 2), **common))  # fmt: skip
        elif kind == 2:
            found.append(auditdata.radiography([(rng.choice(PROTOCOLS), rng.uniform(1e-6, 5e-4))], **common))
        elif kind == 3:
            exposures = [(rng.choice(VIEWS), rng.choice([31.0, 45.5, 60.0]), rng.uniform(0.5, 3), "L") for _ in "ab"]
            found.append(auditdata.mammography(exposures, **common))
        else:
            agent = rng.choice(AGENTS)
            found.append(auditdata.nuclear(agent, rng.uniform(100, 900), text=None if agent else "FDG", **common))
    return found


@pytest.fixture(scope="module")
def mixed(mongo_uri: str) -> Any:
    """A store of its own holding :func:`_studies`, standard names joining raw names, and reference levels."""
    store = Store.connect(mongo_uri, f"doseledger_slices_{random.randrange(10**9)}")
    store.ensure_indexes()
    for fragment in _studies(random.Random(20)):
        save_fragment(store, fragment, now=NOW)
    for raw, standard in (("HEAD ROUTINE", "Head"), ("Routine Head", "Head"), ("CHEST", "Chest")):
        store.set_standard_name({"modality": "CT", "field": "acquisition_protocol", "raw": raw, "standard": standard})
    store.set_standard_name({"modality": "RF", "field": "acquisition_protocol", "raw": "Chest", "standard": "Thorax"})
    store.set_standard_name({"modality": "MG", "field": "image_view", "raw": "cranio-caudal", "standard": "CC"})
    for raw in ("F18 FDG", "FDG"):  # a meaning and a text
        store.set_standard_name({"modality": "NM", "field": "radiopharmaceutical_agent", "raw": raw, "standard": "FDG"})
    levels = [("Head", "dlp", 300.0), ("Chest", "dlp", 100.0), ("Head", "ctdivol", 30.0), ("Thorax", "dap", 5000.0)]
    store.replace_reference_levels([{"name": n, "quantity": q, "value": v, "unit": "x"} for n, q, v in levels])
    yield store
    store.client.drop_database(store.db.name)
    store.close()


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every slice tiny: windows of a few studies, batches of a few studies, a few values per $documents."""
    monkeypatch.setattr(slices, "FIRST_SPAN", timedelta(hours=5))
    monkeypatch.setattr(slices, "WINDOW_KEYS", 15)
    monkeypatch.setattr(slices, "BATCH_STUDIES", 7)
    monkeypatch.setattr(slices, "BATCH_WEIGHT", 20)
    monkeypatch.setattr(sliced, "VALUES_PER_OPERATION", 40)


def whole(store: Store, name: str, args: dict[str, str]) -> list[dict[str, Any]]:
    """Return the rows of the whole pipeline, in one aggregation (as mongosh runs it)."""
    audit = pipeline.audits()[name]
    choices = {key: args[key] for key in audit.parameters if key in args}
    query = parse_study_query({key: value for key, value in args.items() if key not in audit.parameters}).for_reports()
    stages = pipeline.instantiate(audit, choices, match=study_filter(query), alert_match=pipeline.alert_match(LEVELS))
    return store.aggregate(stages)


CHOICES = [dict(zip(("names", "per_station", "interval"), values, strict=True))
           for values in itertools.product(("raw", "standard"), ("yes", "no"), ("all", "month"))]  # fmt: skip


#: every parameter combination for three audits (one with bands, two grouped by a code); three for the rest
SOME_CHOICES = [CHOICES[0], CHOICES[4], CHOICES[7]]
EVERY_CHOICE = ("ct_dlp_by_protocol", "mg_agd_by_thickness", "nm_activity_by_agent")


@pytest.mark.parametrize("name", STATISTICS)
def test_every_statistics_audit_gives_the_whole_pipelines_rows(mixed: Store, tiny: None, name: str) -> None:
    every = []
    for choices in CHOICES if name in EVERY_CHOICE else SOME_CHOICES:
        sliced_rows = run_audit(mixed, name, choices, alert_levels=LEVELS, now=NOW).rows
        reference = whole(mixed, name, choices)
        assert sliced_rows == reference, choices
        assert [list(row) for row in sliced_rows] == [list(row) for row in reference]  # the columns' order too
        every += reference
    assert reference and any(row["count"] > 3 for row in reference)
    if name in EVERY_CHOICE[1:]:  # a code's meanings joined in one row; rows of one name told apart by their code
        assert any(len(row["raw_names"]) > 1 for row in every if row["code"])
        assert any(row["name"] == other["name"] and row["code"] != other["code"] for row in every for other in every)


@pytest.mark.parametrize(
    "filters",
    [
        {"date_from": "2024-03-01"},
        {"date_to": "2025-06-30"},
        {"date_from": "2025-12-14", "date_to": "2025-12-14"},  # the day many studies share
        {"station_name": "north", "modality": "CT"},
        {"date_from": "2030-01-01"},  # nothing
    ],
)
def test_filters_select_the_same_studies_sliced(mixed: Store, tiny: None, filters: dict[str, str]) -> None:
    for name in ("ct_dlp_by_protocol", "rf_dap_by_study_description", "workload", "high_dose_alerts"):
        args = {**filters, "names": "standard"} if name in STATISTICS else filters
        assert run_audit(mixed, name, args, alert_levels=LEVELS, now=NOW).rows == whole(mixed, name, args), name


def test_workload_and_alerts_give_the_whole_pipelines_rows(mixed: Store, tiny: None) -> None:
    for name in ("workload", "high_dose_alerts"):
        rows = run_audit(mixed, name, {}, alert_levels=LEVELS, now=NOW).rows
        assert rows == whole(mixed, name, {}) and rows, name


def test_alerts_keep_the_newest_thousand_in_order(mixed: Store, tiny: None, monkeypatch: pytest.MonkeyPatch) -> None:
    low = {"fluoroscopy": {"modalities": ["RF", "XA"], "levels": {"total_dap": 0.0}}}
    monkeypatch.setitem(pipeline.common()["templates"]["alerts"][3], "$limit", 17)
    rows = run_audit(mixed, "high_dose_alerts", {}, alert_levels=low, now=NOW).rows
    audit = pipeline.audits()["high_dose_alerts"]
    reference = mixed.aggregate(pipeline.instantiate(audit, {}, match={}, alert_match=pipeline.alert_match(low)))
    assert rows == reference and len(rows) == 17


def test_no_database_operation_of_an_audit_reads_many_studies(mixed: Store, tiny: None,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Each per-study aggregation reads at most BATCH_STUDIES studies, by their _id."""
    batches: list[int] = []
    aggregate = mixed.aggregate

    def counted(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        batches.append(len(stages[0]["$match"]["_id"]["$in"]))
        return aggregate(stages)

    monkeypatch.setattr(mixed, "aggregate", counted)
    run_audit(mixed, "ct_dlp_by_protocol", {}, alert_levels=LEVELS, now=NOW)
    assert len(batches) > 5 and max(batches) <= slices.BATCH_STUDIES


def test_windows_cover_the_range_once_newest_first_and_split_when_too_slow() -> None:
    """A window of more than 50 studies 'takes too long' (the database's deadline passes): it is read as four."""
    dates = [NOW - timedelta(hours=7 * n) for n in range(2000)] + [datetime(1899, 5, 1), NOW + timedelta(days=3)]
    asked: list[tuple[Any, Any, float | None]] = []

    def read(clause: dict[str, Any], seconds: float | None) -> list[datetime | None]:
        if clause["study_date_time"] is None:
            return [None]
        low, high = clause["study_date_time"].get("$gte"), clause["study_date_time"].get("$lt")
        asked.append((low, high, seconds))
        found = sorted((d for d in dates if (low is None or d >= low) and (high is None or d < high)), reverse=True)
        if seconds is not None and len(found) > 50:
            raise DatabaseTimeout("The database did not answer in time")
        return found

    found = [d for window in slices.windowed(None, None, now=NOW, read=read, undated=True) for d in window]
    assert found == [*sorted(dates, reverse=True), None]
    assert all(seconds == slices.SLICE_LIMIT for _, _, seconds in asked)
    assert len(asked) > 40  # windows grew while empty and fast, and were split when too full
    assert asked[0][1] is None and asked[-1][0] is None  # open upwards first, downwards last
