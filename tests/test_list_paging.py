"""Paging a study list forward and back (service.reading.previous): the same pages, whatever the order."""

from __future__ import annotations

import html as markup
import itertools
import re
from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient

from schemas.query import parse_study_query
from service.ingest.document import save_fragment
from service.reading.listing import decode_cursor, list_studies
from service.reading.previous import previous_token, upward_windows
from service.storage import Store
from tests.studies import fragment

NOW = datetime(2024, 6, 1)
#: dates of the studies: two share a date-time, one is two years older (a later, wider window), two have none
DATES = [
    datetime(2024, 5, 30, 8), datetime(2024, 5, 20, 8), datetime(2024, 5, 20, 8), datetime(2024, 4, 1),
    datetime(2024, 2, 1), datetime(2022, 1, 1), None, None,
]  # fmt: skip


@pytest.fixture
def listed(store: Store) -> Store:
    for n, when in enumerate(DATES):
        save_fragment(store, fragment(f"9.{n}", when=when, station=f"ST{n % 3}"), now=NOW)
    return store


def visit(client: FlaskClient, url: str) -> tuple[list[str], str | None, str | None]:
    """Return the UIDs a list page shows, and its previous and next links."""
    text = client.get(url).get_data(as_text=True)
    uids = re.findall(r'href="/studies/([^"]+)"', text)
    links = {rel: markup.unescape(href) for rel, href in re.findall(r'rel="(prev|next)" href="([^"]+)"', text)}
    return uids, links.get("prev"), links.get("next")


@pytest.mark.parametrize("order", ["-study_date_time", "station_name", "study_date_time"])
@pytest.mark.parametrize("size", [2, 3])
def test_previous_pages_are_the_pages_seen_going_forward(
    client: FlaskClient, listed: Store, order: str, size: int
) -> None:
    url: str | None = f"/ct?order={order}&page_size={size}"
    forward: list[tuple[str, list[str]]] = []
    while url:
        uids, _, url_next = visit(client, url)
        forward.append((url, uids))
        url = url_next
    assert sorted(uid for _, page in forward for uid in page) == sorted(f"9.{n}" for n in range(len(DATES)))
    assert visit(client, forward[0][0])[1] is None  # the first page has no way back
    for (_, earlier), (url, _) in itertools.pairwise(forward):
        _, back, _ = visit(client, url)
        assert back is not None and visit(client, back)[0] == earlier, url


def test_previous_token_of_the_second_page_is_none(listed: Store) -> None:
    query = parse_study_query({"page_size": "3"}, modality="CT")
    first = list_studies(listed, query, now=NOW)
    second = parse_study_query({"page_size": "3", "after": first.next}, modality="CT")
    assert previous_token(listed, second, decode_cursor(second), now=NOW) is None  # back to the first page


def test_upward_windows_cover_the_range_oldest_first() -> None:
    low = datetime(2020, 1, 1)
    windows = list(upward_windows(low, None, now=datetime(2024, 1, 1)))
    assert windows[0] == (low, low + timedelta(days=31)) and windows[-1][1] is None
    assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
    assert list(upward_windows(low, datetime(2020, 1, 10), now=NOW)) == [(low, datetime(2020, 1, 10))]
