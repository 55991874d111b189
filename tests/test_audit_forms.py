"""Pin each aggregation form the audit pipelines rely on (DESIGN.md, Database).

SecantusDB 0.7 deviates from MongoDB in places: a field path that crosses an
array inside an expression evaluates to nothing there, and its ``$median`` and
``$percentile`` accumulators are exact where MongoDB's are t-digest
approximations. The audits therefore only use the forms below, whose answers
are the same on both servers; these tests run against whichever server the
suite uses (``MONGODB_URI``), so they also check MongoDB itself.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import pytest
from pymongo.database import Database
from pymongo.errors import OperationFailure

from service.audits import pipeline

STATISTICS = pipeline.common()["fragments"]["statistics"]


@pytest.fixture
def events(mongodb: Database[dict[str, Any]]) -> Database[dict[str, Any]]:
    mongodb.studies.insert_many([
        {"n": 1, "when": datetime(2025, 1, 6, 9), "ct": {"events": [{"p": "A", "dlp": 1.0}, {"p": "B", "dlp": 4.0}]}},
        {"n": 2, "when": datetime(2025, 2, 9, 23), "ct": {"events": [{"p": "A", "dlp": 2.0}, {"p": "A", "dlp": 10.0}]}},
        {"n": 3, "when": None, "ct": {"events": [{"p": "A", "dlp": 3.0}, {"p": "A", "dlp": "n/a"}]}},
    ])  # fmt: skip
    mongodb.names.insert_one({"raw": "A", "standard": "Alpha"})
    return mongodb


def test_unwind_then_group_reaches_every_event(events: Database[dict[str, Any]]) -> None:
    rows = events.studies.aggregate([
        {"$unwind": "$ct.events"}, {"$project": {"p": "$ct.events.p", "v": "$ct.events.dlp"}},
        {"$match": {"v": {"$type": "number"}}}, {"$group": {"_id": "$p", "values": {"$push": "$v"}}},
        {"$sort": {"_id": 1}},
    ])  # fmt: skip
    assert [(r["_id"], sorted(r["values"])) for r in rows] == [("A", [1, 2, 3, 10]), ("B", [4])]


def test_statistics_fragment_interpolates_quartiles_exactly(events: Database[dict[str, Any]]) -> None:
    stages = [{"$unwind": "$ct.events"}, {"$match": {"ct.events.dlp": {"$type": "number"}}},
              {"$group": {"_id": {"name": "all"}, "values": {"$push": "$ct.events.dlp"}}}, *STATISTICS]  # fmt: skip
    [row] = events.studies.aggregate(stages)
    assert {k: row[k] for k in ("count", "mean", "p25", "median", "p75", "min", "max")} == {
        "count": 5,
        "mean": 4.0,
        "p25": 2.0,
        "median": 3.0,
        "p75": 4.0,
        "min": 1.0,
        "max": 10.0,
    }
    stages[1] = {"$match": {"ct.events.dlp": {"$in": [1.0, 2.0, 4.0, 10.0]}}}
    [row] = events.studies.aggregate(stages)
    assert (row["p25"], row["median"], row["p75"]) == (1.75, 3.0, 5.5)  # between ranks, not a data point


def test_map_over_an_array_reads_its_elements(events: Database[dict[str, Any]]) -> None:
    rows = events.studies.aggregate([{"$sort": {"n": 1}}, {"$project": {"_id": 0, "v": {"$map": {
        "input": "$ct.events", "in": "$$this.dlp"}}}}])  # fmt: skip
    assert [r["v"] for r in rows] == [[1.0, 4.0], [2.0, 10.0], [3.0, "n/a"]]


@pytest.mark.skipif(bool(os.environ.get("MONGODB_URI")), reason="a SecantusDB deviation; MongoDB gives 5.0")
def test_secantusdb_path_across_an_array_in_an_expression_gives_nothing(events: Database[dict[str, Any]]) -> None:
    """Why the audits unwind or read ``summary`` instead of ``{"$sum": "$ct.events.dlp"}``."""
    [row] = events.studies.aggregate([{"$match": {"n": 1}}, {"$project": {"s": {"$sum": "$ct.events.dlp"}}}])
    assert row["s"] == 0


def test_lookup_with_let_and_pipeline_then_first_element(events: Database[dict[str, Any]]) -> None:
    rows = events.studies.aggregate([
        {"$unwind": "$ct.events"}, {"$group": {"_id": {"name": "$ct.events.p"}}}, {"$sort": {"_id.name": 1}},
        {"$lookup": {"from": "names", "let": {"raw": "$_id.name"}, "pipeline": [
            {"$match": {"$expr": {"$eq": ["$raw", "$$raw"]}}}, {"$project": {"_id": 0, "standard": 1}}],
            "as": "standard"}},
        {"$set": {"standard": {"$arrayElemAt": ["$standard", 0]}}},
        {"$project": {"_id": 0, "name": {"$ifNull": ["$standard.standard", "$_id.name"]}}},
    ])  # fmt: skip
    assert [r["name"] for r in rows] == ["Alpha", "B"]


def test_date_parts_of_a_naive_local_date_time(events: Database[dict[str, Any]]) -> None:
    rows = events.studies.aggregate([{"$match": {"when": {"$type": "date"}}}, {"$sort": {"n": 1}}, {"$project": {
        "_id": 0, "month": {"$dateToString": {"format": "%Y-%m", "date": "$when"}},
        "weekday": {"$isoDayOfWeek": "$when"}, "hour": {"$hour": "$when"}}}])  # fmt: skip
    assert list(rows) == [{"month": "2025-01", "weekday": 1, "hour": 9}, {"month": "2025-02", "weekday": 7, "hour": 23}]


def test_concatenating_pushed_arrays_and_comparing_with_a_missing_level(events: Database[dict[str, Any]]) -> None:
    [row] = events.studies.aggregate([{"$limit": 1}, {"$project": {"_id": 0,
        "joined": {"$reduce": {"input": [[1, 2], [3]], "initialValue": [], "in": {"$concatArrays": ["$$value", "$$this"]}}},
        "flag": {"$cond": [{"$isNumber": "$missing.value"}, {"$gt": [1, "$missing.value"]}, None]}}}])  # fmt: skip
    assert row == {"joined": [1, 2, 3], "flag": None}


def test_a_missing_or_removed_group_key_field_is_left_out_of_the_key(events: Database[dict[str, Any]]) -> None:
    """Audits not grouped by a code have no ``code`` in their keys or rows (``"$$REMOVE"``, a missing path)."""
    rows = events.studies.aggregate([
        {"$project": {"n": 1, "code": {"$cond": [{"$eq": ["$n", 1]}, "A", "$$REMOVE"]}}},
        {"$group": {"_id": {"code": "$code", "gone": {"$cond": [True, "$$REMOVE", 1]}}, "count": {"$sum": 1}}},
        {"$project": {"_id": 0, "code": "$_id.code", "count": 1}}, {"$sort": {"count": 1}},
    ])  # fmt: skip
    assert list(rows) == [{"count": 1, "code": "A"}, {"count": 2}]


def test_the_least_value_of_each_partition_over_every_document(events: Database[dict[str, Any]]) -> None:
    """How a code's rows get one name: the least meaning over all its rows, nulls ignored, a missing key a partition."""
    rows = events.aggregate([
        {"$documents": [{"k": "a", "m": "b"}, {"k": "a", "m": "B"}, {"k": "a", "m": None}, {"m": "x"}, {"m": "w"}]},
        {"$setWindowFields": {"partitionBy": "$k", "output": {"least": {"$min": "$m"}}}},
        {"$project": {"_id": 0, "m": 1, "least": 1}}, {"$sort": {"m": 1}},
    ])  # fmt: skip
    assert [(r["m"], r["least"]) for r in rows] == [(None, "B"), ("B", "B"), ("b", "B"), ("w", "w"), ("x", "w")]


def test_a_literal_table_looked_up_by_key(events: Database[dict[str, Any]]) -> None:
    """SNOMED RT -> CT in ``code_key``: ``$objectToArray`` of a literal object, the pair whose key matches."""
    table = {"R-10242": "399162004", "C-B1031": "35321007"}
    rows = events.aggregate([{"$documents": [{"c": "C-B1031"}, {"c": "R-1"}]}, {"$project": {"_id": 0, "v": {"$let": {
        "vars": {"found": {"$arrayElemAt": [{"$filter": {"input": {"$objectToArray": {"$literal": table}},
                                                         "cond": {"$eq": ["$$this.k", "$c"]}}}, 0]}},
        "in": {"$ifNull": ["$$found.v", "$c"]}}}}}])  # fmt: skip
    assert [r["v"] for r in rows] == ["35321007", "R-1"]


@pytest.mark.skipif(bool(os.environ.get("MONGODB_URI")), reason="a SecantusDB deviation; MongoDB sorts null first")
def test_secantusdb_cannot_sort_an_array_of_null_and_text(events: Database[dict[str, Any]]) -> None:
    """Why ``code_groups`` leaves nulls (meanings not sent) out of ``raw_names`` before ``$sortArray``."""
    stages = [
        {"$documents": [{"a": [None, "b", "a"]}]},
        {"$project": {"s": {"$sortArray": {"input": "$a", "sortBy": 1}}}},
    ]
    with pytest.raises(OperationFailure):
        list(events.aggregate(stages))
