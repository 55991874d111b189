"""Alert rules of each kind against studies built in code, and the shipped defaults (service.alerts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.alerts.rules import default_table
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests import auditdata as data
from tests.alerting import alerts, day, patient, rule, use_rules, write


def test_the_defaults_are_stored_at_first_use_and_watch_fluoroscopy_and_ct_dose_check(store: Store) -> None:
    assert store.alert_table() is None
    write(store, data.fluoro(0.04, 4.9, 600.0, ["Cardiac"], when=day(1)))  # 400 Gy·cm², 4.9 Gy: below both
    assert alerts(store) == [] and store.alert_table(fresh=True)["version"] == 1
    names = [r["name"] for r in default_table()["rules"]]
    assert names == [
        "Fluoroscopy dose at RP",
        "Fluoroscopy DAP",
        "Cumulative dose at RP, 12 weeks",
        "CT Dose Check alert",
    ]
    entries = write(store, data.fluoro(0.0612, 5.2, 900.0, ["Cardiac"], when=day(2), station="CATH1"))
    found = {a["rule"]: (a["value"], a["level"], a["unit"]) for a in alerts(store)}
    assert found == {"Fluoroscopy dose at RP": (5.2, 5, "Gy"), "Fluoroscopy DAP": (612, 500, "Gy·cm²")}
    assert [e["type"] for e in entries] == ["alert", "alert"] and entries[1]["client"] == "tests"
    assert entries[1]["message"] == (
        f"Alert Fluoroscopy DAP: 612 Gy·cm² (level 500 Gy·cm²) in study {entries[1]['study_instance_uid']}."
    )


def test_a_study_total_in_any_unit_of_its_dimension_and_only_on_its_stations(store: Store) -> None:
    use_rules(
        store,
        rule("DAP", "study_total", "RF", quantity="total_dap", level=20000, unit="cGy.cm2", stations=["CATH1"]),
        rule("MG", "study_total", "MG", quantity="agd_per_breast", level=3, unit="mGy"),
        rule("NM", "study_total", "NM", quantity="total_administered_activity", level=0.5, unit="GBq"),
    )
    write(store, data.fluoro(0.025, 1.0, 60.0, ["A"], when=day(1), station="CATH1"))  # 25,000 cGy·cm²
    write(store, data.fluoro(0.025, 1.0, 60.0, ["A"], when=day(1), station="FLUORO2"))  # not its station
    write(store, data.fluoro(0.015, 1.0, 60.0, ["A"], when=day(1), station="CATH1"))  # 15,000: below
    write(store, data.mammography([("CC", 50, 2.0, "L"), ("MLO", 50, 1.5, "L"), ("CC", 50, 1.0, "R")], when=day(2)))
    write(store, data.nuclear("FDG", 400.0, when=day(3)))
    write(store, data.nuclear("FDG", 600.0, when=day(3)))
    found = [(a["rule"], a["value"], a["level"], a["unit"], a["station_name"]) for a in alerts(store)]
    assert found == [
        ("DAP", 25000, 20000, "cGy·cm²", "CATH1"),
        ("MG", 3.5, 3, "mGy", "ST1"),
        ("NM", 0.6, 0.5, "GBq", "ST1"),
    ]


def test_an_event_value_names_the_highest_event(store: Store) -> None:
    use_rules(
        store,
        rule("CTDIvol", "event_value", "CT", quantity="mean_ctdivol", level=80, unit="mGy"),
        rule("DX DAP", "event_value", "DX", quantity="dose_area_product", level=5, unit="Gy.cm2"),
    )
    write(store, data.ct([("Head", 700.0), ("Perfusion", 2500.0), ("Perfusion 2", 900.0)], when=day(1)))
    write(store, data.ct([("Head", 790.0)], when=day(1)))  # CTDIvol 79 mGy: below
    write(store, data.radiography([("Pelvis", 6e-4), ("Chest", 1e-5)], when=day(2)))  # 6 Gy·cm²
    ct, dx = alerts(store)
    assert (ct["value"], ct["level"], ct["unit"]) == (250, 80, "mGy")
    assert ct["details"]["event"]["acquisition_protocol"] == "Perfusion" and ct["details"]["events_above"] == 2
    assert (dx["value"], dx["unit"], dx["details"]["event"]["acquisition_protocol"]) == (6, "Gy·cm²", "Pelvis")


def test_a_multiple_of_the_reference_level_of_the_standard_name(store: Store) -> None:
    store.set_standard_name(
        {"modality": "CT", "field": "acquisition_protocol", "raw": "HEAD ROUTINE", "standard": "Head"}
    )
    store.replace_reference_levels([
        {"name": "Head", "quantity": "dlp", "value": 1000.0, "unit": "mGy·cm"},
        {"name": "CT HEAD", "quantity": "dlp", "value": 900.0, "unit": "mGy·cm"},
    ])  # fmt: skip
    use_rules(
        store,
        rule("2 x DRL per scan", "reference_multiple", "CT", quantity="dlp", multiple=2),
        rule("1.5 x DRL per study", "reference_multiple", "CT", quantity="total_dlp", multiple=1.5),
    )
    write(store, data.ct([("HEAD ROUTINE", 1900.0)], when=day(1), description="CT HEAD"))  # 1900 > 1.5 x 900
    write(store, data.ct([("HEAD ROUTINE", 2100.0)], when=day(2), description="Other"))  # no study level
    write(store, data.ct([("Unmapped", 5000.0)], when=day(3), description="Other"))  # no level: nothing
    found = [(a["rule"], a["value"], a["level"], a["unit"], a["details"]["reference_name"]) for a in alerts(store)]
    assert found == [
        ("1.5 x DRL per study", 1900, 1350, "mGy·cm", "CT HEAD"),
        ("2 x DRL per scan", 2100, 2000, "mGy·cm", "Head"),
    ]


def test_the_sum_of_two_studies_of_one_patient_crosses_the_cumulative_level(store: Store) -> None:
    write(store, data.fluoro(0.01, 3.0, 600.0, ["A"], when=day(1), patient=patient("k1")))
    write(store, data.fluoro(0.01, 4.5, 600.0, ["A"], when=day(10), patient=patient("k2")))  # another patient
    assert alerts(store) == []  # 3 Gy and 4.5 Gy: neither alone above 5 Gy
    second = data.fluoro(0.01, 2.5, 600.0, ["A"], when=day(60), patient=patient("k1"))
    write(store, second)
    (alert,) = alerts(store)
    assert (alert["rule"], alert["value"], alert["level"], alert["unit"]) == (
        "Cumulative dose at RP, 12 weeks",
        5.5,
        5,
        "Gy",
    )
    assert alert["study_instance_uid"] == second["study_instance_uid"] and len(alert["details"]["studies"]) == 2
    write(store, data.fluoro(0.01, 1.0, 600.0, ["A"], when=day(70), patient=patient("k1")))
    assert len(alerts(store)) == 1  # the same episode: its studies already carry the alert
    write(store, data.fluoro(0.01, 1.0, 600.0, ["A"], when=day(200), patient=patient("k1")))
    write(store, data.fluoro(0.01, 4.0, 600.0, ["A"], when=day(90), patient=patient("k2")))  # 80 days after 4.5 Gy
    assert len(alerts(store)) == 2 and alerts(store)[1]["details"]["studies"][0] != second["study_instance_uid"]


def test_a_late_report_of_an_earlier_study_counts_in_the_window_of_a_later_one(store: Store) -> None:
    use_rules(
        store, rule("CT count", "cumulative", "CT", quantity="study_count", level=2, unit="studies", window_days=365)
    )
    write(store, data.ct([("Chest", 100.0)], when=day(300), patient=patient("k9")))
    write(store, data.ct([("Chest", 100.0)], when=day(200), patient=patient("k9")))
    late = data.ct([("Chest", 100.0)], when=day(20), patient=patient("k9"))  # sent last, dated first
    write(store, late)
    (alert,) = alerts(store)
    assert (alert["value"], alert["level"], alert["unit"], alert["study_instance_uid"]) == (
        3,
        2,
        "studies",
        late["study_instance_uid"],
    )


def _ct_with_dose_check(check: dict[str, object], **kwargs: object) -> dict[str, object]:
    fragment = data.ct([("Head", 1200.0)], **kwargs)
    fragment["ct"]["events"][0]["dose_check"] = check
    return fragment


NOT_CONFIGURED = {"code_value": "R-00339", "coding_scheme_designator": "SRT", "code_meaning": "No"}
CONFIGURED = {"code_value": "R-0038D", "coding_scheme_designator": "SRT", "code_meaning": "Yes"}


def test_a_ct_dose_check_alert_that_was_triggered_not_one_merely_configured(store: Store) -> None:
    configured = {"alert": {"ctdivol_alert_value_configured": CONFIGURED, "ctdivol_alert_value": 1000.0,
                            "dlp_alert_value_configured": NOT_CONFIGURED}}  # fmt: skip
    write(store, _ct_with_dose_check(configured, when=day(1)))  # as in every Siemens report of the corpus
    notified = {"notification": {"dlp_notification_value": 1000.0, "dlp_forward_estimate": 1200.0}}
    write(store, _ct_with_dose_check(notified, when=day(2)))  # the default rule watches alerts only
    assert alerts(store) == []
    triggered = {"alert": {"dlp_alert_value": 1000.0, "accumulated_dlp_forward_estimate": 1450.0,
                           "reason_for_proceeding": "obese patient"}}  # fmt: skip
    write(store, _ct_with_dose_check(triggered, when=day(3)))
    (alert,) = alerts(store)
    assert (alert["rule"], alert["value"], alert["level"], alert["unit"]) == (
        "CT Dose Check alert",
        1450,
        1000,
        "mGy·cm",
    )
    assert alert["details"]["check"] == "alert" and alert["details"]["quantity"] == "DLP"
    use_rules(store, rule("Either", "dose_check", "CT", check="either"))
    write(store, _ct_with_dose_check(notified, when=day(4)))
    assert [a["rule"] for a in alerts(store)] == ["CT Dose Check alert", "Either"]


def test_a_growing_report_alerts_once_when_it_crosses(pipeline: Pipeline, store: Store, corpus: Path) -> None:
    use_rules(store, rule("CT DLP", "study_total", "CT", quantity="total_dlp", level=100, unit="mGy.cm"))
    for number in (1, 2, 3, 3, 2):  # 7.46, 77.27, 236.09 mGy·cm; then the same objects again
        name = f"CT-RDSR-Siemens-Multi-{number}.dcm"
        pipeline.ingest((corpus / name).read_bytes(), name=name, via="cli", client="tests")
    (alert,) = alerts(store)
    assert alert["value"] == pytest.approx(236.09) and alert["state"] == "open"
    logged = [e for e in store.events_after(0, limit=100) if e["type"] in ("created", "merged", "duplicate", "alert")]
    assert [e["type"] for e in logged] == ["created", "merged", "merged", "alert", "duplicate", "duplicate"]
    assert logged[3]["seq"] == logged[2]["seq"] + 1  # logged with the report that crossed


def test_test_patients_are_alerted_but_never_sent(store: Store) -> None:
    use_rules(
        store,
        rule("DAP", "study_total", "RF", quantity="total_dap", level=1, unit="Gy.cm2"),
        routes=[{"recipients": ["physicist@example.org"]}],
    )
    write(store, data.fluoro(0.01, 1.0, 60.0, ["A"], when=day(1), patient={"not_patient_indicator": "IDs: qa"}))
    write(store, data.fluoro(0.01, 1.0, 60.0, ["A"], when=day(1)))
    assert [a["test_patient"] for a in alerts(store)] == [True, False]
    assert [item["alert"] for item in store.outbox_items({})] == [alerts(store)[1]["_id"]]


def test_a_disabled_rule_raises_nothing(store: Store) -> None:
    use_rules(store, rule("DAP", "study_total", "RF", quantity="total_dap", level=1, unit="Gy.cm2", enabled=False))
    write(store, data.fluoro(0.01, 1.0, 60.0, ["A"], when=day(1)))
    assert alerts(store) == []
