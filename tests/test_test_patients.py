"""Test patients (a set not-patient indicator): lists show them, exports and audits leave them out unless asked."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from flask.testing import FlaskClient

from schemas.query import parse_study_query
from service.errors import InvalidArgument
from service.ingest.document import save_fragment
from service.reading.filters import study_filter
from service.storage import Store
from tests import auditdata as data
from tests.auditdata import NOW
from tests.exporting import read_csv


@pytest.fixture
def mixed(store: Store) -> dict[str, str]:
    """Save three CT studies: a patient (indicator None), one without the field at all, and a QA phantom."""
    uids = {}
    for label, patient, dlp in (
        ("patient", {"not_patient_indicator": None}, 100.0),
        ("unset", {}, 200.0),
        ("phantom", {"not_patient_indicator": "IDs: qa | Names: "}, 1000.0),
    ):
        fragment = data.ct([("CHEST", dlp)], when=datetime(2025, 3, 1), patient=patient)
        save_fragment(store, fragment, now=NOW)
        uids[label] = fragment["study_instance_uid"]
    if "not_patient_indicator" in store.get_study(uids["unset"])["patient"]:
        pytest.fail("the fixture must hold a study without the field, to pin how a missing field is matched")
    return uids


def test_the_argument_and_its_conditions() -> None:
    assert study_filter(parse_study_query({"test_patients": "exclude"})) == {
        "patient.not_patient_indicator": {"$eq": None}
    }
    assert study_filter(parse_study_query({"test_patients": "only"})) == {
        "patient.not_patient_indicator": {"$ne": None}
    }
    assert study_filter(parse_study_query({"test_patients": "include"})) == {}
    assert parse_study_query({}).test_patients is None
    assert parse_study_query({}).for_reports().arguments() == {"test_patients": "exclude"}
    assert parse_study_query({"test_patients": "only"}).for_reports().test_patients == "only"
    with pytest.raises(InvalidArgument) as caught:
        parse_study_query({"test_patients": "no"})
    assert caught.value.errors == {"test_patients": ["Expected one of include, exclude, only."]}


def listed(client: FlaskClient, **args: str) -> set[str]:
    items = client.get("/api/studies", query_string={"modality": "CT", **args}).get_json()["items"]
    return {item["study_instance_uid"] for item in items}


def test_lists_show_them_unless_told_otherwise(client: FlaskClient, mixed: dict[str, str]) -> None:
    assert listed(client) == listed(client, test_patients="include") == set(mixed.values())
    assert listed(client, test_patients="exclude") == {mixed["patient"], mixed["unset"]}  # missing counts as None
    assert listed(client, test_patients="only") == {mixed["phantom"]}


def test_exports_leave_them_out_unless_asked(client: FlaskClient, mixed: dict[str, str]) -> None:
    def exported(query: str = "") -> set[str]:
        rows = read_csv(client.get(f"/api/exports/ct.csv{query}").get_data(as_text=True))
        return {row["Study instance UID"] for row in rows}

    assert exported() == exported("?test_patients=exclude") == {mixed["patient"], mixed["unset"]}
    assert exported("?test_patients=include") == set(mixed.values())
    assert exported("?test_patients=only") == {mixed["phantom"]}


def test_audits_leave_them_out_unless_asked(client: FlaskClient, mixed: dict[str, str]) -> None:
    def chest(**args: str) -> tuple[int, float]:
        answer = client.get("/api/audits/ct_dlp_by_protocol", query_string={"per_station": "no", **args}).get_json()
        [row] = answer["rows"]
        return row["count"], row["median"]

    assert chest() == (2, 150.0)
    assert chest(test_patients="include") == (3, 200.0)
    assert chest(test_patients="only") == (1, 1000.0)
    answer = client.get("/api/audits/workload").get_json()
    assert answer["filters"] == {"test_patients": "exclude"}  # the answer says what it left out
    assert sum(row["count"] for row in answer["rows"]) == 2


def test_the_list_page_offers_the_choice_and_carries_it_to_its_exports(
    client: FlaskClient, mixed: dict[str, str]
) -> None:
    page = client.get("/ct").get_data(as_text=True)
    assert 'name="test_patients"' in page and "Only test patients" in page
    assert page.count('class="not-patient"') == 1
    assert re.search(r'href="/api/exports/ct\.csv\?"', page)  # the export leaves them out: not asked
    only = client.get("/ct?test_patients=only").get_data(as_text=True)
    assert 'href="/api/exports/ct.csv?test_patients=only"' in only
    assert '<option value="only" selected>' in only
    assert mixed["phantom"] in only and mixed["patient"] not in only


def test_the_audits_page_offers_the_choice(client: FlaskClient) -> None:
    page = client.get("/audits").get_data(as_text=True)
    assert '<select name="test_patients">' in page and '<option value="only">' in page
