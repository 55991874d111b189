"""Reading patient-size CSV files (service.ingest.ris_file), without a database."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.errors import InvalidFile
from service.ingest.ris_file import SizeRow, changes_for, parse_sizes


def test_corpus_file(corpus: Path) -> None:
    rows = parse_sizes((corpus / "pt_size_import.csv").read_bytes(), "Acc num", "height", "weight")
    assert rows == [
        SizeRow(2, "ACC12345601", {"height_m": 1.7, "weight_kg": 90.0}),
        SizeRow(3, "74624646290", {"height_m": 1.65, "weight_kg": 80.6}),
        SizeRow(4, "00938475", {"height_m": 1.98, "weight_kg": 102.3}),
    ]


def test_byte_order_mark_semicolons_quotes_comma_decimals_and_blanks() -> None:
    data = '\ufeff"Accession";"Height (cm)";"Weight"\r\n"A1";"170,5";""\r\n\r\n"A;2";;"80"\r\n'.encode()
    assert parse_sizes(data, " accession ", "HEIGHT (CM)", "weight") == [
        SizeRow(2, "A1", {"height_m": 1.705}),
        SizeRow(4, "A;2", {"weight_kg": 80.0}),
    ]


def test_tabs_and_windows_1252_column_names() -> None:
    data = "Größe\tGewicht\tStudie\n172\t64\t1.2.3\n".encode("cp1252")
    assert parse_sizes(data, "Studie", "Größe", "Gewicht") == [
        SizeRow(2, "1.2.3", {"height_m": 1.72, "weight_kg": 64.0})
    ]


def test_a_quoted_cell_over_two_lines_keeps_the_line_numbers() -> None:
    rows = parse_sizes('id,h,w\n"a\nb",170,80\nc,180,90\n', "id", "h", "w")
    assert [(r.line, r.study) for r in rows] == [(2, "a\nb"), (4, "c")]


@pytest.mark.parametrize(
    ("height", "weight", "problem"),
    [
        ("abc", "80", "height 'abc' is not a number"),
        ("1.70", "80", "height 1.70 is not a plausible height in cm (20-300)"),
        ("170", "-5", "weight -5 is not a plausible weight in kg (0.2-700)"),
    ],
)
def test_unreadable_values_are_reported_per_row(height: str, weight: str, problem: str) -> None:
    (row,) = parse_sizes(f"id,h,w\nA,{height},{weight}\n", "id", "h", "w")
    assert row.problem == problem


def test_a_row_without_a_study_is_unreadable() -> None:
    (row,) = parse_sizes("id,h,w\n,170,80\n", "id", "h", "w")
    assert row.problem == "the study column is blank"


def test_missing_column_names_the_column_and_the_columns_found() -> None:
    with pytest.raises(InvalidFile, match=r"the file has no column 'height'; its columns are 'Acc num', 'weight'"):
        parse_sizes("Acc num,weight\nA,80\n", "Acc num", "height", "weight")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b" \n\n", "the file is empty"),
        (b'id,h,w\n"A,170,80\n', "line 2 is not readable as CSV: unexpected end of data"),
    ],
)
def test_files_that_cannot_be_used(data: bytes, message: str) -> None:
    with pytest.raises(InvalidFile, match=message):
        parse_sizes(data, "id", "h", "w")


@pytest.mark.parametrize(
    ("patient", "overwrite", "changes"),
    [
        ({"height_m": 1.86, "weight_kg": 87}, False, {}),
        ({"height_m": 1.86, "weight_kg": None}, False, {"weight_kg": 90.0}),
        ({}, False, {"height_m": 1.7, "weight_kg": 90.0}),
        ({"height_m": 1.86, "weight_kg": 87}, True, {"height_m": 1.7, "weight_kg": 90.0}),
        ({"height_m": 1.7, "weight_kg": 90.0}, True, {}),
    ],
)
def test_changes_fill_only_missing_values_unless_overwriting(
    patient: dict[str, float], overwrite: bool, changes: dict[str, float]
) -> None:
    assert changes_for(patient, {"height_m": 1.7, "weight_kg": 90.0}, overwrite=overwrite) == changes
