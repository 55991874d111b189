"""The objects of one request, each study written once: many images of one study cost one write, not one each.

On SecantusDB a study write costs the server in proportion to the study's size
(it rewrites the document and its index entries), so 900 images of one study
written one after the other cost 900 ever larger writes (issue #20: 241 s for
one multipart request). The objects of a request are therefore prepared one
after the other (hashed, kept, extracted: :meth:`Pipeline.prepare`), then
folded into their study together, in the order they came, and each study is
written once (noted in the journal, retried on a concurrent write, as one
object's write is). Each object keeps its own outcome, rejection and event-log
entries, in the order the objects came, exactly as if they had been taken in
one by one: the first of a new study created it, the next merged, the same
object twice is a duplicate, and one that the study cannot take (an invalid
document) is rejected alone.

A failure of the database or an unexpected error stops the request, as it
would one by one: the objects prepared before it are written first.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from service import metrics
from service.errors import RejectedObject
from service.ingest.arrival import noted
from service.ingest.document import study_document
from service.ingest.pipeline import Arrival, Outcome, Pipeline, Prepared, Result

#: outcomes that wrote something (the journal notes them)
WRITTEN = ("created", "merged")


@dataclass(frozen=True)
class Together:
    """Several objects folded into one study: the document, created/merged (or duplicate: nothing to write), each's."""

    document: dict[str, Any]
    outcome: str
    each: tuple[str | RejectedObject, ...]


def fold_together(existing: dict[str, Any] | None, items: list[Prepared]) -> Together:
    """Fold prepared objects of one study into ``existing`` in turn, each validated; one refused is left out."""
    document, each = existing, []
    for item in items:
        try:
            result = study_document(document, item.fragment, now=item.arrival.received_at)
        except RejectedObject as e:
            each.append(e)
            continue
        each.append(result.outcome)
        document = result.document
    wrote = any(outcome in WRITTEN for outcome in each)
    outcome = ("created" if existing is None else "merged") if wrote else "duplicate"
    return Together(document or {}, outcome, tuple(each))


def ingest_together(
    pipeline: Pipeline, objects: Iterable[tuple[bytes, str]], *, via: str, client: str
) -> list[Outcome]:
    """Take in ``(bytes, name)`` objects, each study written once; return what happened to each, in order."""
    prepared: list[tuple[Arrival, Prepared | Result]] = []
    started = time.perf_counter()
    try:
        for data, name in objects:
            arrival = pipeline.arrival(data, name=name, via=via, client=client)
            try:
                prepared.append((arrival, pipeline.prepare(data, arrival)))
            except Exception:
                metrics.count_object(via, "failed", None)
                pipeline.log_received_alone(arrival)
                raise
    finally:  # what was prepared is written, even when the request stops
        outcomes = _write(pipeline, prepared)
    each = (time.perf_counter() - started) / max(len(outcomes), 1)
    for outcome in outcomes:  # counted as one by one: each its share of the request's time
        metrics.count_object(via, outcome.outcome, each)
    return outcomes


def _write(pipeline: Pipeline, prepared: list[tuple[Arrival, Prepared | Result]]) -> list[Outcome]:
    """Write each study once, then log every object in order and forget the journal's notes."""
    saved: dict[int, Result] = {}
    for items in _by_study(item for _, item in prepared).values():
        saved.update(zip(map(id, items), _save(pipeline, items), strict=True))
    done = [saved[id(item)] if isinstance(item, Prepared) else item for _, item in prepared]
    entries = [e for (arrival, _), (_, logged) in zip(prepared, done, strict=True)
               for e in (pipeline.received_entry(arrival), *logged)]  # fmt: skip
    pipeline.store.append_events(entries)
    written = [arrival.journal for (arrival, _), (outcome, _) in zip(prepared, done, strict=True)
               if outcome.outcome in WRITTEN]  # fmt: skip
    pipeline.store.forget_writes(written)
    return [outcome for outcome, _ in done]


def _by_study(prepared: Iterable[Prepared | Result]) -> dict[str, list[Prepared]]:
    groups: dict[str, list[Prepared]] = {}
    for item in prepared:
        if isinstance(item, Prepared):
            groups.setdefault(item.fragment["study_instance_uid"], []).append(item)
    return groups


def _save(pipeline: Pipeline, items: list[Prepared]) -> list[Result]:
    """Fold and write one study's objects once; return each object's result (outcome and event-log entry)."""

    def notes(together: Any) -> list[dict[str, Any]]:
        return [{**noted(item.arrival, item.fragment), "outcome": outcome}
                for item, outcome in zip(items, together.each, strict=True) if outcome in WRITTEN]  # fmt: skip

    uid = items[0].fragment["study_instance_uid"]
    together = pipeline.store.save_study(uid, lambda existing: fold_together(existing, items), journal=notes)
    last = max((n for n, outcome in enumerate(together.each) if not isinstance(outcome, RejectedObject)), default=-1)
    return [  # the alert rules once, on the study as written, with the last object it took
        pipeline.rejected(item, outcome)
        if isinstance(outcome, RejectedObject)
        else pipeline.accepted(item, outcome, together.document, alerts=n == last)
        for n, (item, outcome) in enumerate(zip(items, together.each, strict=True))
    ]
