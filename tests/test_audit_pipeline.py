"""The audit definitions instantiate into plain MongoDB pipelines (no database needed)."""

from __future__ import annotations

import itertools
import json

import pytest

from service.alerts.rules import audit_levels, default_table
from service.audits import pipeline
from service.errors import InvalidArgument

AUDITS = pipeline.audits()


def _all_choices(audit: pipeline.Audit) -> list[dict[str, str]]:
    options = [list(pipeline.common()["parameters"][name]["choices"]) for name in audit.parameters]
    return [dict(zip(audit.parameters, combo, strict=True)) for combo in itertools.product(*options)]


def _operators(node: object) -> set[str]:
    if isinstance(node, dict):
        return {k for k in node if k.startswith("$")} | {o for v in node.values() for o in _operators(v)}
    if isinstance(node, list):
        return {o for v in node for o in _operators(v)}
    return set()


def test_the_issue_audits_are_defined() -> None:
    expected = {
        "ct_dlp_by_protocol", "ct_ctdivol_by_protocol", "ct_dlp_by_study_description",
        "ct_ctdivol_by_study_description", "rf_dap_by_study_description", "rf_rp_dose_by_study_description",
        "rf_fluoro_time_by_study_description", "rf_dap_by_protocol", "rf_rp_dose_by_protocol",
        "rf_fluoro_time_by_protocol", "dx_dap_by_protocol", "mg_agd_by_thickness", "nm_activity_by_agent",
        "workload", "high_dose_alerts",
    }  # fmt: skip
    assert set(AUDITS) == expected
    for name, audit in AUDITS.items():
        assert audit.name == name and audit.title


@pytest.mark.parametrize("name", sorted(AUDITS))
def test_every_choice_instantiates_to_a_parameter_free_pipeline(name: str) -> None:
    audit = AUDITS[name]
    for choices in _all_choices(audit):
        stages = pipeline.instantiate(audit, choices, match={"modalities": "CT"}, alert_match={"x": 1})
        assert "$param" not in _operators(stages)
        assert all(isinstance(stage, dict) and len(stage) == 1 for stage in stages)
        assert stages[0] == {"$match": {"modalities": "CT"}}
        json.dumps(stages)  # plain JSON: what mongosh reads too


def test_standard_names_add_a_lookup_of_the_audits_modality_and_field() -> None:
    audit = AUDITS["ct_dlp_by_protocol"]
    raw = pipeline.instantiate(audit, {"names": "raw"}, match={})
    standard = pipeline.instantiate(audit, {"names": "standard"}, match={})
    lookups = [s["$lookup"]["from"] for s in standard if "$lookup" in s]
    assert lookups == ["standard_names", "reference_levels"]
    assert [s["$lookup"]["from"] for s in raw if "$lookup" in s] == ["reference_levels"]
    condition = json.dumps(standard)
    assert '{"$eq": ["$modality", "CT"]}' in condition
    assert '{"$eq": ["$field", "acquisition_protocol"]}' in condition
    assert '{"$eq": ["$quantity", "dlp"]}' in condition


def test_per_station_and_interval_choose_the_group_keys() -> None:
    audit = AUDITS["rf_dap_by_study_description"]
    stages = pipeline.instantiate(audit, {"names": "raw", "per_station": "no", "interval": "month"}, match={})
    project = next(s["$project"] for s in stages if "$project" in s)
    assert project["station"] == {"$ifNull": [{"$literal": None}, None]}
    assert project["month"] == {"$dateToString": {"format": "%Y-%m", "date": "$study_date_time"}}
    assert project["value"] == {"$multiply": ["$summary.total_dap", 1000000]}  # Gy·m² -> cGy·cm²
    assert {"$unwind": "$projection.events"} not in stages  # a study-level audit


def test_choices_default_and_bad_values_name_the_parameter() -> None:
    audit = AUDITS["ct_dlp_by_protocol"]
    assert pipeline.parse_choices(audit, {}) == {"names": "raw", "per_station": "yes", "interval": "all"}
    with pytest.raises(InvalidArgument) as raised:
        pipeline.parse_choices(audit, {"names": "nicknames", "interval": "week"})
    assert set(raised.value.errors) == {"names", "interval"}
    assert "Expected one of raw, standard." in raised.value.errors["names"]


def test_an_unknown_parameter_in_a_definition_is_an_error() -> None:
    audit = pipeline.Audit("x", "X", "statistics", (), {})
    with pytest.raises(KeyError, match="'scope'"):
        pipeline.instantiate(audit, {}, match={})


def test_alert_match_lists_each_level_of_each_rule() -> None:
    levels = audit_levels(default_table())
    assert pipeline.alert_match(levels) == {
        "$or": [
            {"modalities": {"$in": ["RF"]}, "summary.total_rp_dose": {"$gt": 5.0}},
            {"modalities": {"$in": ["RF"]}, "summary.total_dap": {"$gt": 0.05}},  # 500 Gy·cm²
        ]
    }
    cath = {"cath": {"modalities": ["RF"], "stations": ["CATH1"], "levels": {"total_dap": 0.01}}}
    assert pipeline.alert_match(cath) == {
        "$or": [
            {
                "modalities": {"$in": ["RF"]},
                "equipment.station_name": {"$in": ["CATH1"]},
                "summary.total_dap": {"$gt": 0.01},
            }
        ]
    }
    assert pipeline.alert_match({}) == {"study_instance_uid": {"$in": []}}


def test_describe_gives_parameters_and_quantity_unit() -> None:
    described = pipeline.describe(AUDITS["rf_dap_by_protocol"])
    assert described["quantity"]["unit"] == "cGy·cm²"
    assert described["parameters"]["names"]["default"] == "raw"
    assert pipeline.describe(AUDITS["workload"])["parameters"] == {}
