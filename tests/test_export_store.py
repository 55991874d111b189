"""What exports read through: the keys of the selection in the list's order with the most events, then the studies."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from schemas.query import parse_study_query
from service.export import reader
from service.storage import Store

NOW = datetime(2024, 2, 1)


def study(uid: str, day: int | None, **sections: Any) -> dict[str, Any]:
    when = None if day is None else datetime(2024, 1, day, 12)
    return {"study_instance_uid": uid, "modalities": ["CT"], "study_date_time": when, **sections}


def ct(*protocols: str | None) -> dict[str, Any]:
    events = [{"irradiation_event_uid": str(n)} | ({"acquisition_protocol": p} if p else {}) for n, p in
              enumerate(protocols)]  # fmt: skip
    return {"ct": {"events": events}}


def uids(store: Store, keys: list[Any]) -> list[str]:
    return [doc["study_instance_uid"] for doc in reader.studies(store, keys, {"_id": 0, "study_instance_uid": 1})]


def test_the_most_events_in_one_selected_study(store: Store) -> None:
    store.db.studies.insert_many([
        study("1", 1, **ct("Head", "Neck", "Head", None)),
        study("2", 2, **ct()),
        study("3", 3),
        study("4", 4, **ct("Neck")),
        study("5", 5, **ct("Head", "Head", "Head", "Head", "Head")),
    ])  # fmt: skip
    assert reader.selection(store, parse_study_query({"date_to": "2024-01-04"}), "ct.events", now=NOW)[1] == 4
    assert reader.selection(store, parse_study_query({}), "ct.events", now=NOW)[1] == 5
    assert reader.selection(store, parse_study_query({"date_from": "2024-01-03", "date_to": "2024-01-03"}),
                            "ct.events", now=NOW)[1] == 0  # fmt: skip
    assert reader.selection(store, parse_study_query({"date_from": "2025-01-01"}), "ct.events", now=NOW) == ([], 0)
    assert reader.selection(store, parse_study_query({}), "projection.events", now=NOW)[1] == 0


def test_studies_come_in_the_lists_order_undated_last_with_the_fields_asked(store: Store) -> None:
    store.db.studies.insert_many([study(str(n), n, **ct("Head")) for n in (3, 1, 2)] + [study("0", None)])
    ids, _ = reader.selection(store, parse_study_query({}), "ct.events", now=NOW)
    assert uids(store, ids) == ["3", "2", "1", "0"]
    ids, _ = reader.selection(store, parse_study_query({"order": "study_date_time"}), "ct.events", now=NOW)
    assert uids(store, ids) == ["0", "1", "2", "3"]
    [first] = reader.studies(store, ids[:1], {"_id": 0, "study_instance_uid": 1, "ct": 1})
    assert first == {"study_instance_uid": "0"}


def test_a_selection_over_years_is_read_in_many_short_windows(store: Store, monkeypatch: Any) -> None:
    """Studies spread over ten years: every one is found once, in order, whatever the windows."""
    days = [NOW - timedelta(days=n * 37 + n % 3) for n in range(100)]
    store.db.studies.insert_many([{**study(f"{n:03d}", 1), "study_date_time": when} for n, when in enumerate(days)])
    windows: list[dict[str, Any]] = []
    keys = store.study_keys
    monkeypatch.setattr(
        store,
        "study_keys",
        lambda window, conditions, fields, seconds: (
            windows.append(window) or keys(window, conditions, fields, seconds=seconds)
        ),
    )
    ids, _ = reader.selection(store, parse_study_query({}), "ct.events", now=NOW)
    assert uids(store, ids) == [f"{n:03d}" for n in range(100)]
    assert len(windows) > 5
