"""The query/retrieve API and pages: nodes, runs started in the background and followed, the admin page."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from flask.testing import FlaskClient

from service.dicomnet.nodes import Node
from service.dicomnet.runs import new_run
from service.storage import Store
from tests.fakepacs import FakePacs
from tests.pacsdata import JANUARY, Study

RUN = {"date_from": "2024-01-01", "date_to": "2024-01-31"}


@pytest.fixture
def node(client: FlaskClient, fake: FakePacs) -> dict[str, Any]:
    body = {"name": "fake", "ae_title": fake.ae_title, "host": "127.0.0.1", "port": fake.port}
    answer = client.post("/api/pacs", json=body)
    assert answer.status_code == 201
    return answer.get_json()


def follow(client: FlaskClient, location: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll a run until it ends."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get(location).get_json()
        if run["status"] not in ("queued", "running") or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


def test_nodes_are_added_listed_shown_and_deleted(client: FlaskClient, node: dict[str, Any]) -> None:
    assert node == {
        "name": "fake",
        "ae_title": "FAKEPACS",
        "host": "127.0.0.1",
        "port": node["port"],
        "retrieve": "move",
        "move_destination": None,
    }
    assert client.get("/api/pacs").get_json() == {"nodes": [node]}
    assert client.get("/api/pacs/fake").get_json() == node
    again = client.post("/api/pacs", json={k: v for k, v in node.items() if v is not None})
    assert again.status_code == 409 and again.get_json()["code"] == "conflict"
    assert client.delete("/api/pacs/fake").status_code == 204
    missing = client.get("/api/pacs/fake")
    assert missing.status_code == 404 and "no PACS node named 'fake' (nodes: none yet)" in missing.get_json()["message"]


def test_a_bad_node_is_a_400_naming_each_field(client: FlaskClient) -> None:
    answer = client.post("/api/pacs", json={"name": "x", "ae_title": "", "host": "h", "port": "104", "extra": 1})
    assert answer.status_code == 400
    assert set(answer.get_json()["errors"]) == {"ae_title", "port", "extra"}
    assert client.post("/api/pacs", data="not json", content_type="text/plain").status_code == 400


def test_echo_answers_or_names_the_problem(client: FlaskClient, node: dict[str, Any]) -> None:
    answer = client.post("/api/pacs/fake/echo")
    assert answer.status_code == 200 and answer.get_json()["status"] == "ok"
    client.post("/api/pacs", json={"name": "nowhere", "ae_title": "X", "host": "127.0.0.1", "port": 1})
    failed = client.post("/api/pacs/nowhere/echo")
    assert failed.status_code == 502 and failed.get_json()["code"] == "pacs-error"
    assert "nowhere (X@127.0.0.1:1) could not be reached" in failed.get_json()["message"]


def test_a_run_started_over_the_api_is_followed_to_its_end(
    client: FlaskClient, node: dict[str, Any], store: Store, studies: dict[str, Study]
) -> None:
    started = client.post("/api/pacs/fake/queries", json={**RUN, "exclude_stations": ["DR"]})
    assert started.status_code == 202
    location = started.headers["Location"]
    assert location == f"/api/pacs/fake/queries/{started.get_json()['id']}"
    run = follow(client, location)
    assert run["status"] == "completed" and run["interrupted"] is False and run["failures"] == []
    assert run["counts"]["studies"] == {
        "found": 5,
        "pending": 0,
        "fetched": 4,
        "skipped": 0,
        "excluded": 1,
        "failed": 0,
        "cancelled": 0,
    }
    assert run["criteria"]["exclude_stations"] == ["DR"] and run["trigger"] == "api"
    excluded = client.get(f"{location}/studies?status=excluded").get_json()["studies"]
    assert [s["study_instance_uid"] for s in excluded] == [studies["DX"].uid]
    assert len(client.get(f"{location}/studies").get_json()["studies"]) == 5
    assert client.get("/api/pacs/fake/queries").get_json()["runs"][0]["id"] == run["id"]
    finished = client.post(f"{location}/cancel")
    assert finished.status_code == 409 and "it ended completed" in finished.get_json()["message"]


def test_a_second_run_while_one_is_under_way_is_a_409(client: FlaskClient, node: dict[str, Any], store: Store) -> None:
    record = new_run(store, Node.from_document(node), JANUARY, trigger="test", client="pytest", owner="elsewhere:1")
    answer = client.post("/api/pacs/fake/queries", json=RUN)
    assert answer.status_code == 409 and record["_id"] in answer.get_json()["message"]
    assert client.delete("/api/pacs/fake").status_code == 409
    cancel = client.post(f"/api/pacs/fake/queries/{record['_id']}/cancel")
    assert cancel.status_code == 202 and cancel.get_json()["cancel_requested"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"date_from": "2024-02-01", "date_to": "2024-01-01"}, "date_to"),
        ({**RUN, "modalities": ["MR"]}, "modalities"),
        ({**RUN, "stations": [""]}, "stations"),
        ({"date_to": "2024-01-01"}, "date_from"),
    ],
)
def test_bad_run_arguments_are_a_400(
    client: FlaskClient, node: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    answer = client.post("/api/pacs/fake/queries", json=body)
    assert answer.status_code == 400 and field in answer.get_json()["errors"]


def test_a_run_of_another_node_or_an_unknown_one_is_a_404(
    client: FlaskClient, node: dict[str, Any], store: Store
) -> None:
    record = new_run(store, Node.from_document(node), JANUARY, trigger="test", client="pytest", owner="x:1")
    client.post("/api/pacs", json={"name": "other", "ae_title": "O", "host": "127.0.0.1", "port": 1})
    assert client.get(f"/api/pacs/other/queries/{record['_id']}").status_code == 404
    assert client.get("/api/pacs/fake/queries/nope").status_code == 404
    assert client.get(f"/api/pacs/fake/queries/{record['_id']}/studies?limit=0").status_code == 400
    assert client.get(f"/api/pacs/fake/queries/{record['_id']}/studies?status=lost").status_code == 400


def test_the_pages_list_nodes_and_runs_without_inline_scripts_or_styles(
    client: FlaskClient, node: dict[str, Any], studies: dict[str, Study]
) -> None:
    empty = client.get("/pacs").get_data(as_text=True)
    assert "No runs yet" in empty and "FAKEPACS" in empty
    run = follow(
        client, client.post("/api/pacs/fake/queries", json={**RUN, "descriptions": ["chest"]}).headers["Location"]
    )
    page = client.get("/pacs").get_data(as_text=True)
    assert f"/pacs/fake/queries/{run['id']}" in page and "completed" in page and "description has chest" in page
    detail = client.get(f"/pacs/fake/queries/{run['id']}")
    assert detail.status_code == 200
    html = detail.get_data(as_text=True)
    assert studies["DX"].uid in html and "Not fetched: its study description" in html
    for text in (page, html):
        assert (
            "<script" not in text and not re.search(r"\sstyle=", text) and "http-equiv" not in text
        )  # ended: no refresh
