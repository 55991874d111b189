"""Audits over the newest studies (``newest=N``): bounded reads for the charts above the lists."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient

from service.ingest.document import save_fragment
from service.reading.listing import FIRST_WINDOW
from service.storage import Store
from tests.studies import fragment


@pytest.fixture
def spread(store: Store) -> datetime:
    """Save six CT studies of the last days (DLP 100 each) and four of two years ago (DLP 900); return now."""
    now = datetime.now().replace(microsecond=0)
    for n in range(6):
        save_fragment(store, fragment(f"8.{n}", when=now - timedelta(days=n + 1), doses=(100.0,)), now=now)
    for n in range(4):
        save_fragment(store, fragment(f"8.9{n}", when=now - timedelta(days=730 + n), doses=(900.0,)), now=now)
    return now


def audit(client: FlaskClient, query: str, status: int = 200) -> dict:
    response = client.get(f"/api/audits/ct_dlp_by_study_description?per_station=no&{query}")
    assert response.status_code == status, response.get_json()
    return response.get_json()


def test_newest_reads_the_newest_windows_only(client: FlaskClient, spread: datetime) -> None:
    body = audit(client, "newest=3&modality=CT")
    window = spread - FIRST_WINDOW  # the server's clock has moved on by the time it runs (past midnight, a day)
    assert body["filters"]["date_from"] in (window.date().isoformat(), (window + timedelta(days=1)).date().isoformat())
    (row,) = body["rows"]
    assert (row["count"], row["median"]) == (6, 100.0)  # the whole first window: six studies, not the old ones


def test_newest_beyond_the_selection_takes_all_of_it(client: FlaskClient, spread: datetime) -> None:
    body = audit(client, "newest=50")
    assert "date_from" not in body["filters"]
    assert body["rows"][0]["count"] == 10


def test_newest_keeps_a_later_date_from(client: FlaskClient, spread: datetime) -> None:
    later = (spread - timedelta(days=3)).date().isoformat()
    body = audit(client, f"newest=3&date_from={later}")
    assert body["filters"]["date_from"] == later


@pytest.mark.parametrize("value", ["0", "-1", "x", "1e3", "100001", "٣"])
def test_a_bad_newest_is_a_400_naming_it(client: FlaskClient, spread: datetime, value: str) -> None:
    body = audit(client, f"newest={value}", status=400)
    assert "newest" in body["errors"]
