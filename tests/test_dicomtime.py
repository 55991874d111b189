"""DICOM DA, TM and DT parsing (service.extract.dicomtime), as scenarios.json lists."""

from datetime import datetime

import pytest

from service.extract.dicomtime import combine, parse_date, parse_datetime, parse_time


@pytest.mark.parametrize(
    ("value", "result"),
    [("20180131", datetime(2018, 1, 31)), (None, None), ("1234567890", None), ("asdf", None), ("20181331", None)],
)
def test_parse_date(value: str | None, result: datetime | None) -> None:
    assert parse_date(value) == result


@pytest.mark.parametrize(
    ("value", "result"),
    [("130426.214000-0600", "13:04:26.214000"), ("130426", "13:04:26"), (None, None), ("1234567890", None)],
)
def test_parse_time(value: str | None, result: str | None) -> None:
    assert parse_time(value) == result


@pytest.mark.parametrize(
    ("value", "result"),
    [
        ("20180629172304.023000+0515", datetime(2018, 6, 29, 17, 23, 4, 23000)),
        ("20180629172304.023000", datetime(2018, 6, 29, 17, 23, 4, 23000)),
        ("20180629", datetime(2018, 6, 29)),
        ("20180629172304", datetime(2018, 6, 29, 17, 23, 4)),
        (None, None),
        ("asdf", None),
    ],
)
def test_parse_datetime(value: str | None, result: datetime | None) -> None:
    assert parse_datetime(value) == result


def test_combine_date_and_time() -> None:
    assert combine("20130313", "085844") == datetime(2013, 3, 13, 8, 58, 44)
    assert combine("20130313", None) == datetime(2013, 3, 13)
    assert combine(None, "085844") is None
