"""Identifiers on the study page: UIDs and hashes, kept apart from the values a physicist reads.

A field identifies when its name ends with ``_uid`` or ``_uids``, is a hash
(``sha256``, the patient ``key`` only the ``pid`` role sees) or lists folded
objects (``also_in``), or when it is a sub-document (or list of them) made only
of such fields (an acquired image's references).
The study page shows them in a collapsed "Identifiers" section; a report's
event UIDs are shown as the numbers of those events on the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from service.codes import is_coded
from service.modalities import MODALITIES, list_modalities
from service.web.present import pluck

#: fields that identify rather than describe (with every ``*_uid`` and ``*_uids``); ``key``: the patient key
IDENTIFIERS = frozenset({"sha256", "also_in", "key"})


def is_identifier(name: str, value: Any) -> bool:
    """Tell whether a field identifies (a UID, a hash, a list of them) rather than describes."""
    if name in IDENTIFIERS or name.endswith(("_uid", "_uids")):
        return True
    entries = value if isinstance(value, list) else [value]
    return bool(entries) and all(
        isinstance(e, dict) and e and not is_coded(e) and all(is_identifier(k, v) for k, v in e.items())
        for e in entries
    )


def split_identifiers(value: Any) -> tuple[Any, Any]:
    """Return ``value`` without its identifiers, and its identifiers alone (None if it has none)."""
    if isinstance(value, dict) and not is_coded(value):
        kept, found = {}, {}
        for name, item in value.items():
            if is_identifier(name, item):
                found[name] = item
                continue
            kept[name], inner = split_identifiers(item)
            if inner:
                found[name] = inner
        return kept, found or None
    if isinstance(value, list) and value and all(isinstance(v, dict) and not is_coded(v) for v in value):
        pairs = [split_identifiers(item) for item in value]
        inner = [found or {} for _, found in pairs]
        return [kept for kept, _ in pairs], inner if any(inner) else None
    return value, None


def numbering(document: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
    """Return each event's UID with its list modality and number on the page (``RF``, 12)."""
    found = {}
    for key in list_modalities(document.get("modalities") or []):
        for n, event in enumerate(pluck(document, MODALITIES[key].events_path) or []):
            uids = [v for k, v in event.items() if k.endswith("event_uid") and isinstance(v, str)]
            found.update(dict.fromkeys(uids, (key, n + 1)))
    return found


def event_numbers(uids: list[Any], numbers: Mapping[str, tuple[str, int]]) -> str:
    """Return event UIDs as the events' numbers, in runs (``RF 1–8, 12``); a UID of no event stays as it is."""
    by_key: dict[str, list[int]] = {}
    for uid in uids:
        if uid in numbers:
            by_key.setdefault(numbers[uid][0], []).append(numbers[uid][1])
    parts = [f"{key} {_runs(sorted(set(found)))}" for key, found in by_key.items()]
    return ", ".join([*parts, *(str(uid) for uid in uids if uid not in numbers)])


def _runs(numbers: list[int]) -> str:
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ", ".join(f"{r[0]}–{r[-1]}" if len(r) > 1 else str(r[0]) for r in runs)


def report_events(identifiers: dict[str, Any], document: Mapping[str, Any]) -> dict[str, Any]:
    """Show which events each report carried by their numbers on the page rather than their UIDs again."""
    reports, numbers = identifiers.get("reports"), numbering(document)
    if isinstance(reports, list):
        identifiers["reports"] = [
            {**{k: v for k, v in r.items() if k != "event_uids"}, "events": event_numbers(r["event_uids"], numbers)}
            if isinstance(r.get("event_uids"), list) else r
            for r in reports
        ]  # fmt: skip
    return identifiers
