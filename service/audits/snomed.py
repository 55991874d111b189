"""SNOMED RT codes as SNOMED CT in the audits that group by a code: the table each such definition carries.

The study document keeps a code as the modality sent it, so a view sent as
(R-10242, SRT) by an older modality and as (399162004, SCT) by a newer one
differ there; the audits group them as one, as :func:`service.codes.normalised`
compares codes. A pipeline cannot call pydicom (and ``mongosh`` reads the same
definitions), so each audit that groups by a code (its ``coded`` constant)
carries, as its ``snomed_rt`` constant, the SNOMED RT -> SNOMED CT pairs of the
context groups its codes come from. Written by
``PYTHONPATH=. .venv/bin/python -m service.audits.snomed``;
``tests/test_audit_codes.py`` checks them. An SRT code outside those groups
keeps its value (with scheme SCT), where ``normalised`` would translate it too.
"""

from __future__ import annotations

import json

from service.audits.pipeline import DEFINITIONS
from service.codes import snomed_rt_equivalents

#: per audit that groups by a code, the context groups (PS3.16) its codes come from
CONTEXT_GROUPS = {
    "mg_agd_by_thickness": (4014,),  # View for Mammography
    "nm_activity_by_agent": (25, 4021),  # Radiopharmaceuticals, PET Radiopharmaceuticals
}


def table(context_groups: tuple[int, ...]) -> dict[str, str]:
    """Return the SNOMED RT -> SNOMED CT table of these context groups."""
    return snomed_rt_equivalents(context_groups)


def write() -> list[str]:
    """Write each coded audit's table into its definition; return what was written."""
    written = []
    for name, groups in CONTEXT_GROUPS.items():
        path = DEFINITIONS / f"{name}.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data["constants"]["snomed_rt"] = table(groups)
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(f"{path.name}: {len(data['constants']['snomed_rt'])} SNOMED RT codes")
    return written


if __name__ == "__main__":
    print("\n".join(write()))
