"""Only ``pid`` sees ``patient.key``: removed from every JSON answer and every page's data for everyone else.

The key itself is written by ingest (the privacy half of issue #14); here it is
put into stored documents directly, so that the removal is tested on its own,
on the field path, whichever route returns a document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Flask, jsonify, render_template_string
from flask.testing import FlaskClient

from service.access import requires
from service.access.redact import redact
from service.ingest.document import save_fragment
from service.storage import Store
from tests.signin import client_with_roles
from tests.studies import fragment

KEY = "4f1c" * 16
UID = "5.5.1"


def study_with_key(store: Store) -> None:
    save_fragment(store, fragment(UID, station="CT1", doses=(10.0,)), now=datetime(2024, 3, 5))
    store.db.studies.update_one({"study_instance_uid": UID}, {"$set": {"patient.key": KEY}})


def test_redact_removes_the_path_wherever_a_study_sits() -> None:
    @dataclass
    class Page:
        items: list[dict[str, Any]]

    answer = {
        "patient": {"key": "a", "age": "040Y"},
        "items": [{"patient": {"key": "b", "sex": "F"}}, {"patient": None}, {"other": {"key": "kept"}}],
        "page": Page([{"patient": {"key": "c"}}]),
        "rows": ({"study": {"patient": {"key": "d"}}},),
    }
    redact(answer)
    assert answer["patient"] == {"age": "040Y"}
    assert answer["items"] == [{"patient": {"sex": "F"}}, {"patient": None}, {"other": {"key": "kept"}}]
    assert answer["page"].items == [{"patient": {}}] and answer["rows"] == ({"study": {"patient": {}}},)


def test_the_study_api_gives_the_key_to_pid_only(client_with: Callable[..., FlaskClient], store: Store) -> None:
    study_with_key(store)
    viewer = client_with("viewer").get(f"/api/studies/{UID}").get_json()
    assert "key" not in viewer["patient"] and KEY not in str(viewer)
    pid = client_with("viewer", "pid").get(f"/api/studies/{UID}").get_json()
    assert pid["patient"]["key"] == KEY
    listed = client_with("viewer").get("/api/studies?modality=CT").get_data(as_text=True)
    assert UID in listed and KEY not in listed


def test_the_study_page_shows_no_key_without_pid(client_with: Callable[..., FlaskClient], store: Store) -> None:
    study_with_key(store)
    page = client_with("viewer").get(f"/studies/{UID}", headers={"Accept": "text/html"})
    assert page.status_code == 200 and KEY not in page.get_data(as_text=True)
    shown = client_with("viewer", "pid").get(f"/studies/{UID}", headers={"Accept": "text/html"})
    assert KEY in shown.get_data(as_text=True)  # the page shows every stored value, so the removal is what hides it
    assert KEY in store.get_study(UID)["patient"]["key"]  # the stored document keeps it


def test_any_route_added_later_is_covered(app: Flask) -> None:
    document = {"study_instance_uid": UID, "patient": {"key": KEY, "sex": "F"}}

    @app.get("/api/later")
    @requires("viewer")
    def later_api() -> Any:
        return jsonify({"rows": [dict(document, patient=dict(document["patient"]))]})

    @app.get("/later")
    @requires("viewer")
    def later_page() -> str:
        return render_template_string(
            "key={{ study.patient.key }}", study=dict(document, patient=dict(document["patient"]))
        )

    viewer, pid = client_with_roles(app, ["viewer"]), client_with_roles(app, ["viewer", "pid"])
    assert viewer.get("/api/later").get_json()["rows"][0]["patient"] == {"sex": "F"}
    assert pid.get("/api/later").get_json()["rows"][0]["patient"] == {"key": KEY, "sex": "F"}
    assert viewer.get("/later").get_data(as_text=True) == "key="
    assert pid.get("/later").get_data(as_text=True) == f"key={KEY}"


def test_pid_lists_one_patients_studies_by_key(client_with: Callable[..., FlaskClient], store: Store) -> None:
    study_with_key(store)
    save_fragment(store, fragment("5.5.2", station="CT1", doses=(20.0,)), now=datetime(2024, 3, 6))
    store.db.studies.update_one({"study_instance_uid": "5.5.2"}, {"$set": {"patient.key": "9" * 64}})
    save_fragment(store, fragment("5.5.3", station="CT1", doses=(30.0,)), now=datetime(2024, 3, 7))  # no key
    pid = client_with("viewer", "pid")
    listed = pid.get(f"/api/studies?patient_key={KEY}").get_json()
    assert [item["study_instance_uid"] for item in listed["items"]] == [UID]
    refused = pid.get("/api/studies?patient_key=Robert").get_json()
    assert refused["status"] == 400 and "64 hexadecimal digits" in str(refused["errors"]["patient_key"])
    page = pid.get(f"/ct?patient_key={KEY}").get_data(as_text=True)
    assert UID in page and "5.5.2" not in page and "5.5.3" not in page
