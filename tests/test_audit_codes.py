"""Audits grouped by a code (mammography view, radiopharmaceutical) group by code value and scheme, not meaning.

One code sent with two meanings ("cranio-caudal", "Cranio-caudal"), or as SNOMED RT
and SNOMED CT (``service.codes.normalised``), is one group; two codes sent with the
same meaning are two. A radiopharmaceutical sent as text only groups by its text.
Standard names still map a name as sent (a meaning, or that text). Every number
here is chosen, so each group's count and median are known; the API, the sliced
runner (through the API), the exports and the alerts agree (``mongosh``: tests/test_audits_mongosh.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from service.audits import pipeline, snomed
from service.codes import stored_key
from service.ingest.document import save_fragment
from service.ingest.pipeline import Pipeline
from service.storage import Store
from tests import auditdata as data
from tests.alerting import alerts, day, rule, use_rules, write
from tests.auditdata import AGENT, NOW, VIEW, coded, coded_studies
from tests.exporting import read_sheets
from tests.samples import image, to_bytes
from tests.srbuild import code_item, container, num_item, uid_item
from tests.test_audit_names import _pairs
from tests.test_audits_page import ARTIFACTS, open_audits
from tests.test_extract_radiopharmaceutical import _sct, rrdsr


@pytest.fixture
def coded_store(store: Store) -> Store:
    for fragment in coded_studies():
        save_fragment(store, fragment, now=NOW)
    return store


def rows_of(client: FlaskClient, audit: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/audits/{audit}", query_string={"per_station": "no", **params})
    assert response.status_code == 200, response.get_json()
    rows: list[dict[str, Any]] = response.get_json()["rows"]
    return rows


def groups(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Return each row's name, code, names as sent, count and median, in the audit's order."""
    return [(r["name"], r["code"], r.get("raw_names"), r["count"], r["median"]) for r in rows]


def test_mg_one_code_is_one_group_whatever_its_meaning_and_scheme(client: FlaskClient, coded_store: Store) -> None:
    assert groups(rows_of(client, "mg_agd_by_thickness")) == [
        # the meaning that sorts first names the group (capitals first); SRT R-10242 is SCT 399162004
        ("Cranio-caudal", "399162004 (SCT)", ["Cranio-caudal", "cranio-caudal"], 4, 2.5),
        ("cranio-caudal", "CC (99LOCAL)", ["cranio-caudal"], 2, 7.0),  # the same meaning, another code
        ("medio-lateral oblique", "399368009 (SCT)", ["medio-lateral oblique"], 1, 1.5),
    ]


def test_a_code_keeps_one_name_on_every_station(client: FlaskClient, coded_store: Store) -> None:
    rows = rows_of(client, "mg_agd_by_thickness", per_station="yes")
    same = [(r["name"], r["station"], r["count"]) for r in rows if r["code"] == "399162004 (SCT)"]
    assert same == [("Cranio-caudal", "MG-1", 3), ("Cranio-caudal", "MG-2", 1)]  # MG-2 sent "cranio-caudal" only


def test_nm_one_code_is_one_group_and_a_text_only_agent_groups_by_its_text(
    client: FlaskClient, coded_store: Store
) -> None:
    assert groups(rows_of(client, "nm_activity_by_agent")) == [
        ("FDG", None, ["FDG"], 2, 260.0),  # sent as text only: grouped by that text, not "(blank)"
        ("FDG", "35321007 (SCT)", ["FDG", "Fluorodeoxyglucose F^18^"], 3, 350.0),
        ("Fluorodeoxyglucose F^18^", "FDG18 (99LOCAL)", ["Fluorodeoxyglucose F^18^"], 2, 210.0),
    ]


def test_standard_names_map_names_as_sent_and_the_rest_stays_by_code(client: FlaskClient, coded_store: Store) -> None:
    coded_store.set_standard_name({**VIEW, "raw": "cranio-caudal", "standard": "CC"})
    assert groups(rows_of(client, "mg_agd_by_thickness", names="standard")) == [
        ("CC", None, ["cranio-caudal"], 4, 5.0),  # three codes sent as "cranio-caudal": 1, 4, 8, 6
        ("Cranio-caudal", "399162004 (SCT)", ["Cranio-caudal"], 2, 2.5),  # not mapped: still by its code
        ("medio-lateral oblique", "399368009 (SCT)", ["medio-lateral oblique"], 1, 1.5),
    ]
    coded_store.set_standard_name({**AGENT, "raw": "Fluorodeoxyglucose F^18^", "standard": "FDG F-18"})
    assert groups(rows_of(client, "nm_activity_by_agent", names="standard")) == [
        ("FDG", None, ["FDG"], 2, 260.0),
        ("FDG", "35321007 (SCT)", ["FDG"], 1, 350.0),
        ("FDG F-18", None, ["Fluorodeoxyglucose F^18^"], 4, 260.0),
    ]
    coded_store.set_standard_name({**AGENT, "raw": "FDG", "standard": "FDG F-18"})  # the text and the meaning
    assert groups(rows_of(client, "nm_activity_by_agent", names="standard")) == [
        ("FDG F-18", None, ["FDG", "Fluorodeoxyglucose F^18^"], 7, 270.0),
    ]


@pytest.mark.parametrize(("modality", "field"), [("MG", "image_view"), ("NM", "radiopharmaceutical_agent")])
def test_exports_name_each_name_as_sent_as_the_audits_do(coded_store: Store, modality: str, field: str) -> None:
    mappings = {"MG": ("cranio-caudal", "CC"), "NM": ("FDG", "FDG F-18")}
    raw, standard = mappings[modality]
    coded_store.set_standard_name({"modality": modality, "field": field, "raw": raw, "standard": standard})
    assert (
        _pairs(coded_store, modality, field)
        == {
            "MG": {"cranio-caudal": "CC", "Cranio-caudal": None, "medio-lateral oblique": None},
            "NM": {"FDG": "FDG F-18", "Fluorodeoxyglucose F^18^": None},  # the coded "FDG" and the text "FDG"
        }[modality]
    )


def test_exports_map_a_radiopharmaceutical_sent_as_text_by_its_text(client: FlaskClient, coded_store: Store) -> None:
    coded_store.set_standard_name({**AGENT, "raw": "FDG", "standard": "FDG F-18"})
    sheets = read_sheets(client.get("/api/exports/nm.xlsx").get_data())
    found = {(r["E1 Radiopharmaceutical"], r["E1 Radiopharmaceutical (as sent)"], r["E1 Standard radiopharmaceutical"])
             for r in sheets["All data"]}  # fmt: skip
    assert found == {(None, "FDG", "FDG F-18"), ("FDG", None, "FDG F-18"), ("Fluorodeoxyglucose F^18^", None, None)}


def test_alerts_find_the_reference_level_of_a_radiopharmaceutical_sent_as_text(store: Store) -> None:
    store.replace_reference_levels([{"name": "FDG", "quantity": "administered_activity", "value": 200.0,
                                     "unit": "MBq"}])  # fmt: skip
    use_rules(store, rule("2 x DRL", "reference_multiple", "NM", quantity="administered_activity", multiple=2))
    write(store, data.nuclear(None, 450.0, text="FDG", when=day(1)))  # 450 MBq > 2 x 200, named by its text
    write(store, data.nuclear(None, 450.0, text="Other", when=day(2)))  # no level: nothing
    assert [(a["value"], a["level"], a["details"]["reference_name"]) for a in alerts(store)] == [(450, 400, "FDG")]


def test_the_csv_shows_the_code_beside_the_name(client: FlaskClient, coded_store: Store) -> None:
    response = client.get("/api/audits/nm_activity_by_agent", query_string={"format": "csv", "per_station": "no"})
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0].startswith("name,code,raw_names,count,")
    assert [line.split(",")[:3] for line in lines[1:]] == [
        ["FDG", "", "FDG"], ["FDG", "35321007 (SCT)", "FDG; Fluorodeoxyglucose F^18^"],
        ["Fluorodeoxyglucose F^18^", "FDG18 (99LOCAL)", "Fluorodeoxyglucose F^18^"],
    ]  # fmt: skip


def test_the_page_shows_the_code_and_tells_rows_of_one_name_apart(page: Any, coded_store: Store) -> None:
    errors = open_audits(page, "/audits?audit=nm_activity_by_agent&per_station=no")
    headers = page.locator("#results thead th").all_inner_texts()
    assert headers[:4] == ["Radiopharmaceutical", "Code", "Names as sent", "Count"]
    cells = [row.locator("td").all_inner_texts()[:4] for row in page.locator("#results tbody tr").all()]
    assert cells == [
        ["FDG", "", "FDG", "2"], ["FDG", "35321007 (SCT)", "FDG; Fluorodeoxyglucose F^18^", "3"],
        ["Fluorodeoxyglucose F¹⁸", "FDG18 (99LOCAL)", "Fluorodeoxyglucose F^18^", "2"],
    ]  # fmt: skip
    labels = page.evaluate(
        "ids => ids.map(id => echarts.getInstanceByDom(document.getElementById(id)).getOption().yAxis[0].data)",
        ["chart-medians", "chart-box"],
    )
    assert labels == [["FDG", "FDG [35321007 (SCT)]", "Fluorodeoxyglucose F¹⁸"]] * 2
    legend = page.evaluate("echarts.getInstanceByDom(document.getElementById('chart-trend')).getOption().series"
                           ".map(s => s.name)")  # fmt: skip
    assert legend == labels[0]
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 1400})
        page.reload()
        page.wait_for_selector("body[data-ready=true]", timeout=30000)
        page.screenshot(path=str(ARTIFACTS / f"audits-codes-{width}.png"), full_page=True)
    assert errors == []


def _every_table_code(audit: str) -> list[dict[str, Any]]:
    """Return each SNOMED code of an audit's table as SNOMED CT, as SNOMED RT and as SNM3 with spaces around."""
    sent = []
    for srt, sct in pipeline.audits()[audit].constants["snomed_rt"].items():
        sent += [coded(sct, "SCT", "a"), coded(srt, "SRT", "b"), coded(f" {srt} ", "SNM3 ", "c")]
    return sent


def test_the_pipeline_normalises_codes_as_service_codes_does(store: Store) -> None:
    views, agents = _every_table_code("mg_agd_by_thickness"), _every_table_code("nm_activity_by_agent")
    views.append(coded("R-99999", "SRT", "a code not in the table"))
    mg = data.events("mg", [{"image_view": view, "average_glandular_dose": 1.0} for view in views])
    nm = [{"radiopharmaceutical_administration_event_uid": f"nm.{n}", "radiopharmaceutical_agent": agent,
           "administered_activity": 1.0} for n, agent in enumerate(agents)]  # fmt: skip
    for section, modality in (({"projection": {"events": mg}}, "MG"),
                              ({"radiopharmaceutical": {"administrations": nm}}, "NM")):  # fmt: skip
        save_fragment(store, data.study(modality, when=datetime(2025, 1, 1), section=section), now=NOW)
    for audit, sent, copies in (("mg_agd_by_thickness", views, 3), ("nm_activity_by_agent", agents, 3)):
        rows = pipeline_rows(store, audit)
        expected: dict[str, int] = {}
        for value in sent:
            scheme, code = stored_key(value)  # type: ignore[misc]
            expected[f"{code} ({scheme})"] = expected.get(f"{code} ({scheme})", 0) + 1
        assert {row["code"]: row["count"] for row in rows} == expected
        assert set(expected.values()) == {copies, 1} if audit.startswith("mg") else {copies}


def pipeline_rows(store: Store, audit: str) -> list[dict[str, Any]]:
    """Return the rows of the whole pipeline of ``audit`` (all stations together)."""
    return store.aggregate(pipeline.instantiate(pipeline.audits()[audit], {"per_station": "no"}, match={}))


def test_the_snomed_rt_tables_are_those_pydicom_gives() -> None:
    for name, groups in snomed.CONTEXT_GROUPS.items():
        assert pipeline.audits()[name].constants["snomed_rt"] == snomed.table(groups), (
            f"the SNOMED RT table of {name} is stale: PYTHONPATH=. .venv/bin/python -m service.audits.snomed"
        )
    assert {name for name, audit in pipeline.audits().items() if "coded" in audit.constants} == set(
        snomed.CONTEXT_GROUPS
    )
    assert pipeline.audits()["mg_agd_by_thickness"].constants["snomed_rt"]["R-10242"] == "399162004"


def _mammogram(view: tuple[str, str, str], organ_dose: str) -> bytes:
    """Return a digital mammogram whose View Code Sequence holds ``view`` (value, scheme, meaning)."""
    value, scheme, meaning = view
    code = Dataset()
    code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = value, scheme, meaning
    ds = image("1.2.840.10008.5.1.4.1.1.1.2", "MG", OrganDose=organ_dose, ImageLaterality="L",
               BodyPartThickness="45", StudyDate="20250303", StudyTime="090000", StationName="MG-1",
               ViewCodeSequence=Sequence([code]))  # fmt: skip
    return to_bytes(ds)


def _report(agent: tuple[str, str, str], activity: str) -> bytes:
    """Return a radiopharmaceutical dose report of one administration of ``agent`` (value, scheme, meaning)."""
    item = _sct(code_item("x", agent, "CONTAINS"), "349358000", "agent")
    ds = rrdsr(container("113502", item, num_item("113507", activity, "MBq"), uid_item("113503", f"1.2.3.{activity}")))
    ds.StudyDate, ds.StudyTime = "20250303", "090000"
    return to_bytes(ds)


def test_objects_sent_with_snomed_rt_and_snomed_ct_codes_group_together(
    client: FlaskClient, pipeline: Pipeline
) -> None:
    sent = [
        _mammogram(("R-10242", "SRT", "cranio-caudal"), "0.01"),
        _mammogram(("399162004", "SCT", "Cranio-caudal"), "0.03"),
        _report(("C-B1031", "SRT", "Fluorodeoxyglucose F^18^"), "300"),
        _report(("35321007", "SCT", "Fluorodeoxyglucose F^18^"), "500"),
    ]
    for n, data_ in enumerate(sent):
        assert pipeline.ingest(data_, name=f"{n}.dcm", via="cli", client="test").outcome == "created"
    [view] = rows_of(client, "mg_agd_by_thickness")
    assert (view["name"], view["code"], view["count"], view["median"]) == ("Cranio-caudal", "399162004 (SCT)", 2, 2.0)
    [agent] = rows_of(client, "nm_activity_by_agent")
    assert (agent["code"], agent["count"], agent["median"]) == ("35321007 (SCT)", 2, 400.0)
