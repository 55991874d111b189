"""Which dose objects of a study a run fetches (service.dicomnet.selection), and the run criteria's schema."""

from __future__ import annotations

from datetime import date

import pytest

from schemas.pacs import parse_criteria, parse_node
from service.dicomnet.nodes import Node
from service.dicomnet.selection import (
    Criteria,
    FoundInstance,
    FoundSeries,
    FoundStudy,
    candidate_kind,
    description_refusal,
    plan,
    station_refusal,
)
from service.errors import InvalidArgument

XRAY_SR = "1.2.840.10008.5.1.4.1.1.88.67"
RADIOPHARMACEUTICAL_SR = "1.2.840.10008.5.1.4.1.1.88.68"
BASIC_TEXT_SR = "1.2.840.10008.5.1.4.1.1.88.11"
SC = "1.2.840.10008.5.1.4.1.1.7"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"
ALL = Criteria(date(2024, 1, 1), date(2024, 1, 31))


def series(uid: str, modality: str, description: str = "", number: int | None = None) -> FoundSeries:
    return FoundSeries(uid, modality, description, number)


def instances(sop_class: str, *numbers: int | None) -> list[FoundInstance]:
    return [FoundInstance(f"i{n}", sop_class, n) for n in numbers]


def picked(
    found: list[tuple[FoundSeries, list[FoundInstance]]], modalities: tuple[str, ...] = ALL.modalities
) -> dict[str, tuple[str, ...]]:
    candidates = [(s, kind, i) for s, i in found if (kind := candidate_kind(s, modalities)) is not None]
    return {pick.series.uid: pick.wanted for pick in plan(candidates)}


def test_a_ct_study_gives_its_dose_report_and_not_its_images() -> None:
    found = [(series("sr", "SR"), instances(XRAY_SR, 1)), (series("ct", "CT"), instances(CT_IMAGE, 1, 2, 3))]
    assert picked(found) == {"sr": ("i1",)}


def test_only_sr_classes_the_extractor_reads_are_taken_from_an_sr_series() -> None:
    mixed = [
        FoundInstance("report", XRAY_SR, 1),
        FoundInstance("text", BASIC_TEXT_SR, 2),
        FoundInstance("unknown", "", 3),
    ]
    assert picked([(series("sr", "SR"), mixed)]) == {"sr": ("report", "unknown")}  # class unknown: ingest decides


@pytest.mark.parametrize("modality", ["DX", "CR", "MG"])
def test_every_projection_image_is_an_exposure(modality: str) -> None:
    assert picked([(series("img", modality), instances("x", 2, 1))]) == {"img": ("i1", "i2")}


@pytest.mark.parametrize("modality", ["DX", "CR", "MG"])
def test_projection_images_are_left_out_when_an_xray_dose_report_has_their_exposures(modality: str) -> None:
    found = [(series("img", modality), instances("x", 1, 2)), (series("sr", "SR"), instances(XRAY_SR, 1))]
    assert picked(found) == {"sr": ("i1",)}


@pytest.mark.parametrize("modality", ["NM", "PT"])
def test_one_image_stands_for_an_nm_or_pet_series_even_beside_a_report(modality: str) -> None:
    found = [
        (series("img", modality), instances("x", 3, 1, 2)),
        (series("sr", "SR"), instances(RADIOPHARMACEUTICAL_SR, 1)),
    ]
    assert picked(found) == {"img": ("i1",), "sr": ("i1",)}
    candidates = [(s, candidate_kind(s, ALL.modalities) or "", i) for s, i in found]
    (image,) = [p for p in plan(candidates) if p.kind == "image"]
    assert image.still_wanted({"i3"}) == () and image.still_wanted(set()) == ("i1",)  # any image known covers it


def test_image_series_of_modalities_not_asked_for_are_left_out() -> None:
    found = [(series("pt", "PT"), instances("x", 1)), (series("sr", "SR"), instances(XRAY_SR, 1))]
    assert picked(found, ("CT",)) == {"sr": ("i1",)}


@pytest.mark.parametrize(
    "screen",
    [series("s", "CT", "Dose Info"), series("s", "OT"), series("s", "SC"), series("s", "CT", "", 999)],
    ids=["philips-dose-info", "ot", "sc", "ge-series-999"],
)
def test_dose_screens_are_fetched_only_without_a_dose_report(screen: FoundSeries) -> None:
    screens = [FoundInstance("screen", SC, 1), FoundInstance("image", CT_IMAGE, 2)]
    assert picked([(screen, screens)]) == {"s": ("screen",)}
    assert picked([(screen, screens), (series("sr", "SR"), instances(XRAY_SR, 1))]) == {"sr": ("i1",)}


def test_an_ordinary_image_series_is_no_candidate() -> None:
    assert candidate_kind(series("ct", "CT", "Thorax 1.0 B30f", 2), ALL.modalities) is None


def test_still_wanted_leaves_out_what_is_known() -> None:
    candidates = [(series("img", "DX"), "image", instances("x", 1, 2, 3))]
    (pick,) = plan(candidates)
    assert pick.still_wanted({"i2"}) == ("i1", "i3")


@pytest.mark.parametrize(
    ("filters", "refusal"),
    [
        ({}, None),
        ({"exclude_stations": ("kodak",)}, "its station name 'KODAK7500' contains 'kodak', which the run excludes"),
        ({"stations": ("ct",)}, "its station name 'DR1', 'KODAK7500' contains none of 'ct'"),
        ({"stations": ("dr", "ct")}, None),
    ],
)
def test_station_filters_match_any_series_station_ignoring_case(filters: dict, refusal: str | None) -> None:
    criteria = Criteria(ALL.date_from, ALL.date_to, **filters)
    found = [FoundSeries("a", "CR", station="KODAK7500"), FoundSeries("b", "CR", station="DR1"), FoundSeries("c", "SR")]
    assert station_refusal(criteria, found) == refusal


def test_a_study_without_a_description_fails_an_include_filter_and_passes_an_exclude() -> None:
    study = FoundStudy("1.2.3")
    assert description_refusal(Criteria(ALL.date_from, ALL.date_to, descriptions=("chest",)), study) == (
        "its study description (none given by the PACS) contains none of 'chest'"
    )
    assert description_refusal(Criteria(ALL.date_from, ALL.date_to, exclude_descriptions=("chest",)), study) is None


def test_criteria_round_trip_through_their_document() -> None:
    criteria = Criteria(date(2023, 5, 1), date(2023, 5, 2), ("CT", "SR"), ("a",), ("b",), ("c",), ("d",))
    assert Criteria.from_document(criteria.as_document()) == criteria
    assert criteria.date_range == "20230501-20230502"


def test_run_arguments_are_checked_and_named() -> None:
    criteria = parse_criteria(
        {"date_from": "2024-01-01", "date_to": "2024-01-02", "modalities": ["ct", "CT"], "stations": "CT1"}
    )
    assert criteria.modalities == ("CT",) and criteria.stations == ("CT1",)
    with pytest.raises(InvalidArgument) as raised:
        parse_criteria({"date_from": "2024-02-01", "date_to": "2024-01-01", "modalities": ["MR"], "other": 1})
    assert set(raised.value.errors) == {"modalities", "other"}  # the date check waits for valid fields
    with pytest.raises(InvalidArgument, match="date_to: Expected a date on or after date_from"):
        parse_criteria({"date_from": "2024-02-01", "date_to": "2024-01-01"})
    with pytest.raises(InvalidArgument, match="body: Expected a JSON object"):
        parse_criteria(["2024-01-01"])


def test_node_arguments_are_checked_and_named() -> None:
    assert parse_node({"name": "pacs", "ae_title": "PACS", "host": "10.0.0.1", "port": 104}) == Node(
        "pacs", "PACS", "10.0.0.1", 104, "move", None
    )
    with pytest.raises(InvalidArgument) as raised:
        parse_node({"name": "a b", "ae_title": "X" * 17, "host": "", "port": 70000, "retrieve": "push"})
    assert set(raised.value.errors) == {"name", "ae_title", "host", "port", "retrieve"}


def test_the_query_retrieve_settings_are_read_and_checked() -> None:
    from datetime import time

    from service.config import load_settings
    from service.errors import ConfigurationError

    settings = load_settings({"DOSELEDGER_PACS_NIGHTLY_NODE": "main", "DOSELEDGER_PACS_NIGHTLY_AT": "23:05"})
    assert (settings.pacs_nightly_node, settings.pacs_nightly_at, settings.pacs_nightly_days) == (
        "main",
        time(23, 5),
        7,
    )
    assert load_settings({}).pacs_nightly_node is None and load_settings({}).pacs_timeout == 30.0
    for variable, value in (
        ("DOSELEDGER_PACS_NIGHTLY_AT", "24:00"),
        ("DOSELEDGER_PACS_NIGHTLY_DAYS", "0"),
        ("DOSELEDGER_PACS_TIMEOUT", "x"),
    ):
        with pytest.raises(ConfigurationError, match=variable):
            load_settings({variable: value})
