"""The store functions exports read through: the most events in one study, and the study cursor."""

from __future__ import annotations

from typing import Any

from service.storage import Store


def study(uid: str, date: int, **sections: Any) -> dict[str, Any]:
    return {"study_instance_uid": uid, "study_date_time": None if date is None else f"2024-01-{date:02d}", **sections}


def ct(*protocols: str | None) -> dict[str, Any]:
    events = [{"irradiation_event_uid": str(n)} | ({"acquisition_protocol": p} if p else {}) for n, p in
              enumerate(protocols)]  # fmt: skip
    return {"ct": {"events": events}}


def test_most_events_in_one_matching_study(store: Store) -> None:
    store.db.studies.insert_many([
        study("1", 1, **ct("Head", "Neck", "Head", None)),
        study("2", 2, **ct()),
        study("3", 3),
        study("4", 4, **ct("Neck")),
        study("5", 5, **ct("Head", "Head", "Head", "Head", "Head")),
    ])  # fmt: skip
    assert store.most_events({"study_instance_uid": {"$in": ["1", "2", "3", "4"]}}, "ct.events") == 4
    assert store.most_events({}, "ct.events") == 5
    assert store.most_events({"study_instance_uid": "3"}, "ct.events") == 0
    assert store.most_events({"study_instance_uid": "none"}, "ct.events") == 0
    assert store.most_events({}, "projection.events") == 0


def test_iter_studies_yields_in_order_with_the_fields_asked(store: Store) -> None:
    store.db.studies.insert_many([study(str(n), n, **ct("Head")) for n in (3, 1, 2)])
    found = list(store.iter_studies({}, sort=[("study_date_time", -1)], fields={"_id": 0, "study_instance_uid": 1},
                                    batch_size=2))  # fmt: skip
    assert found == [{"study_instance_uid": "3"}, {"study_instance_uid": "2"}, {"study_instance_uid": "1"}]
