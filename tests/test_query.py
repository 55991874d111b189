"""The list arguments' schema (schemas.query) and the filter and sort built from them (service.reading.filters)."""

from __future__ import annotations

import itertools
import re
from datetime import date, datetime

import pytest

from schemas.query import StudyQuery, parse_study_query
from service.errors import InvalidArgument
from service.reading.filters import _combine, match_filter, study_filter, study_sort
from service.reading.listing import Cursor, date_windows, decode_cursor, encode_cursor


def errors_of(args: dict[str, str], **kwargs: str) -> dict[str, list[str]]:
    with pytest.raises(InvalidArgument) as caught:
        parse_study_query(args, **kwargs)
    return caught.value.errors


def test_no_arguments_list_everything_newest_first() -> None:
    query = parse_study_query({})
    assert query == StudyQuery()
    assert study_filter(query) == {}
    assert study_sort(query) == [("study_date_time", -1), ("study_instance_uid", -1)]


@pytest.mark.parametrize(
    ("modality", "condition"),
    [
        ("CT", "CT"),
        ("ct", "CT"),
        ("RF", "RF"),
        ("DX", "DX"),
        ("MG", "MG"),
        ("NM", "NM"),
    ],
)
def test_modality_selects_its_dicom_modalities(modality: str, condition: object) -> None:
    assert study_filter(parse_study_query({"modality": modality})) == {"modalities": condition}


def test_modality_from_the_path_wins_over_the_arguments() -> None:
    assert parse_study_query({"modality": "CT"}, modality="MG").modality == "MG"


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("station_name", "equipment.station_name"),
        ("manufacturer", "equipment.manufacturer"),
        ("manufacturer_model_name", "equipment.manufacturer_model_name"),
        ("institution_name", "equipment.institution_name"),
        ("study_description", "study_description"),
        ("requested_procedure_description", "requested_procedure_description"),
        ("accession_number", "accession_number"),
    ],
)
def test_text_filters_are_literal_case_insensitive_contains(name: str, path: str) -> None:
    condition = study_filter(parse_study_query({name: " a.b*(c) "}))[path]
    assert condition == {"$regex": re.escape("a.b*(c)"), "$options": "i"}
    assert re.search(condition["$regex"], "xA.B*(C)y", re.IGNORECASE)
    assert not re.search(condition["$regex"], "aXb*(c)", re.IGNORECASE)


def test_acquisition_protocol_searches_the_modality_section_events() -> None:
    ct = study_filter(parse_study_query({"acquisition_protocol": "head", "modality": "CT"}))
    assert ct["ct.events.acquisition_protocol"] == {"$regex": "head", "$options": "i"}
    anywhere = study_filter(parse_study_query({"acquisition_protocol": "head"}))
    assert anywhere["$or"] == [
        {"ct.events.acquisition_protocol": {"$regex": "head", "$options": "i"}},
        {"projection.events.acquisition_protocol": {"$regex": "head", "$options": "i"}},
    ]


def test_dates_are_inclusive_calendar_days_and_come_first() -> None:
    query = parse_study_query({"station_name": "x", "date_to": "2024-02-29", "date_from": "2024-02-01"})
    assert (query.date_from, query.date_to) == (date(2024, 2, 1), date(2024, 2, 29))
    built = study_filter(query)
    assert next(iter(built)) == "study_date_time"
    assert built["study_date_time"] == {"$gte": datetime(2024, 2, 1), "$lt": datetime(2024, 3, 1)}
    assert study_filter(parse_study_query({"date_to": "2024-12-31"}))["study_date_time"] == {
        "$lt": datetime(2025, 1, 1)
    }
    assert "study_date_time" not in match_filter(query)


def test_numeric_ranges_are_inclusive() -> None:
    built = study_filter(parse_study_query({"age_min": "18", "age_max": "65.5", "weight_min": "40", "events_max": "3"}))
    assert built["patient.age_years"] == {"$gte": 18, "$lte": 65.5}
    assert built["patient.weight_kg"] == {"$gte": 40}
    assert built["summary.number_of_events"] == {"$lte": 3}


@pytest.mark.parametrize(
    ("modality", "args", "expected"),
    [
        ("CT", {"dose_min": "100"}, {"summary.total_dlp": {"$gte": 100}}),
        ("RF", {"dose_min": "50", "dose_max": "2000"}, {"summary.total_dap": {"$gte": 50e-6, "$lte": 2000e-6}}),
        ("NM", {"dose_max": "400"}, {"summary.total_administered_activity": {"$lte": 400}}),
        (
            "MG",
            {"dose_min": "1.5"},
            {"$or": [{"summary.total_agd_left": {"$gte": 1.5}}, {"summary.total_agd_right": {"$gte": 1.5}}]},
        ),
    ],
)
def test_dose_range_uses_the_modality_main_quantity_in_shown_units(
    modality: str, args: dict[str, str], expected: dict[str, object]
) -> None:
    built = study_filter(parse_study_query(args, modality=modality))
    assert {k: v for k, v in built.items() if k != "modalities"} == expected


def test_alternatives_stay_flat_alone_and_combine_under_and() -> None:
    one, two = {"$or": [{"a": 1}, {"b": 1}]}, {"$or": [{"c": 1}, {"d": 1}]}
    assert _combine([{"m": "CT"}, one]) == {"m": "CT", **one}
    assert _combine([one, {"m": "CT"}, two]) == {"m": "CT", "$and": [one, two]}


@pytest.mark.parametrize(
    ("order", "sort"),
    [
        ("study_date_time", [("study_date_time", 1), ("study_instance_uid", 1)]),
        ("-station_name", [("equipment.station_name", -1), ("study_instance_uid", -1)]),
        ("study_description", [("study_description", 1), ("study_instance_uid", 1)]),
        ("-total_dose", [("summary.total_dlp", -1), ("study_instance_uid", -1)]),
    ],
)
def test_orderings(order: str, sort: list[tuple[str, int]]) -> None:
    assert study_sort(parse_study_query({"order": order, "modality": "CT"})) == sort


def test_mg_orders_by_each_breast() -> None:
    assert study_sort(parse_study_query({"order": "total_dose"}, modality="MG"))[:2] == [
        ("summary.total_agd_left", 1),
        ("summary.total_agd_right", 1),
    ]


def test_empty_form_fields_are_no_filter() -> None:
    assert parse_study_query({"station_name": "", "date_from": " ", "age_min": "", "modality": "CT"}) == StudyQuery(
        modality="CT"
    )


@pytest.mark.parametrize(
    ("args", "name", "expected"),
    [
        ({"modality": "US"}, "modality", "Expected one of CT, RF, DX, MG, NM."),
        ({"date_from": "2024-13-01"}, "date_from", "Expected a date as YYYY-MM-DD."),
        ({"date_to": "01/02/2024"}, "date_to", "Expected a date as YYYY-MM-DD."),
        ({"date_from": "2024-02-02", "date_to": "2024-02-01"}, "date_to", "Expected date_to on or after date_from."),
        ({"age_min": "old"}, "age_min", "Expected a number."),
        ({"weight_max": "-3"}, "weight_max", "Expected a number of at least 0."),
        ({"events_min": "nan"}, "events_min", "Expected a finite number."),
        ({"age_min": "50", "age_max": "20"}, "age_max", "Expected age_max on or after age_min."),
        ({"page_size": "501"}, "page_size", "Expected a whole number from 1 to 500."),
        ({"page_size": "ten"}, "page_size", "Expected a whole number from 1 to 500."),
        ({"order": "patient_name"}, "order", "Expected one of -study_date_time, study_date_time"),
        ({"dose_min": "3"}, "dose_min", "Expected together with modality"),
        ({"order": "-total_dose"}, "order", "Expected together with modality"),
        ({"station": "CT1"}, "station", "Unknown field."),
        ({"station_name": "x" * 201}, "station_name", "Expected at most 200 characters."),
    ],
)
def test_bad_arguments_are_named_with_what_was_expected(args: dict[str, str], name: str, expected: str) -> None:
    errors = errors_of(args)
    assert list(errors) == [name]
    assert errors[name][0].startswith(expected)


def test_invalid_argument_message_names_each_argument() -> None:
    with pytest.raises(InvalidArgument, match=r"Invalid arguments: age_min: Expected a number\.; modality: "):
        parse_study_query({"age_min": "x", "modality": "XX"})


def test_arguments_round_trip_for_links() -> None:
    args = {
        "modality": "CT",
        "station_name": "CT1",
        "date_from": "2024-01-01",
        "age_max": "80",
        "order": "station_name",
    }
    query = parse_study_query({**args, "page_size": "20"})
    assert query.arguments() == args
    assert parse_study_query(query.arguments()) == StudyQuery(**{**query.__dict__, "page_size": 50})


def test_cursor_round_trips_and_refuses_forgeries() -> None:
    cursor = Cursor(order="-study_date_time", last_date=datetime(2024, 5, 6, 7, 8, 9), last_uid="1.2.3")
    query = parse_study_query({"after": encode_cursor(cursor)})
    assert decode_cursor(query) == cursor
    assert decode_cursor(parse_study_query({})) is None
    with pytest.raises(InvalidArgument, match="after: Expected the token"):
        decode_cursor(parse_study_query({"after": "not-a-token"}))
    with pytest.raises(InvalidArgument, match="after: Expected a token made for order=station_name"):
        decode_cursor(parse_study_query({"after": encode_cursor(cursor), "order": "station_name"}))


def test_date_windows_cover_the_range_newest_first_and_grow() -> None:
    now = datetime(2026, 1, 1)
    windows = list(date_windows(None, None, now=now))
    assert windows[0] == (datetime(2025, 12, 1), None)
    assert windows[1] == (datetime(2025, 12, 1) - (now - datetime(2025, 12, 1)) * 4, datetime(2025, 12, 1))
    assert all(a[0] == b[1] for a, b in itertools.pairwise(windows))
    assert windows[-1][0] is None
    bounded = list(date_windows(datetime(2025, 11, 1), datetime(2025, 12, 20), now=now))
    assert bounded == [
        (datetime(2025, 11, 19), datetime(2025, 12, 20)),
        (datetime(2025, 11, 1), datetime(2025, 11, 19)),
    ]
