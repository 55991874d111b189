"""Write the study lists' filter definitions as JSON for the mongosh audits (``filters.json``).

An audit run through the API selects its studies with the study lists' own
filter (:func:`service.reading.filters.study_filter`); ``scripts/mongosh/lib/audit.js``
must build the same filter from the same definitions.

Decision: the Python tables stay the one definition, and ``filters.json`` is
generated from them and committed beside the audit definitions audit.js
already reads. The arguments and their paths are in :mod:`schemas.query`
(next to the schema that validates them), the modalities and the sections
each searches in the registry (:mod:`service.modalities`), and the main quantity's stored unit in the study
schema's field metadata, its shown unit in :mod:`schemas.display`. Moving the
tables into a JSON file read by Python was the alternative, but the dose
filters' unit factor would then either leave the marshmallow metadata (which
is the single definition of a field) or be copied from it. A test fails when
the file is stale (``tests/test_audits_mongosh.py``); regenerate it with::

    PYTHONPATH=. .venv/bin/python -m service.audits.filters
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas.query import (
    MAX_TEXT,
    PATIENT_KEY_ERROR,
    PATIENT_KEY_PATH,
    RANGE_FILTERS,
    REPORTS_TEST_PATIENTS,
    TEST_PATIENT_CHOICES,
    TEST_PATIENT_CONDITIONS,
    TEST_PATIENT_PATH,
    TEXT_FILTERS,
    StudyQuerySchema,
)
from service.modalities import MODALITIES
from service.reading.filters import ALL_SECTIONS, DATE

PATH = Path(__file__).resolve().parent / "filters.json"
ABOUT = (
    "The study lists' filters, generated from schemas/query.py, service/modalities.py and "
    "service/reading/filters.py by "
    "`PYTHONPATH=. .venv/bin/python -m service.audits.filters` (do not edit; a test fails when it is stale). "
    "scripts/mongosh/lib/audit.js builds an audit's $match from it as service/reading/filters.py study_filter does. "
    "A dose argument is in the shown unit: stored = shown / 10**scale."
)


def filter_arguments() -> list[str]:
    """Return the list arguments that select studies (the rest order or page a list)."""
    ranges = [f"{stem}_{end}" for stem in (*RANGE_FILTERS, "dose") for end in ("min", "max")]
    return ["modality", "date_from", "date_to", *TEXT_FILTERS, *ranges, "test_patients", "patient_key"]


def definitions() -> dict[str, Any]:
    """Return the filter definitions audit.js reads."""
    selecting = filter_arguments()
    return {
        "about": ABOUT,
        "filters": selecting,
        "date_path": DATE,
        "modalities": {key: modality.stored for key, modality in MODALITIES.items()},
        "sections": {key: list(modality.searched) for key, modality in MODALITIES.items()},
        "all_sections": sorted(ALL_SECTIONS),
        "text_filters": {name: list(paths) for name, paths in TEXT_FILTERS.items()},
        "max_text": MAX_TEXT,
        "range_filters": RANGE_FILTERS,
        "main_quantity": {
            key: {"fields": list(m.quantity.fields), "unit": m.quantity.shown.unit, "scale": m.quantity.shown.scale}
            for key, m in MODALITIES.items()
        },
        "test_patients": {
            "path": TEST_PATIENT_PATH,
            "choices": list(TEST_PATIENT_CHOICES),
            "conditions": TEST_PATIENT_CONDITIONS,
            "default": REPORTS_TEST_PATIENTS,  # audits leave test patients out unless asked for
        },
        "patient_key": {"path": PATIENT_KEY_PATH, "pattern": "^[0-9a-f]{64}$", "error": PATIENT_KEY_ERROR},
        # a list argument that selects nothing (or a new one audit.js cannot build) is refused by name
        "not_filters": [name for name in StudyQuerySchema().fields if name not in selecting],
    }


def render() -> str:
    """Return ``filters.json`` as it should be committed."""
    return json.dumps(definitions(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    PATH.write_text(render(), encoding="utf-8")
    print(f"wrote {PATH}")
