"""GET /api/studies (filters, ordering, paging, bad arguments) and GET /api/studies/<uid>."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.ingest.document import save_fragment
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests.studies import fragment

NOW = datetime(2024, 3, 5)
STUDIES = [
    fragment("9.1", when=datetime(2024, 3, 1, 9, 30), doses=(100.0, 50.0)),
    fragment(
        "9.2",
        when=datetime(2024, 2, 1, 8, 0),
        station="ct10-north",
        description="Head",
        protocol="Head routine",
        doses=(1000.0,),
        age=30.0,
        weight=90.0,
        equipment__manufacturer="Siemens",
        equipment__manufacturer_model_name="SOMATOM Force",
        equipment__institution_name="St. Elsewhere (North)",
    ),
    fragment("9.3", modality="RF", when=datetime(2024, 1, 15, 10, 0), station="Fluoro1", doses=(0.0005,)),
    fragment("9.4", modality="DX", when=datetime(2023, 12, 31, 23, 59), station="XR1", doses=(0.00001,)),
    fragment("9.5", modality="MG", when=datetime(2023, 11, 2, 14, 0), station="MAMMO1", doses=(1.2, 1.6)),
    fragment("9.6", modality="NM", when=datetime(2023, 10, 3, 8, 0), station="PET1", doses=(370.0,)),
    fragment("9.7", when=None, station="CT1", doses=(100.0,)),
]


@pytest.fixture
def studies(store: Store) -> Store:
    for document in STUDIES:
        save_fragment(store, document, now=NOW)
    return store


def uids(client: FlaskClient, **args: Any) -> list[str]:
    response = client.get("/api/studies", query_string=args)
    assert response.status_code == 200, response.json
    return [item["study_instance_uid"] for item in response.json["items"]]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"modality": "CT"}, {"9.1", "9.2", "9.7"}),
        ({"modality": "rf"}, {"9.3"}),
        ({"modality": "DX"}, {"9.4"}),
        ({"modality": "MG"}, {"9.5"}),
        ({"modality": "NM"}, {"9.6"}),
        ({"station_name": "CT1"}, {"9.1", "9.2", "9.7"}),
        ({"manufacturer": "siemens"}, {"9.2"}),
        ({"manufacturer_model_name": "force"}, {"9.2"}),
        ({"institution_name": "elsewhere (north"}, {"9.2"}),
        ({"study_description": "HEAD"}, {"9.2"}),
        ({"requested_procedure_description": "head req"}, {"9.2"}),
        ({"acquisition_protocol": "head rou", "modality": "CT"}, {"9.2"}),
        ({"acquisition_protocol": "chest"}, {"9.1", "9.3", "9.4", "9.5", "9.7"}),
        ({"accession_number": "acc-9.3"}, {"9.3"}),
        ({"station_name": ".*"}, set()),
        ({"date_from": "2024-02-01"}, {"9.1", "9.2"}),
        ({"date_to": "2024-01-15"}, {"9.3", "9.4", "9.5", "9.6"}),
        ({"date_from": "2024-01-01", "date_to": "2024-01-31"}, {"9.3"}),
        ({"age_max": "35"}, {"9.2"}),
        ({"age_min": "30", "age_max": "30"}, {"9.2"}),
        ({"weight_min": "80"}, {"9.2"}),
        ({"events_min": "2"}, {"9.1", "9.5"}),
        ({"events_max": "1", "modality": "CT"}, {"9.2", "9.7"}),
        ({"modality": "CT", "dose_min": "500"}, {"9.2"}),
        ({"modality": "CT", "dose_max": "150"}, {"9.1", "9.7"}),
        ({"modality": "RF", "dose_min": "400", "dose_max": "500"}, {"9.3"}),
        ({"modality": "DX", "dose_min": "11"}, set()),
        ({"modality": "MG", "dose_min": "1.5"}, {"9.5"}),
        ({"modality": "MG", "dose_max": "1.1"}, set()),
        ({"modality": "NM", "dose_max": "400"}, {"9.6"}),
    ],
)
def test_each_filter_selects_the_studies_it_names(
    client: FlaskClient, studies: Store, args: dict[str, str], expected: set[str]
) -> None:
    found = uids(client, **args)
    assert set(found) == expected
    assert len(found) == len(expected)


def test_answer_has_total_items_and_next(client: FlaskClient, studies: Store) -> None:
    answer = client.get("/api/studies", query_string={"modality": "CT", "page_size": 2}).json
    assert answer["total"] == 3 and answer["total_exact"] is True
    assert answer["next"]
    first = answer["items"][0]
    assert first["study_date_time"] == "2024-03-01T09:30:00"
    assert first["summary"]["total_dlp"] == 150.0
    assert first["equipment"]["station_name"] == "CT1"
    assert "reports" not in first and "ct" not in first  # list columns only


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("-study_date_time", ["9.1", "9.2", "9.7"]),
        ("study_date_time", ["9.7", "9.2", "9.1"]),
        ("station_name", ["9.1", "9.7", "9.2"]),
        ("-station_name", ["9.2", "9.7", "9.1"]),
        ("study_description", ["9.1", "9.7", "9.2"]),
        ("-total_dose", ["9.2", "9.1", "9.7"]),
        ("total_dose", ["9.7", "9.1", "9.2"]),
    ],
)
def test_orderings(client: FlaskClient, studies: Store, order: str, expected: list[str]) -> None:
    assert uids(client, modality="CT", order=order) == expected


def test_mammography_orders_by_breast_dose(client: FlaskClient, store: Store) -> None:
    for uid, doses in [("8.1", (2.0, 0.5)), ("8.2", (1.0, 3.0)), ("8.3", (0.4, 0.6))]:
        save_fragment(store, fragment(uid, modality="MG", doses=doses), now=NOW)
    # right breast = first dose, left = second (tests.studies): ordered by left AGD first
    assert uids(client, modality="MG", order="-total_dose") == ["8.2", "8.3", "8.1"]


@pytest.mark.parametrize("order", ["-study_date_time", "study_date_time", "station_name", "-total_dose"])
def test_paging_visits_every_study_once_in_order(client: FlaskClient, store: Store, order: str) -> None:
    days = [1, 1, 1, 2, 3, 3, 40, 400, 2000]  # ties on the date, spread over years
    for n, day in enumerate(days):
        when = datetime(2019, 1, 1) + (datetime(2024, 1, 1) - datetime(2019, 1, 1)) / day
        save_fragment(store, fragment(f"7.{n}", when=when, station=f"S{n % 3}", doses=(float(n),)), now=NOW)
    for n in range(2):
        save_fragment(store, fragment(f"6.{n}", when=None, doses=(50.0,)), now=NOW)
    everything = uids(client, modality="CT", order=order, page_size=500)
    assert len(everything) == 11
    if order == "-study_date_time":  # newest first, ties by UID, undated last
        stored = store.find_studies({}, sort=[], limit=0)
        newest = sorted(stored, key=lambda d: (d["study_date_time"] or datetime.min, d["study_instance_uid"]))
        assert everything == [d["study_instance_uid"] for d in reversed(newest)]
    seen: list[str] = []
    after = None
    while True:
        args = {"modality": "CT", "order": order, "page_size": 2, **({"after": after} if after else {})}
        answer = client.get("/api/studies", query_string=args).json
        seen += [item["study_instance_uid"] for item in answer["items"]]
        after = answer["next"]
        if after is None:
            break
    assert seen == everything


def test_filtered_total_counts_the_matches(client: FlaskClient, studies: Store) -> None:
    answer = client.get("/api/studies", query_string={"station_name": "ct1", "page_size": 1}).json
    assert (answer["total"], answer["total_exact"], len(answer["items"])) == (3, True, 1)


@pytest.mark.parametrize(
    ("args", "name", "expected"),
    [
        ({"date_from": "2024-13-01"}, "date_from", "Expected a date as YYYY-MM-DD."),
        ({"modality": "XX"}, "modality", "Expected one of CT, RF, DX, MG, NM."),
        ({"page_size": "0"}, "page_size", "Expected a whole number from 1 to 500."),
        ({"order": "sideways"}, "order", "Expected one of"),
        ({"age_min": "old"}, "age_min", "Expected a number."),
        ({"after": "garbage"}, "after", "Expected the token of a previous answer's next."),
        ({"stationname": "CT1"}, "stationname", "Unknown field."),
    ],
)
def test_bad_arguments_give_400_naming_the_argument(
    client: FlaskClient, studies: Store, args: dict[str, str], name: str, expected: str
) -> None:
    response = client.get("/api/studies", query_string=args)
    assert response.status_code == 400
    body = response.json
    assert (body["code"], body["status"]) == ("invalid-argument", 400)
    assert name in body["message"]
    assert body["errors"][name][0].startswith(expected)


def test_detail_returns_the_document_and_404_for_an_unknown_uid(client: FlaskClient, studies: Store) -> None:
    document = client.get("/api/studies/9.2").json
    assert document["equipment"]["institution_name"] == "St. Elsewhere (North)"
    assert [e["dlp"] for e in document["ct"]["events"]] == [1000.0]
    missing = client.get("/api/studies/1.2.3.404")
    assert missing.status_code == 404
    assert missing.json["code"] == "not-found"


def test_every_imported_corpus_study_is_reachable_through_the_lists(
    client: FlaskClient, store: Store, pipeline: Pipeline, corpus: Path
) -> None:
    for path in sorted(corpus.glob("*.dcm")):
        pipeline.ingest(path.read_bytes(), name=path.name, via="cli", client="test")
    stored = {d["study_instance_uid"]: d["modalities"] for d in store.find_studies({}, sort=[], limit=0)}
    reached: set[str] = set()
    for modality in ("CT", "RF", "DX", "MG", "NM"):
        listed = uids(client, modality=modality, page_size=500)
        answer = client.get("/api/studies", query_string={"modality": modality}).json
        assert answer["total"] == len(listed) == len({u for u, m in stored.items() if modality in m})
        reached |= set(listed)
    assert reached == set(stored)
    assert len(stored) >= 25


def test_counts_stop_at_the_cap_or_the_time_budget(
    client: FlaskClient, studies: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.reading import listing

    args = {"station_name": "ct1", "page_size": 1}
    monkeypatch.setattr(listing, "COUNT_CAP", 2)
    answer = client.get("/api/studies", query_string=args).json
    assert (answer["total"], answer["total_exact"]) == (2, False)
    monkeypatch.setattr(listing, "COUNT_CAP", 10)
    monkeypatch.setattr(listing, "COUNT_BUDGET", -1.0)  # out of time after the first window
    answer = client.get("/api/studies", query_string=args).json
    assert answer["total_exact"] is False and answer["total"] < 3
    one_page = client.get("/api/studies", query_string={"station_name": "ct1"}).json
    assert (one_page["total"], one_page["total_exact"]) == (3, True)  # one page holds them all: no count
