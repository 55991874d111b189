"""Studies per list modality and station, kept at write time (service.storage.tallies and the store)."""

from __future__ import annotations

from datetime import datetime

from service.ingest.document import save_fragment
from service.storage import Store
from service.storage.tallies import TALLIES_BUILT, tally_changes, tally_documents
from tests.studies import fragment

NOW = datetime(2024, 3, 5)


def counts(store: Store) -> dict[tuple[str, str | None], tuple[int, datetime | None]]:
    return {(t["modality"], t["station_name"]): (t["count"], t.get("latest")) for t in store.tallies()}


def test_changes_move_a_study_between_tallies() -> None:
    before = {"modalities": ["CT"], "equipment": {"station_name": "A"}, "study_date_time": NOW}
    after = {"modalities": ["CT", "NM"], "equipment": {"station_name": "B"}, "study_date_time": NOW}
    assert tally_changes(before, after) == [(("CT", "A"), -1, None), (("CT", "B"), 1, NOW), (("NM", "B"), 1, NOW)]
    assert tally_changes(None, before) == [(("CT", "A"), 1, NOW)]
    assert tally_changes(before, None) == [(("CT", "A"), -1, None)]
    assert tally_changes({"modalities": ["SR"], "equipment": {}}, None) == []


def test_a_study_that_stays_in_its_tally_moves_it_only_with_a_later_date() -> None:
    before = {"modalities": ["CT"], "equipment": {"station_name": "A"}, "study_date_time": NOW}
    assert tally_changes(before, dict(before)) == []
    assert tally_changes(before, {**before, "study_date_time": datetime(2020, 1, 1)}) == []
    assert tally_changes(before, {**before, "study_date_time": None}) == []
    later = datetime(2025, 1, 1)
    assert tally_changes(before, {**before, "study_date_time": later}) == [(("CT", "A"), 0, later)]
    assert tally_changes({**before, "study_date_time": None}, before) == [(("CT", "A"), 0, NOW)]


def test_documents_count_with_their_latest_date() -> None:
    documents = [
        {"modalities": ["RF"], "equipment": {"station_name": "X"}, "study_date_time": datetime(2024, 1, 1)},
        {"modalities": ["RF"], "equipment": {"station_name": "X"}, "study_date_time": None},
        {"modalities": ["RF"], "equipment": {"station_name": "X"}, "study_date_time": datetime(2024, 2, 1)},
    ]
    assert tally_documents(documents) == {("RF", "X"): (3, datetime(2024, 2, 1))}


def test_store_keeps_tallies_through_creates_merges_and_rebuilds(store: Store) -> None:
    save_fragment(store, fragment("3.1", station="CT1", when=datetime(2024, 1, 1)), now=NOW)
    save_fragment(store, fragment("3.2", station="CT1", when=datetime(2024, 2, 1)), now=NOW)
    save_fragment(store, fragment("3.3", modality="MG", station="M1", when=None), now=NOW)
    # a second report of 3.2 names another station: the study moves
    moved = fragment("3.2", station="CT2", when=datetime(2024, 2, 1))
    moved["report"] = {**moved["report"], "sop_instance_uid": "3.2.98", "sha256": "f" * 64}
    save_fragment(store, moved, now=NOW)
    expected = {
        ("CT", "CT1"): (1, datetime(2024, 2, 1)),  # the latest date stays where it was reached
        ("CT", "CT2"): (1, datetime(2024, 2, 1)),
        ("MG", "M1"): (1, None),
    }
    assert counts(store) == expected
    store.rebuild_tallies()
    assert counts(store) == {**expected, ("CT", "CT1"): (1, datetime(2024, 1, 1))}
    assert store.db.counters.find_one({"_id": TALLIES_BUILT}) is not None


def test_bulk_insert_adds_to_the_tallies(store: Store) -> None:
    from service.ingest.merge import merge

    documents = [merge(None, fragment(f"2.{n}", station="DX1", modality="DX"), now=NOW).document for n in range(3)]
    store.insert_studies(documents)
    assert counts(store) == {("DX", "DX1"): (3, datetime(2024, 3, 1, 9, 30))}
    assert len(store.find_studies({"modalities": "DX"}, sort=[], limit=0)) == 3
