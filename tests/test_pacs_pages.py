"""The query/retrieve page's forms, as an administrator signed in with a session (CSRF) uses them.

Adding a node (validated by the API's schema, refused beside its field with the
values kept), deleting one after confirming, C-ECHO against Debian's Orthanc and a
closed port, starting a run against the fake PACS and cancelling one: each done
from the pages alone, each in the event log under the administrator's name.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from service.dicomnet.nodes import Node
from service.dicomnet.runs import new_run
from service.storage import Store, utcnow
from service.storage.embedded import free_port
from tests import orthanc as pacs
from tests.fakepacs import FakePacs
from tests.orthanc import Orthanc
from tests.pacsdata import JANUARY, Study
from tests.test_admin_page import admin_session
from tests.test_signin import HTML, csrf_token

ADMIN = "root@127.0.0.1"
NODE = {"name": "main", "ae_title": "PACS1", "host": "10.1.2.3", "port": "104", "retrieve": "move"}
NEW_POSTS = (
    "/pacs",
    "/pacs/main/delete",
    "/pacs/main/echo",
    "/pacs/queries",
    "/pacs/main/queries/abc/cancel",
)


@pytest.fixture
def admin(app: Flask, store: Store) -> FlaskClient:
    """Return a browser session of ``root``, who holds admin and viewer."""
    return admin_session(app, store)


def post(client: FlaskClient, url: str, **form: object) -> TestResponse:
    """Post a form of the page with its CSRF token, as a browser does."""
    token = csrf_token(client.get("/pacs", headers=HTML))
    return client.post(url, data={"csrf_token": token, **form}, headers=HTML)


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def events(store: Store, kind: str) -> list[dict[str, Any]]:
    return [entry for entry in store.events_after(0, 1000) if entry["type"] == kind]


def run_form(node: str, **fields: object) -> dict[str, object]:
    return {"node": node, "date_from": "2024-01-01", "date_to": "2024-01-31", "modalities": ["CT", "DX"], **fields}


def wait_for_end(store: Store, run_id: str, timeout: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (run := store.get_run(run_id))["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
    return run


def test_a_node_added_from_the_form_is_listed_stored_and_logged(admin: FlaskClient, store: Store) -> None:
    added = post(admin, "/pacs", **NODE, move_destination="DL_STORE")
    assert added.status_code == 303 and added.headers["Location"] == "/pacs#pacs-nodes"
    page = text(admin.get("/pacs", headers=HTML))
    assert "Added PACS node main (PACS1@10.1.2.3:104)." in page
    row = r'<th scope="row">main<br><span class="muted">PACS1@10.1.2.3:104</span></th>\s*<td>C-MOVE to DL_STORE</td>'
    assert re.search(row, page)
    assert store.pacs_node("main") == {
        "name": "main", "ae_title": "PACS1", "host": "10.1.2.3", "port": 104, "retrieve": "move",
        "move_destination": "DL_STORE",
    }  # fmt: skip
    (entry,) = events(store, "pacs-node-added")
    assert (entry["via"], entry["client"], entry["details"]) == ("http", ADMIN, {"pacs": {"node": "main"}})
    assert "retrieving by C-MOVE to DL_STORE" in entry["message"]
    assert "Added PACS node" not in text(admin.get("/pacs", headers=HTML))  # said once


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("port", "70000", "Expected 1 to 65535."),
        ("port", "104a", "Not a valid integer."),
        ("ae_title", "A_TITLE_TOO_LONG_", "Expected an AE title: 1 to 16 printable ASCII characters"),
        ("ae_title", "", "Missing data for required field."),
        ("host", "pacs host", "Expected a host name or IP address."),
        ("retrieve", "push", "Expected move or get."),
    ],
)
def test_a_bad_field_is_refused_beside_it_with_the_values_kept(
    admin: FlaskClient, store: Store, field: str, value: str, problem: str
) -> None:
    refused = post(admin, "/pacs", **{**NODE, field: value})
    page = text(refused)
    assert refused.status_code == 400
    label = {"port": "Port", "ae_title": "AE title", "host": "Host", "retrieve": "Retrieve by"}[field]
    assert f"The node was not added: {label}: {problem}" in page
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true" aria-describedby="{field}-problem"', page) or (
        field == "retrieve" and 'aria-describedby="retrieve-problem"' in page
    )
    assert re.search(rf'<span id="{field}-problem" class="error">{re.escape(problem)}', page)
    kept = {key: value for key, value in NODE.items() if key not in (field, "retrieve")}
    for key, typed in kept.items():
        assert f'name="{key}" value="{typed}"' in page
    assert store.pacs_nodes() == [] and events(store, "pacs-node-added") == []


def test_a_name_taken_is_a_409_saying_so(admin: FlaskClient, store: Store) -> None:
    assert post(admin, "/pacs", **NODE).status_code == 303
    again = post(admin, "/pacs", **{**NODE, "host": "10.9.9.9"})
    assert again.status_code == 409
    assert "A PACS node named &#39;main&#39; exists already; delete it first." in text(again)
    assert store.pacs_node("main")["host"] == "10.1.2.3"


def test_a_node_is_deleted_after_confirming(admin: FlaskClient, store: Store) -> None:
    post(admin, "/pacs", **NODE)
    assert 'href="/pacs/main/delete"' in text(admin.get("/pacs", headers=HTML))
    confirm = admin.get("/pacs/main/delete", headers=HTML)
    assert confirm.status_code == 200 and "Delete PACS node main?" in text(confirm)
    assert store.pacs_node("main")  # asking changes nothing
    deleted = post(admin, "/pacs/main/delete")
    assert deleted.status_code == 303 and deleted.headers["Location"] == "/pacs#pacs-nodes"
    assert "Deleted PACS node main; its runs stay listed." in text(admin.get("/pacs", headers=HTML))
    assert store.pacs_nodes() == []
    (entry,) = events(store, "pacs-node-deleted")
    assert (entry["via"], entry["client"]) == ("http", ADMIN)
    assert admin.get("/pacs/main/delete", headers=HTML).status_code == 404


def test_a_node_with_a_run_under_way_is_not_deleted(admin: FlaskClient, store: Store) -> None:
    post(admin, "/pacs", **NODE)
    run = new_run(store, Node.from_document(store.pacs_node("main")), JANUARY, trigger="test", client="t", owner="x:1")
    assert f"/pacs/main/queries/{run['_id']}" in text(admin.get("/pacs/main/delete", headers=HTML))
    refused = post(admin, "/pacs/main/delete")
    assert refused.status_code == 409 and f"has run {run['_id']} under way; cancel it first." in text(refused)
    assert store.pacs_node("main") and events(store, "pacs-node-deleted") == []


def knows_doseledger(orthanc: Orthanc) -> dict[str, list[object]]:
    """Return Orthanc's modalities: DoseLedger (AE title DOSELEDGER at 127.0.0.1), which sends it C-ECHO."""
    return {"doseledger": ["DOSELEDGER", "127.0.0.1", orthanc.doseledger_port]}


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Orthanc]:
    """Run an empty Orthanc that knows DoseLedger."""
    with pacs.running(tmp_path_factory.mktemp("orthanc"), "ORTHANC_ECHO", knows_doseledger) as running:
        yield running


def test_echo_says_how_long_orthanc_took_or_why_a_closed_port_failed(
    admin: FlaskClient, store: Store, orthanc: Orthanc
) -> None:
    post(admin, "/pacs", **{**NODE, "name": "orthanc", "ae_title": "ORTHANC_ECHO", "host": "127.0.0.1",
                            "port": str(orthanc.dicom_port)})  # fmt: skip
    answered = post(admin, "/pacs/orthanc/echo")
    assert answered.status_code == 303 and answered.headers["Location"] == "/pacs#pacs-nodes"
    page = text(admin.get("/pacs", headers=HTML))
    address = f"orthanc (ORTHANC_ECHO@127.0.0.1:{orthanc.dicom_port})"
    assert re.search(rf'<p class="done" role="status">{re.escape(address)} answered the C-ECHO in \d+ ms.</p>', page)
    closed = free_port()
    post(admin, "/pacs", **{**NODE, "name": "closed", "host": "127.0.0.1", "port": str(closed)})
    assert post(admin, "/pacs/closed/echo").status_code == 303
    page = text(admin.get("/pacs", headers=HTML))
    failure = re.search(r'<p class="problem" role="status">(C-ECHO failed: [^<]+)</p>', page)
    assert failure, page
    assert f"closed (PACS1@127.0.0.1:{closed}) could not be reached" in failure.group(1)
    assert "Traceback" not in page and "Error" not in failure.group(1)


def test_a_run_started_from_the_form_has_its_page(
    admin: FlaskClient, store: Store, fake: FakePacs, studies: dict[str, Study]
) -> None:
    post(admin, "/pacs", **{**NODE, "name": "fake", "ae_title": fake.ae_title, "host": "127.0.0.1",
                            "port": str(fake.port)})  # fmt: skip
    started = post(admin, "/pacs/queries", **run_form("fake", exclude_stations="DR, qa ,", descriptions=""))
    assert started.status_code == 303
    match = re.fullmatch(r"/pacs/fake/queries/(\w+)", started.headers["Location"])
    assert match, started.headers["Location"]
    run = wait_for_end(store, match.group(1))
    assert (run["trigger"], run["client"], run["status"]) == ("page", ADMIN, "completed")
    assert run["criteria"] == {
        "date_from": "2024-01-01", "date_to": "2024-01-31", "modalities": ["CT", "DX"],
        "stations": [], "exclude_stations": ["DR", "qa"], "descriptions": [], "exclude_descriptions": [],
    }  # fmt: skip
    page = text(admin.get(started.headers["Location"], headers=HTML))
    assert f"Run {run['_id']} of fake started." in page and "completed" in page
    assert studies["CT"].uid in page and "station lacks DR or qa" in page
    assert "Cancel this run" not in page  # it has ended
    (entry,) = events(store, "pacs-run-started")
    assert (entry["via"], entry["client"], entry["details"]) == (
        "http",
        ADMIN,
        {"pacs": {"node": "fake", "run": run["_id"]}},
    )


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"date_from": "2024-02-01"}, {"To": "Expected a date on or after date_from."}),
        ({"modalities": []}, {"Modalities": "Expected at least one modality."}),
        ({"date_to": "", "modalities": ["MR"]}, {"To": "Missing data", "Modalities": "Expected one of CT, RF"}),
        ({"node": "nowhere"}, {"Node": "There is no PACS node named &#39;nowhere&#39;"}),
    ],
)
def test_a_bad_run_is_refused_beside_its_field(
    admin: FlaskClient, store: Store, fields: dict[str, object], problems: dict[str, str]
) -> None:
    post(admin, "/pacs", **NODE)
    refused = post(admin, "/pacs/queries", **{**run_form("main", stations="CT1"), **fields})
    page = text(refused)
    assert refused.status_code == 400 and "The run was not started: " in page
    for label, problem in problems.items():
        assert f"{label}: {problem}" in page
    assert 'name="stations" value="CT1"' in page  # kept
    assert store.runs() == [] and events(store, "pacs-run-started") == []


def test_a_run_under_way_is_cancelled_from_its_page(
    admin: FlaskClient, store: Store, fake: FakePacs, studies: dict[str, Study]
) -> None:
    fake.slow_studies, fake.slow_seconds = {study.uid for study in studies.values()}, 1.0
    post(admin, "/pacs", **{**NODE, "name": "fake", "ae_title": fake.ae_title, "host": "127.0.0.1",
                            "port": str(fake.port)})  # fmt: skip
    location = post(admin, "/pacs/queries", **run_form("fake")).headers["Location"]
    page = text(admin.get(location, headers=HTML))
    assert "Cancel this run" in page and 'http-equiv="refresh"' in page
    cancelled = post(admin, f"{location}/cancel")
    assert cancelled.status_code == 303 and cancelled.headers["Location"] == location
    run = wait_for_end(store, location.rsplit("/", 1)[1])
    assert run["status"] == "cancelled"
    page = text(admin.get(location, headers=HTML))
    assert "Run asked to stop: it stops before its next request." in page and "Cancel this run" not in page
    (entry,) = events(store, "pacs-run-cancelled")
    assert (entry["via"], entry["client"], entry["outcome"]) == ("http", ADMIN, "requested")
    again = post(admin, f"{location}/cancel")
    assert again.status_code == 303
    assert f"Run {run['_id']} is not under way: it ended cancelled." in text(admin.get(location, headers=HTML))


def test_a_run_no_process_runs_is_cancelled_at_once(admin: FlaskClient, store: Store) -> None:
    post(admin, "/pacs", **NODE)
    run = new_run(store, Node.from_document(store.pacs_node("main")), JANUARY, trigger="test", client="t", owner="x:1")
    store.update_run(run["_id"], "x:1", {"lease_until": utcnow()})  # its process died
    post(admin, f"/pacs/main/queries/{run['_id']}/cancel")
    assert store.get_run(run["_id"])["status"] == "cancelled"
    assert "Run cancelled." in text(admin.get(f"/pacs/main/queries/{run['_id']}", headers=HTML))
    assert events(store, "pacs-run-cancelled")[0]["outcome"] == "cancelled"


def test_the_forms_need_their_csrf_token(admin: FlaskClient, store: Store) -> None:
    post(admin, "/pacs", **NODE)
    for url in NEW_POSTS:
        refused = admin.post(url, data={**NODE, **run_form("main")}, headers=HTML)
        assert refused.status_code == 400 and "CSRF" in text(refused), url
    assert [node["name"] for node in store.pacs_nodes()] == ["main"] and store.runs() == []


def test_a_viewer_or_nobody_is_refused_every_form(
    client_with: Callable[..., FlaskClient], anonymous: FlaskClient, store: Store
) -> None:
    viewer = client_with("viewer")
    for url in NEW_POSTS:
        refused = viewer.post(url, data={**NODE, **run_form("main")}, headers=HTML)
        assert refused.status_code == 403 and "needs the role &#39;admin&#39;" in text(refused), url
        assert anonymous.post(url, data=NODE, headers={"Accept": "application/json"}).status_code == 401, url
    assert viewer.get("/pacs/main/delete", headers=HTML).status_code == 403
    assert store.pacs_nodes() == []


def test_the_api_logs_its_changes_under_the_tokens_name(client: FlaskClient, store: Store) -> None:
    body = {"name": "main", "ae_title": "PACS1", "host": "10.1.2.3", "port": 104}
    assert client.post("/api/pacs", json=body).status_code == 201
    assert client.delete("/api/pacs/main").status_code == 204
    logged = [(e["type"], e["via"], e["client"]) for e in store.events_after(0, 1000) if e["type"].startswith("pacs")]
    who = "tester[token tests]@127.0.0.1"
    assert logged == [("pacs-node-added", "http", who), ("pacs-node-deleted", "http", who)]
