"""Run an audit for a request: parameters and list filters in, rows out (JSON or CSV).

The filters are the study lists' own (``schemas.query``, ``service.reading.filters``), so
an audit covers exactly the studies the list with the same arguments shows, except that
test patients are left out unless ``test_patients`` asks for them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from schemas.display import format_number
from schemas.query import StudyQuery, parse_study_query
from service.audits import pipeline
from service.audits.sliced import Partition, SlicedStudies, run_sliced
from service.errors import InvalidArgument, NotFound
from service.export.csv import Figure, SafeWriter
from service.reading.filters import date_bounds, match_filter
from service.reading.listing import newest_since

#: request arguments that are neither audit parameters nor list filters
OUTPUT_ARGUMENTS = ("format", "precision", "newest")
#: ``precision`` of the CSV: numbers as the audits page's table shows them, or as computed
PRECISIONS = ("shown", "full")
#: the most studies ``newest`` may ask for
MAX_NEWEST = 100_000
#: result columns that carry the audit quantity's unit
STATISTICS = ("mean", "p25", "median", "p75", "min", "max", "reference_level")


class AuditStore(SlicedStudies, Protocol):
    """What an audit needs of the store: sliced reads (service.audits.sliced) and the standard names."""

    def standard_names(self, modality: str | None = None) -> list[dict[str, Any]]:
        """Return the standard-name mappings of one modality."""

    def count_studies_matching(self, filter: dict[str, Any], *, limit: int) -> int:
        """Count the matching studies, stopping at ``limit`` (for ``newest``)."""


@dataclass(frozen=True)
class AuditResult:
    """An audit's rows with the parameters and filters that produced them."""

    audit: pipeline.Audit
    choices: dict[str, str]
    filters: dict[str, str]
    rows: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        """Return the API answer: the audit's description, what was asked, and the rows."""
        return {
            "audit": pipeline.describe(self.audit),
            "parameters": self.choices,
            "filters": self.filters,
            "rows": self.rows,
        }


def find_audit(name: str) -> pipeline.Audit:
    """Return the audit called ``name``; raise :class:`NotFound` listing the known ones."""
    found = pipeline.audits().get(name)
    if found is None:
        raise NotFound(f"There is no audit called {name!r}; the audits are {', '.join(pipeline.audits())}.")
    return found


def run_audit(
    store: AuditStore,
    name: str,
    args: Mapping[str, str],
    *,
    alert_levels: Mapping[str, Any],
    now: datetime | None = None,
) -> AuditResult:
    """Run audit ``name`` with request ``args``; raise :class:`InvalidArgument` naming bad ones.

    The pipeline runs in slices (service.audits.sliced), so that no database
    operation holds the server for long; ``now`` is where its date windows start.
    """
    audit = find_audit(name)
    errors: dict[str, Any] = {}
    try:
        choices = pipeline.parse_choices(audit, args)
    except InvalidArgument as e:
        errors.update(e.errors)
    skip = {*audit.parameters, *OUTPUT_ARGUMENTS}
    try:
        query = parse_study_query({key: args[key] for key in args if key not in skip})
    except InvalidArgument as e:
        errors.update(e.errors)
    newest = _newest(args.get("newest"), errors)
    if errors:
        raise InvalidArgument(errors)
    query = query.for_reports()  # test patients left out unless asked for
    if newest is not None:
        query = _since(store, query, newest)
    match, (low, high) = match_filter(query), date_bounds(query)
    stages = pipeline.instantiate(audit, choices, match=match, alert_match=pipeline.alert_match(alert_levels))
    when = now or datetime.now()  # study date-times are the modalities' local time
    partition = _final_group(store, audit, choices)
    rows = run_sliced(store, stages, low=low, high=high, now=when, partition=partition)
    return AuditResult(audit, choices, query.arguments(), rows)


def _final_group(store: AuditStore, audit: pipeline.Audit, choices: Mapping[str, str]) -> Partition:
    """Return the partition of a group of ``audit``: what its row is named by after the stages that join groups.

    With ``names=standard`` a raw name's standard name; otherwise the group's code
    (audits grouped by a code, whose rows a code's meanings join), else its raw name.
    """
    field = audit.constants.get("name_field")
    if field is None:  # groups that no standard name joins
        return lambda group: None
    standard: dict[str, str] = {}
    if choices.get("names") == "standard":
        mapped = [row for row in store.standard_names(audit.constants.get("modality")) if row["field"] == field]
        standard = {row["raw"]: row["standard"] for row in mapped}

    def name(group: dict[str, Any]) -> Any:
        key = group.get("_id") or {}
        raw = key.get("name")
        if isinstance(raw, str) and raw in standard:
            return standard[raw]
        return key.get("code", raw)

    return name


def _newest(raw: str | None, errors: dict[str, Any]) -> int | None:
    """Return the ``newest`` argument as a number of studies, noting in ``errors`` if it is not one."""
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_NEWEST:
        errors["newest"] = [f"Expected a number of studies from 1 to {MAX_NEWEST:,}."]
        return None
    return int(raw)


def _since(store: AuditStore, query: StudyQuery, newest: int) -> StudyQuery:
    """Narrow ``query`` to the days of its newest studies, at least ``newest`` of them (all if fewer match).

    The date windows of the lists bound the reads (:func:`service.reading.listing.newest_since`):
    a chart over a large database reads the recent studies, not every one.
    """
    since = newest_since(store, query, newest, now=datetime.now())
    if since is None or (query.date_from is not None and since.date() <= query.date_from):
        return query
    return replace(query, date_from=since.date())


def parse_output(args: Mapping[str, str]) -> tuple[str, str]:
    """Return the ``format`` (json, csv) and ``precision`` (shown, full) asked for; refuse others."""
    output, precision = args.get("format", "json"), args.get("precision", "shown")
    errors = {}
    if output not in ("json", "csv"):
        errors["format"] = ["Expected json or csv."]
    if precision not in PRECISIONS:
        errors["precision"] = [f"Expected {' or '.join(PRECISIONS)}."]
    if errors:
        raise InvalidArgument(errors)
    return output, precision


def to_csv(result: AuditResult, precision: str = "shown") -> str:
    """Return the rows as CSV: the columns that hold a value, statistics headed with their unit.

    Numbers are written as the audits page's table shows them (:func:`schemas.display.format_number`,
    without thousands separators, which a spreadsheet could read as decimal commas), or as computed
    with ``precision="full"``. Text goes through the exports' neutralising writer.
    """
    rows = result.rows
    keys = dict.fromkeys(key for row in rows for key in row)
    columns = [key for key in keys if any(row.get(key) is not None for row in rows)]
    quantity = pipeline.describe(result.audit)["quantity"]
    unit = f" ({quantity['unit']})" if quantity else ""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow([f"{c}{unit}" if c in STATISTICS else c for c in columns])
    for row in rows:
        writer.writerow([_cell(row.get(column), precision) for column in columns])
    return out.getvalue()


def _cell(value: Any, precision: str) -> Any:
    """Return an audit value as the table shows it: lists joined, booleans as words, numbers rounded."""
    if isinstance(value, list):  # raw_names: the blank group's raw name is missing, not "None"
        return "; ".join(str(v) for v in value if v is not None)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and precision == "shown":
        return Figure(format_number(value, separators=False))
    return value
