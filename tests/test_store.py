import threading
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

import pytest

from service.errors import DatabaseUnavailable, NotFound
from service.extract import extract
from service.ingest.document import save_fragment, stamp
from service.storage import Store, event_entry
from tests.roundtrips import counted_store
from tests.samples import ct_report

NOW = datetime(2026, 1, 1)


def fragment(**kwargs: Any) -> dict[str, Any]:
    result = extract(ct_report(**kwargs), not_patient_patterns=())
    result = stamp(result, sha256=result["report"]["sop_instance_uid"], received_at=NOW, via="cli")
    return result


def run_together(target: Callable[[Any], None], arguments: Iterable[Any]) -> None:
    """Call ``target`` with each argument, each in a thread of its own, and wait for all."""
    threads = [threading.Thread(target=target, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_indexes(store: Store) -> None:
    studies = store.db.studies.index_information()
    unique = [spec for spec in studies.values() if spec.get("unique")]
    assert [spec["key"] for spec in unique] == [[("study_instance_uid", 1)]]
    keys = {tuple(spec["key"]) for spec in studies.values()}
    assert (("modalities", 1), ("study_date_time", -1)) in keys
    assert (("ct.events.acquisition_protocol", 1),) in keys
    assert (("projection.events.acquisition_protocol", 1),) in keys
    assert any(key[0][0] == "equipment.station_name" for key in keys)
    assert any(
        spec.get("unique") and spec["key"] == [("seq", 1)] for spec in store.db.event_log.index_information().values()
    )


def test_save_read_and_duplicate(store: Store) -> None:
    part = fragment(dlp="12.5")
    assert save_fragment(store, part, now=NOW).outcome == "created"
    assert save_fragment(store, part, now=NOW).outcome == "duplicate"
    document = store.get_study(part["study_instance_uid"])
    assert "_id" not in document
    assert document["revision"] == 1 and document["summary"]["total_dlp"] == 12.5


def test_unknown_study_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound, match=r"1\.2\.3\.4"):
        store.get_study("1.2.3.4")


def test_concurrent_parts_of_one_study_lose_nothing(store: Store) -> None:
    study = "1.2.826.0.1.3680043.8.498.1"
    parts = [fragment(study_uid=study, dlp=str(index + 1)) for index in range(12)]
    barrier = threading.Barrier(len(parts))

    def save(part: dict[str, Any]) -> None:
        barrier.wait()
        save_fragment(store, part, now=NOW)

    run_together(save, parts)
    assert store.db.studies.count_documents({}) == 1
    document = store.get_study(study)
    assert len(document["ct"]["events"]) == 12 and len(document["reports"]) == 12
    assert document["summary"]["total_dlp"] == sum(range(1, 13))
    assert document["revision"] == 12


def test_a_study_not_written_lately_is_inserted_without_reading_first(mongo_uri: str, db_name: str) -> None:
    study = "1.2.826.0.1.3680043.8.498.7"
    first, second, third = (fragment(study_uid=study, dlp=str(dlp)) for dlp in (1, 2, 4))
    studies = ("studies", "tallies")
    with counted_store(mongo_uri, db_name) as (store, commands):
        assert save_fragment(store, first, now=NOW).outcome == "created"
        assert [c for c in commands.sent if c[1] in studies] == [("insert", "studies"), ("update", "tallies")]
        commands.sent.clear()
        assert save_fragment(store, second, now=NOW).outcome == "merged"  # written lately: read, then replace
        assert [c for c in commands.sent if c[1] in studies] == [("find", "studies"), ("update", "studies")]
    with counted_store(mongo_uri, db_name) as (other, commands):  # another process: the insert is refused
        assert save_fragment(other, third, now=NOW).outcome == "merged"
        assert [c[0] for c in commands.sent if c[1] == "studies"] == ["insert", "find", "update"]
        assert save_fragment(other, third, now=NOW).outcome == "duplicate"
        assert other.get_study(study)["summary"]["total_dlp"] == 7 and other.count_studies() == 1


def test_event_log_is_ordered_and_paged(store: Store) -> None:
    seqs = [store.append_event("received", via="cli", client="t", message=f"entry {n}") for n in range(5)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    first = store.events_after(0, limit=2)
    assert [entry["message"] for entry in first] == ["entry 0", "entry 1"]
    rest = store.events_after(first[-1]["seq"], limit=100)
    assert [entry["message"] for entry in rest] == ["entry 2", "entry 3", "entry 4"]
    assert store.events_after(seqs[-1]) == []
    assert set(first[0]) >= {
        "seq",
        "at",
        "type",
        "via",
        "client",
        "study_instance_uid",
        "sop_instance_uid",
        "sha256",
        "outcome",
        "message",
    }


def test_concurrent_appends_get_distinct_increasing_numbers(store: Store) -> None:
    def append(n: int) -> None:
        for _ in range(10):
            store.append_event("received", via="cli", client=str(n), message="x")

    run_together(append, range(4))
    entries = store.events_after(0, limit=1000)
    assert [entry["seq"] for entry in entries] == list(range(1, 41))


def test_writers_in_several_processes_number_without_gaps_or_repeats(mongo_uri: str, db_name: str) -> None:
    """Three stores (three processes' worth of clients), two threads each, appending pairs."""
    stores = [Store.connect(mongo_uri, db_name) for _ in range(3)]
    stores[0].ensure_indexes()  # the unique index on seq
    returned: dict[str, int] = {}

    def append(writer: tuple[int, int]) -> None:
        store = stores[writer[0]]
        for n in range(8):
            messages = [f"{writer} {n} received", f"{writer} {n} created"]
            entries = [event_entry("received", via="cli", client="t", message=message) for message in messages]
            returned.update(zip(messages, store.append_events(entries), strict=True))

    try:
        run_together(append, [(s, t) for s in range(3) for t in range(2)])
        entries = stores[0].events_after(0, limit=1000)
    finally:
        for store in stores:
            store.close()
    assert [entry["seq"] for entry in entries] == list(range(1, 97))
    assert {entry["message"]: entry["seq"] for entry in entries} == returned
    for writer in [(s, t) for s in range(3) for t in range(2)]:  # each writer's entries in its order
        mine = [returned[f"{writer} {n} {what}"] for n in range(8) for what in ("received", "created")]
        assert mine == sorted(mine)


def test_numbers_taken_by_another_process_are_skipped(store: Store) -> None:
    assert store.append_event("received", via="cli", client="t", message="one") == 1
    # Another process appends 2 and 3 while this one still believes 1 is the last.
    for seq in (2, 3):
        store.db.event_log.insert_one({**event_entry("received", via="cli", client="u", message=str(seq)), "seq": seq})
    # This store tries 2 and 3, both taken: it reads the last number and goes on after it.
    entries = [event_entry("received", via="cli", client="t", message=m) for m in ("mine a", "mine b")]
    assert store.append_events(entries) == [4, 5]
    # Now only the second of two numbers is taken: the first entry keeps 6, the second moves on.
    store.db.event_log.insert_one({**event_entry("received", via="cli", client="u", message="7"), "seq": 7})
    assert store.append_events(entries) == [6, 8]
    assert [entry["seq"] for entry in store.events_after(0)] == list(range(1, 9))


def test_an_append_whose_numbers_are_always_taken_gives_up(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.append_event("received", via="cli", client="t", message="one")
    monkeypatch.setattr(store, "_last_seq", lambda: 0)  # as if the last entry could never be read
    with pytest.raises(DatabaseUnavailable, match="numbers were taken 100 times"):
        store.append_event("received", via="cli", client="t", message="two")
    assert [entry["message"] for entry in store.events_after(0)] == ["one"]


def test_originals_are_kept_once(store: Store) -> None:
    assert store.keep_original("ab" * 32, b"bytes", name="a.dcm", via="cli", client="t", received_at=NOW, size=5)
    assert not store.keep_original("ab" * 32, b"bytes", name="b.dcm", via="http", client="u", received_at=NOW, size=5)
    assert store.read_original("ab" * 32) == b"bytes"
    assert store.has_original("ab" * 32) and store.count_originals() == 1
    [original] = list(store.iter_originals())
    assert (original.name, original.via, original.received_at, original.data) == ("a.dcm", "cli", NOW, b"bytes")
    with pytest.raises(NotFound):
        store.read_original("cd" * 32)


@pytest.mark.parametrize("size", [0, 1, 255 * 1024, 600 * 1024 + 7])
def test_originals_of_any_size_read_back_through_gridfs(store: Store, size: int) -> None:
    data = bytes(n % 251 for n in range(size))
    sha = f"{size:064x}"
    assert store.keep_original(sha, data, name="big.dcm", via="cli", client="t", received_at=NOW, size=size)
    assert store.read_original(sha) == data  # read by pymongo's GridFS reader: the documents follow the spec


BIG = bytes(n % 251 for n in range(600 * 1024 + 7))  # three chunks
BIG_SHA = "be" * 32


def keep_big(store: Store, name: str = "big.dcm") -> bool:
    return store.keep_original(BIG_SHA, BIG, name=name, via="cli", client="t", received_at=NOW, size=len(BIG))


def test_a_new_original_costs_two_writes_and_a_kept_one_a_write_and_a_read(mongo_uri: str, db_name: str) -> None:
    with counted_store(mongo_uri, db_name) as (store, commands):
        assert keep_big(store)
        assert commands.sent == [("insert", "originals.chunks"), ("insert", "originals.files")]
        commands.sent.clear()
        assert not keep_big(store, "again.dcm")
        assert commands.sent == [("insert", "originals.chunks"), ("find", "originals.files")]
        [original] = list(store.iter_originals())
    assert (original.name, original.data) == ("big.dcm", BIG)


def test_a_half_written_original_is_completed_by_the_next_keep(store: Store) -> None:
    """A process died after two of the three chunks, before the files entry: the same bytes again finish it."""
    chunks = store.db["originals.chunks"]
    chunks.insert_many(
        [{"files_id": BIG_SHA, "n": n, "data": BIG[n * 255 * 1024 : (n + 1) * 255 * 1024]} for n in (0, 1)]
    )
    assert not store.has_original(BIG_SHA)
    assert not keep_big(store, "again.dcm")
    assert store.read_original(BIG_SHA) == BIG and chunks.count_documents({"files_id": BIG_SHA}) == 3
    assert [original.name for original in store.iter_originals()] == ["again.dcm"]


def test_concurrent_keeps_of_the_same_bytes_make_one_complete_original(store: Store) -> None:
    barrier = threading.Barrier(6)
    kept: list[bool] = []

    def keep(n: int) -> None:
        barrier.wait()
        kept.append(keep_big(store, f"{n}.dcm"))

    run_together(keep, range(6))
    assert sorted(kept) == [False] * 5 + [True]
    assert store.read_original(BIG_SHA) == BIG and store.count_originals() == 1
    assert store.db["originals.chunks"].count_documents({}) == 3


def test_an_unreachable_database_is_unavailable() -> None:
    store = Store.connect("mongodb://127.0.0.1:1/?directConnection=true", "x", timeout=0.2)
    try:
        with pytest.raises(DatabaseUnavailable, match="cannot be reached"):
            store.ping()
        with pytest.raises(DatabaseUnavailable):
            store.get_study("1.2.3")
    finally:
        store.close()


def test_originals_are_paged_oldest_first(store: Store) -> None:
    for n in range(5):
        at = NOW + timedelta(seconds=n % 2)  # equal upload times are ordered by hash
        store.keep_original(f"{n:064x}", bytes([n]), name=f"{n}.dcm", via="cli", client="t", received_at=at, size=1)
    names = [original.name for original in store.iter_originals(batch=2)]
    assert sorted(names) == [f"{n}.dcm" for n in range(5)] and len(names) == 5


def test_pytest_mongodb_fixture_is_this_tests_database(mongodb: Any, store: Store) -> None:
    mongodb.studies.insert_one({"study_instance_uid": "1.2.3", "revision": 1})
    assert store.get_study("1.2.3") == {"study_instance_uid": "1.2.3", "revision": 1}


def test_entries_appended_together_get_consecutive_numbers_in_order(store: Store) -> None:
    def append(n: int) -> None:
        for _ in range(5):
            entries = [event_entry(kind, via="cli", client=str(n), message=kind) for kind in ("received", "created")]
            store.append_events(entries)

    run_together(append, range(4))
    entries = store.events_after(0, limit=1000)
    assert [entry["seq"] for entry in entries] == list(range(1, 41))
    pairs = [(first, second) for first, second in zip(entries[::2], entries[1::2], strict=True)]
    assert all((a["type"], b["type"]) == ("received", "created") and a["client"] == b["client"] for a, b in pairs)
    assert store.append_events([event_entry("export", via="http", client="t", message="x")]) == [41]
