"""The alert rules and alerts over HTTP, on the pages and on the command line (service.web.alerts, scripts/cli_alerts.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from service.storage import Store
from tests import auditdata as data
from tests.alerting import alerts, day, patient, rule, use_rules, write
from tests.conftest import Runner

DAP = rule("DAP", "study_total", "RF", quantity="total_dap", level=100, unit="Gy·cm²")
CT = rule("CT DLP", "study_total", "CT", quantity="total_dlp", level=1, unit="Gy.cm")


def _three_alerts(store: Store) -> list[dict[str, Any]]:
    use_rules(store, DAP, CT)
    write(store, data.fluoro(0.02, 1.0, 60.0, ["A"], when=day(1), station="CATH1", description="PCI"))
    write(store, data.fluoro(0.03, 1.0, 60.0, ["A"], when=day(2), station="CATH2", description="TAVI"))
    write(store, data.ct([("Chest", 1500.0)], when=day(3), station="CT1", description="Chest"))
    return alerts(store)


def test_the_rule_table_is_read_and_replaced_whole(client: FlaskClient, store: Store) -> None:
    shown = client.get("/api/alert-rules").get_json()
    assert shown["version"] == 1 and shown["rules"][0]["name"] == "Fluoroscopy dose at RP"
    assert shown["updated_by"] == "DoseLedger (the shipped defaults)" and shown["routes"] == []
    table = {"rules": [DAP], "routes": [{"recipients": ["cath@example.org"], "stations": ["CATH1"]}]}
    answer = client.put("/api/alert-rules", json=table)
    assert answer.status_code == 200 and answer.get_json()["version"] == 2
    assert answer.get_json()["rules"] == [{**DAP, "level": 100.0, "stations": [], "enabled": True}]
    assert answer.get_json()["updated_by"] == "tester[token tests]@127.0.0.1"
    logged = [e for e in store.events_after(0) if e["type"] == "alert-rules"]
    assert logged[0]["message"] == "Alert rules replaced (version 2): 1 rules, 1 routes."
    bad = client.put("/api/alert-rules", json={"rules": [{**DAP, "unit": "mGy"}, {**CT, "level": -1}]})
    assert bad.status_code == 400 and set(bad.get_json()["errors"]) == {"rules.0.unit", "rules.1.level"}
    twice = client.put("/api/alert-rules", json={"rules": [DAP, {**CT, "name": "DAP"}]})
    assert twice.get_json()["errors"] == {"rules.1.name": ["Expected a name of its own; rule 0 has it."]}
    assert client.put("/api/alert-rules", data="{", content_type="application/json").status_code == 400
    assert client.get("/api/alert-rules").get_json()["version"] == 2  # unchanged


def test_alerts_newest_first_filtered_with_their_rule_study_value_level_unit_state(
    client: FlaskClient, store: Store
) -> None:
    _three_alerts(store)
    listed = client.get("/api/alerts").get_json()["alerts"]
    assert [(a["rule"], a["station_name"], a["value"], a["level"], a["unit"], a["state"]) for a in listed] == [
        ("CT DLP", "CT1", 1.5, 1, "Gy·cm", "open"),
        ("DAP", "CATH2", 300, 100, "Gy·cm²", "open"),
        ("DAP", "CATH1", 200, 100, "Gy·cm²", "open"),
    ]
    assert set(listed[0]) >= {"id", "study_instance_uid", "study_date_time", "raised_at"}
    assert [a["station_name"] for a in client.get("/api/alerts?state=open&modality=RF").get_json()["alerts"]] == [
        "CATH2", "CATH1",
    ]  # fmt: skip
    assert len(client.get("/api/alerts?station_name=CATH1&limit=5").get_json()["alerts"]) == 1
    for bad in ("state=gone", "modality=XX", "limit=0", "limit=x", "colour=red"):
        assert client.get(f"/api/alerts?{bad}").status_code == 400, bad


def test_acknowledging_and_closing_say_who_when_and_why_and_are_logged(client: FlaskClient, store: Store) -> None:
    first = _three_alerts(store)[0]["_id"]
    done = client.post(f"/api/alerts/{first}/acknowledge", json={"comment": "Skin check booked"})
    assert done.status_code == 200 and done.get_json()["state"] == "acknowledged"
    (entry,) = done.get_json()["history"]
    assert (entry["action"], entry["by"], entry["comment"]) == (
        "acknowledge",
        "tester[token tests]@127.0.0.1",
        "Skin check booked",
    )
    assert client.post(f"/api/alerts/{first}/acknowledge", json={}).status_code == 409  # not open any more
    refused = client.post(f"/api/alerts/{first}/close", json={"comment": " "})
    assert refused.status_code == 400 and set(refused.get_json()["errors"]) == {"comment"}
    assert client.post(f"/api/alerts/{first}/close", json={"comment": "No erythema at 4 weeks"}).status_code == 200
    assert client.post(f"/api/alerts/{first}/close", json={"comment": "again"}).status_code == 409
    assert client.post("/api/alerts/nosuchalert/close", json={"comment": "x"}).status_code == 404
    assert client.post(f"/api/alerts/{first}/close", json={"comment": 5}).status_code == 400
    logged = [(e["type"], e["outcome"], e["client"]) for e in store.events_after(0) if e["type"].startswith("alert-")]
    assert logged[-2:] == [
        ("alert-acknowledged", "acknowledged", "tester[token tests]@127.0.0.1"),
        ("alert-closed", "closed", "tester[token tests]@127.0.0.1"),
    ]
    assert [a["state"] for a in alerts(store)] == ["closed", "open", "open"]


def test_a_viewer_reads_alerts_and_only_an_admin_answers_them(
    client_with: Callable[..., FlaskClient], store: Store
) -> None:
    first = _three_alerts(store)[0]["_id"]
    viewer = client_with("viewer")
    assert len(viewer.get("/api/alerts").get_json()["alerts"]) == 3
    refused = viewer.post(f"/api/alerts/{first}/acknowledge", json={})
    assert refused.status_code == 403 and "'admin'" in refused.get_json()["message"]
    assert viewer.put("/api/alert-rules", json={"rules": []}).status_code == 403
    page = viewer.get("/alerts").get_data(as_text=True)
    assert "Acknowledge" not in page and page.count('class="state"') == 3


def test_the_alerts_page_lists_open_alerts_first_and_answers_from_its_forms(client: FlaskClient, store: Store) -> None:
    first, second, third = _three_alerts(store)
    client.post(f"/api/alerts/{third['_id']}/close", json={"comment": "expected for this protocol"})
    page = client.get("/alerts").get_data(as_text=True)
    assert page.index("TAVI") < page.index("PCI") < page.index("Chest")  # open ones first, newest first
    assert f'href="/studies/{first["study_instance_uid"]}"' in page and "expected for this protocol" in page
    assert "<script" not in page and "style=" not in page
    assert client.get("/alerts?station_name=CATH1").get_data(as_text=True).count('class="state"') == 1
    form = client.post(
        f"/api/alerts/{first['_id']}/acknowledge", data={"comment": "seen", "next": "/alerts?state=open"}
    )
    assert form.status_code == 303 and form.headers["Location"] == "/alerts?state=open"
    elsewhere = client.post(f"/api/alerts/{second['_id']}/acknowledge", data={"next": "https://evil.example/"})
    assert elsewhere.headers["Location"] == "/alerts"
    assert client.get("/alerts?state=gone").status_code == 400


def test_the_study_page_shows_its_alerts_and_for_pid_the_patients_cumulative_values(
    client_with: Callable[..., FlaskClient], store: Store
) -> None:
    write(store, data.fluoro(0.01, 3.0, 600.0, ["A"], when=day(1), patient=patient("k1"), description="Embolisation"))
    last = data.fluoro(0.01, 2.5, 600.0, ["A"], when=day(60), patient=patient("k1"), description="PCI")
    write(store, last)
    url = f"/studies/{last['study_instance_uid']}"
    physicist = client_with("viewer", "pid").get(url).get_data(as_text=True)
    assert "Cumulative dose at RP, 12 weeks" in physicist and "5.5 Gy over the 84 days to this study" in physicist
    earlier = alerts(store)[0]["details"]["studies"][0]
    assert (
        f'href="/studies/{earlier}"' in physicist
        and "Embolisation" in physicist
        and 'Embolisation <span class="muted">(ST1)</span>: 3 Gy' in physicist
    )
    viewer = client_with("viewer").get(url).get_data(as_text=True)
    assert "Cumulative dose at RP, 12 weeks" in viewer  # the alert itself
    assert "over the 84 days" not in viewer and "Embolisation" not in viewer  # no link to the patient's other studies


def test_the_rules_page_shows_the_table_and_an_admin_edits_it(
    client: FlaskClient, client_with: Callable[..., FlaskClient]
) -> None:
    page = client.get("/alert-rules").get_data(as_text=True)
    assert "Stecker" in page and "a CT Dose Check alert was triggered" in page and "<textarea" in page
    assert "<textarea" not in client_with("viewer").get("/alert-rules").get_data(as_text=True)
    bad = client.post("/alert-rules", data={"table": '{"rules": [{"name": "x"}]}'})
    assert bad.status_code == 400 and "rules.0.kind" in bad.get_data(as_text=True)
    saved = client.post("/alert-rules", data={"table": json.dumps({"rules": [DAP]})})
    assert saved.status_code == 303 and client.get("/api/alert-rules").get_json()["rules"][0]["name"] == "DAP"


def test_the_command_line(runner: Runner, store: Store, tmp_path: Path) -> None:
    listed = runner.invoke(["alert-rules", "list"])
    assert listed.exit_code == 0 and listed.stdout.splitlines()[0] == (
        "Fluoroscopy dose at RP\tstudy_total\tRF\tall stations\ttotal_rp_dose > 5 Gy"
    )
    assert listed.stdout.splitlines()[-1].startswith("No routes: alerts are listed")
    assert runner.invoke(["alerts", "list"]).stdout == "No alerts yet.\n"
    write(store, data.fluoro(0.02, 1.0, 60.0, ["A"], when=day(5), station="CATH1"))  # below the defaults
    table = tmp_path / "rules.json"
    table.write_text(json.dumps({"rules": [DAP], "routes": [{"recipients": ["cath@example.org"]}]}))
    loaded = runner.invoke(["alert-rules", "load", table])
    assert loaded.exit_code == 0 and loaded.stdout.startswith(f"Loaded 1 rules and 1 routes from {table} (version 2)")
    assert "route\tcath@example.org\tevery rule; every modality; every station" in loaded.stdout
    evaluated = runner.invoke(["alerts", "evaluate", "--from", "2026-01-01", "--to", "2026-01-31"])
    assert (
        evaluated.stdout
        == "Evaluated the alert rules over 1 studies dated from 2026-01-01 to 2026-01-31: 1 new alerts (DAP: 1).\n"
    )
    again = runner.invoke(["alerts", "evaluate", "--from", "2026-01-01"])
    assert "0 new alerts (studies already alerted keep their alert)" in again.stdout
    assert runner.invoke(["alerts", "evaluate", "--from", "2027-01-01"]).stdout.startswith("No studies are dated from")
    (row,) = runner.invoke(["alerts", "list", "--modality", "RF", "--state", "open"]).stdout.splitlines()
    assert row.split("\t")[1:7] == ["open", "DAP", "RF", "CATH1", "2026-01-05 10:00", "200 Gy·cm²"]
    assert len(store.outbox_items({})) == 1
    bad = tmp_path / "bad.json"
    bad.write_text('{"rules": [{"name": "x", "kind": "study_total"}]}')
    refused = runner.invoke(["alert-rules", "load", bad])
    assert refused.exit_code == 2 and "rules.0.modality" in refused.stderr
