"""Run an audit's pipeline in slices (:mod:`service.reading.slices`), with the numbers the whole pipeline gives.

An audit pipeline (``common.json``'s templates) begins with ``$match`` stages
(the list filters, the audit's scope). Then either:

- **per-study stages up to a** ``$group`` (statistics, workload): each batch of
  studies goes through them on the server, the groups of every batch are
  merged here (``$push``: the values joined; ``$sum``: added), and the stages
  after the ``$group`` (standard names, statistics, reference levels, sort)
  run on the server over the merged groups (``$documents``), in batches that
  keep together the groups one standard name joins, then one ``$sort`` over
  all the rows;
- ``$sort`` **and** ``$limit`` (high-dose alerts): the keys of the matching
  studies are sorted here as ``$sort`` sorts them, the first ``$limit`` kept,
  and the rest of the pipeline runs on them batch by batch.

The statistics are thus computed by the pipeline's own stages over all of a
group's values at once: the numbers are the whole pipeline's
(``tests/test_audit_slices.py`` compares them, audit by audit; the ``mongosh``
scripts keep running the whole pipeline).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import datetime
from typing import Any, Protocol

from service.reading.slices import WEIGHT, WEIGHT_FIELD, batched, sort_like_mongodb, windowed

#: values (of every group) sent to the server in one ``$documents`` operation at most, unless one standard name has more
VALUES_PER_OPERATION = 5_000

#: per accumulator of a ``$group``, how two slices' results of one group combine
MERGERS: dict[str, Callable[[Any, Any], Any]] = {
    "$push": lambda old, new: [*old, *new],
    "$sum": lambda old, new: old + new,
}

Stages = list[dict[str, Any]]
#: the key groups that the stages after the $group may join (one standard name); kept in one operation
Partition = Callable[[dict[str, Any]], Hashable]


class SlicedStudies(Protocol):
    """What a sliced audit needs of the store (implemented by :class:`service.storage.Store`)."""

    def study_keys(
        self, window: dict[str, Any], conditions: Stages, fields: dict[str, Any], *, seconds: float | None
    ) -> Stages:
        """Return ``_id`` and ``fields`` of the studies in a date window meeting ``conditions``, within ``seconds``."""

    def aggregate(self, stages: Stages) -> Stages:
        """Run a pipeline over the studies."""

    def aggregate_documents(self, documents: Stages, stages: Stages) -> Stages:
        """Run a pipeline over ``documents``."""


def run_sliced(
    store: SlicedStudies,
    stages: Stages,
    *,
    low: datetime | None,
    high: datetime | None,
    now: datetime,
    partition: Partition,
) -> Stages:
    """Return the rows of ``stages`` (whose first ``$match`` has no date range) over studies dated [low, high)."""
    count = next((n for n, stage in enumerate(stages) if "$match" not in stage), len(stages))
    leading, rest = stages[:count], stages[count:]
    conditions = [stage["$match"] for stage in leading]

    def keys(fields: dict[str, Any]) -> Stages:
        def read(window: dict[str, Any], seconds: float | None) -> Stages:
            return store.study_keys(window, conditions, {**fields, WEIGHT: WEIGHT_FIELD}, seconds=seconds)

        found = windowed(low, high, now=now, read=read, undated=low is None and high is None)
        return [key for window in found for key in window]

    if any("$group" in stage for stage in rest):
        return _grouped(store, keys({}), leading, rest, partition)
    if len(rest) >= 2 and "$sort" in rest[0] and "$limit" in rest[1]:
        order = list(rest[0]["$sort"].items())
        chosen = sort_like_mongodb(keys(dict.fromkeys(rest[0]["$sort"], 1)), order)[: rest[1]["$limit"]]
        after = [rest[0], *rest[2:]]  # each batch sorted the same way: batches follow one another in order
        return _joined(_batches(chosen, lambda among: store.aggregate([among, *after])))
    raise ValueError(f"an audit pipeline of stages {[next(iter(stage)) for stage in stages]} cannot be sliced")


def _batches(keys: Stages, read: Callable[[dict[str, Any]], Stages]) -> Iterator[Stages]:
    """Yield ``read($match of a batch's _ids)`` batch by batch (service.reading.slices.batched)."""
    return batched(keys, lambda batch: read({"$match": {"_id": {"$in": [key["_id"] for key in batch]}}}), _weight)


def _weight(key: dict[str, Any]) -> int:
    return int(key[WEIGHT])


def _joined(batches: Iterable[Stages]) -> Stages:
    return [row for batch in batches for row in batch]


def _grouped(store: SlicedStudies, keys: Stages, leading: Stages, rest: Stages, partition: Partition) -> Stages:
    """Group batch by batch, merge the groups, and finish the pipeline over them."""
    at = next(n for n, stage in enumerate(rest) if "$group" in stage)
    per_study, suffix = [*leading, *rest[: at + 1]], rest[at + 1 :]
    merge = {field: _merger(field, spec) for field, spec in rest[at]["$group"].items() if field != "_id"}
    groups: dict[Hashable, dict[str, Any]] = {}
    for found in _batches(keys, lambda among: store.aggregate([among, *per_study])):
        for group in found:
            key = _frozen(group["_id"])
            if key in groups:
                kept = groups[key]
                groups[key] = {**kept, **{field: join(kept[field], group[field]) for field, join in merge.items()}}
            else:
                groups[key] = group
    if not groups:
        return []
    batches = list(_packed(list(groups.values()), partition))
    rows = _joined(store.aggregate_documents(batch, suffix) for batch in batches)
    last = suffix[-1] if suffix else {}
    return store.aggregate_documents(rows, [last]) if "$sort" in last and len(batches) > 1 else rows


def _merger(field: str, spec: Any) -> Callable[[Any, Any], Any]:
    """Return how slices' values of an accumulator combine; refuse one that cannot be combined so."""
    operator = next(iter(spec)) if isinstance(spec, dict) and len(spec) == 1 else None
    if operator not in MERGERS:
        raise ValueError(f"the $group field {field!r} ({spec!r}) cannot be merged across slices")
    return MERGERS[operator]


def _frozen(value: Any) -> Hashable:
    """Return a hashable copy of a group key (numbers equal as MongoDB's grouping has them: 30 == 30.0)."""
    if isinstance(value, dict):
        return tuple(sorted((key, _frozen(item)) for key, item in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value


def _packed(groups: Stages, partition: Partition) -> Iterator[Stages]:
    """Yield batches of groups, each partition whole, of about VALUES_PER_OPERATION values."""
    parts: dict[Hashable, Stages] = {}
    for group in groups:
        parts.setdefault(_frozen(partition(group)), []).append(group)
    batch: Stages = []
    size = 0
    for part in parts.values():
        values = sum(len(value) for group in part for value in group.values() if isinstance(value, list))
        if batch and size + values > VALUES_PER_OPERATION:
            yield batch
            batch, size = [], 0
        batch += part
        size += values
    if batch:
        yield batch
