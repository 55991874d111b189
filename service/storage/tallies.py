"""Studies per list modality and station, kept at write time for the home page and list totals.

Counting over a large collection is slow on SecantusDB (a full ``$group`` over
100,000 studies takes 12 s, ``count_documents`` 6-7 s; DESIGN.md, "Database"),
so the store keeps one small tally per (list modality, station): the number of
studies and the latest study date-time. Every study write moves the tallies
from the study's old keys to its new ones; a bulk load adds its documents'
counts at once. These pure functions say what changes; :mod:`service.storage`
applies the changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from schemas.query import list_modalities

Key = tuple[str, str | None]  # (list modality, station name)


def tally_keys(document: dict[str, Any] | None) -> set[Key]:
    """Return the tallies a study counts in: one per list modality it appears in."""
    if document is None:
        return set()
    station = (document.get("equipment") or {}).get("station_name")
    return {(modality, station) for modality in list_modalities(document.get("modalities") or [])}


def tally_changes(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[tuple[Key, int, datetime | None]]:
    """Return (key, change of count, study date-time) for each tally a study write (or removal) moves.

    A tally the study stays in moves only when the study's date-time becomes
    later: its latest date-time reached the earlier one when that was written.
    """
    old, new = tally_keys(before), tally_keys(after)
    when = (after or {}).get("study_date_time")
    earlier = (before or {}).get("study_date_time")
    later = when is not None and (earlier is None or when > earlier)
    return [
        (key, (key in new) - (key in old), when if key in new else None)
        for key in sorted(old | new, key=str)
        if (key in new) != (key in old) or later
    ]


def tally_documents(documents: Iterable[dict[str, Any]]) -> dict[Key, tuple[int, datetime | None]]:
    """Return the count and latest date-time of each tally over ``documents`` (a bulk load or a recount)."""
    found: dict[Key, tuple[int, datetime | None]] = {}
    for document in documents:
        when = document.get("study_date_time")
        for key in tally_keys(document):
            count, latest = found.get(key, (0, None))
            found[key] = (count + 1, max((d for d in (latest, when) if d is not None), default=None))
    return found
