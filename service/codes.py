"""Coded concepts: (scheme, value) keys, SNOMED RT as SNOMED CT, field names from the standard's meanings.

Pure helpers below every layer (extraction, merge, summary, audits, pages):
concepts are compared by code value and coding scheme, never by meaning text.
pydicom's code dictionary (``pydicom.sr.codedict.codes.DCM``) gives the DCM
meanings that name fields (DESIGN.md, "The study document").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from pydicom.sr._snomed_dict import mapping as _SNOMED_MAPPING
from pydicom.sr.codedict import Collection, codes

CodeKey = tuple[str, str]
"""A concept as (coding scheme designator, code value); SRT is normalised to SCT."""


def normalised(scheme: str, value: str) -> CodeKey:
    """Return (scheme, value) with SNOMED RT codes (SRT, SNM3) as their SNOMED CT equivalent."""
    scheme, value = scheme.strip(), value.strip()
    if scheme in ("SRT", "SNM3"):
        return "SCT", _SNOMED_MAPPING["SRT"].get(value, value)
    return scheme, value


def snomed_rt_equivalents(context_groups: Iterable[int]) -> dict[str, str]:
    """Return SNOMED RT value -> SNOMED CT value for the SCT codes of these context groups (PS3.16) that have one.

    The pairs are those :func:`normalised` applies, for the audits' pipelines, which cannot call it.
    """
    found = {}
    for group in context_groups:
        for code in Collection(f"CID{group}").concepts.values():
            srt = _SNOMED_MAPPING["SCT"].get(code.value) if code.scheme_designator == "SCT" else None
            if srt and normalised("SRT", srt) == ("SCT", code.value):
                found[srt] = code.value
    return dict(sorted(found.items()))


def stored_key(value: Any) -> CodeKey | None:
    """Return the normalised (scheme, value) of a stored coded value, or None for anything else."""
    if not isinstance(value, dict) or "code_value" not in value:
        return None
    return normalised(str(value.get("coding_scheme_designator", "")), str(value["code_value"]))


def code_text(key: CodeKey) -> str:
    """Return a code as the pages and the audits write it: ``35321007 (SCT)``."""
    scheme, value = key
    return f"{value} ({scheme})"


def make_code(value: str, scheme: str, meaning: str) -> dict[str, str]:
    """Return a coded value as stored, for a code taken from a context group of PS3.16."""
    return {"code_value": value, "coding_scheme_designator": scheme, "code_meaning": meaning}


@lru_cache(maxsize=1)
def _dcm_meanings() -> dict[str, str]:
    return {getattr(codes.DCM, kw).value: getattr(codes.DCM, kw).meaning for kw in codes.DCM.dir()}


#: Concept names from SNOMED CT used by the dose templates (PS3.16), by SCT code.
SCT_NAMES = {
    "272741003": "laterality",
    "408730004": "procedure_context",
    "363703001": "has_intent",
    "260686004": "method",
    "246513007": "anatomical_structure",
    "363698007": "finding_site",
}


def snake_case(text: str) -> str:
    """Return the field name for a code meaning: ``Mean CTDIvol`` -> ``mean_ctdivol``."""
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text)  # DateTime -> Date Time
    text = text.replace("-", "")  # X-Ray -> XRay
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()


@lru_cache(maxsize=4096)
def standard_name(key: CodeKey) -> str | None:
    """Return the field name of a concept from the standard's code meaning, if the code is known."""
    scheme, value = key
    if scheme == "DCM" and value in _dcm_meanings():
        return snake_case(_dcm_meanings()[value])
    return SCT_NAMES.get(value) if scheme == "SCT" else None


def is_coded(value: Any) -> bool:
    """Tell whether a value is a coded concept ``{code_value, coding_scheme_designator, code_meaning}``."""
    return isinstance(value, dict) and "code_value" in value and "coding_scheme_designator" in value
