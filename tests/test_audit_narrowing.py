"""Audits over events keep only the fields they read before ``$unwind``.

SecantusDB copies the whole study for every element ``$unwind`` makes: an RF
audit over one 316-event study took 18 s on the shared machine, 0.8 s once each
audit projects the fields it reads first (the ``$project`` at the head of its
``unwind`` constant, in ``service/audits/definitions``; mongosh reads the same
files). These tests keep every such projection complete and harmless.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

import pytest

from service.audits import pipeline
from service.ingest.document import save_fragment
from service.storage import Store
from tests.studies import interventional_study

EVENT_AUDITS = [audit for audit in pipeline.audits().values() if "unwind" in audit.constants]


def field_paths(node: Any) -> set[str]:
    """Return the document paths (``$a.b``) a pipeline expression reads."""
    if isinstance(node, str):
        return {node[1:]} if node.startswith("$") and not node.startswith("$$") else set()
    if isinstance(node, list):
        return {path for item in node for path in field_paths(item)}
    if isinstance(node, dict):
        return {path for value in node.values() for path in field_paths(value)}
    return set()


def test_every_audit_over_events_narrows_first() -> None:
    assert len(EVENT_AUDITS) >= 9
    shared = pipeline.common()["values"]
    for audit in EVENT_AUDITS:
        first, *rest = audit.constants["unwind"]
        kept = set(first["$project"])
        own = ("name", "name_fallback", "coded", "value", "band")
        read = field_paths({k: audit.constants[k] for k in own if k in audit.constants})
        read |= field_paths([shared["per_station"]["yes"], shared["interval"]["month"]])
        missing = {path for path in read if not any(path == k or path.startswith(f"{k}.") for k in kept)}
        assert not missing, (audit.name, missing)  # a path is kept with itself or with a field that holds it
        assert [stage for stage in rest if "$unwind" in stage], audit.name


@pytest.mark.parametrize("name", ["rf_dap_by_protocol", "rf_rp_dose_by_protocol", "rf_fluoro_time_by_protocol"])
def test_narrowing_changes_no_result(store: Store, name: str) -> None:
    save_fragment(store, interventional_study("1.2.826.0.1.3680043.10.317", events=60), now=datetime(2024, 3, 5))
    audit = pipeline.audits()[name]
    wide = copy.deepcopy(audit)
    object.__setattr__(wide, "constants", {**audit.constants, "unwind": audit.constants["unwind"][1:]})
    for choices in ({"per_station": "yes"}, {"per_station": "no", "interval": "month"}):
        narrow_rows = store.aggregate(pipeline.instantiate(audit, choices, match={}))
        wide_rows = store.aggregate(pipeline.instantiate(wide, choices, match={}))
        assert narrow_rows == wide_rows and narrow_rows
