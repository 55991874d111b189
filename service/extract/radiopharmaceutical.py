"""Radiopharmaceutical Radiation Dose (PS3.16 TID 10021, with TID 10022 and 10023) concept tables.

The section: ``administrations``, one per Radiopharmaceutical Administration
container (TID 10022), identified by ``radiopharmaceutical_administration_event_uid``
and holding the agent, radionuclide (with its half life), administered
activity (MBq), start and stop date-times, route and ``organ_doses``;
``patient_characteristics`` (TID 10023) as sent. ``pet_series`` come from PET
image headers, not from this report. NM and PET reports alike are modality NM.
"""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from service.errors import InvalidDoseReport
from service.extract.sr import Node, Notes, Template, walk

D = "DCM"
SCT = "SCT"
LN = "LN"

NODES = {
    (D, "113502"): Node("administrations", repeats=True),  # Radiopharmaceutical Administration, TID 10022
    (D, "113517"): Node("organ_doses", repeats=True),  # Organ Dose Information
    (D, "121118"): Node("patient_characteristics"),  # TID 10023
    (D, "113870"): Node("person_participants", repeats=True),  # Person Participant, TID 1020
    # Siemens Biograph (NM-RRDSR-Siemens.dcm) wraps the standard Effective Dose in a private container.
    ("99SHS", "220001"): Node(None),
}

#: The unit each number is stored in, as TID 10022 and 10023 define them.
UNITS = {
    (D, "113507"): "MBq",  # Administered activity
    (SCT, "304283002"): "s",  # Radionuclide Half Life
    (D, "123005"): "cm3",  # Radiopharmaceutical Volume
    (D, "113518"): "mGy",  # Organ Dose
    (D, "113839"): "mSv",  # Effective Dose
    (D, "121033"): "a",  # Subject Age
    (LN, "8302-2"): "m",  # Patient Height
    (LN, "29463-7"): "kg",  # Patient Weight
}

#: SNOMED and LOINC concepts of TID 10022/10023 whose names are not in the walker's table; the agent's
#: SNOMED RT code F-61FDB has no SNOMED CT mapping in pydicom, so both spellings are listed.
NAMES = {
    (SCT, "349358000"): "radiopharmaceutical_agent",
    (SCT, "F-61FDB"): "radiopharmaceutical_agent",
    (SCT, "89457008"): "radionuclide",
    (SCT, "304283002"): "radionuclide_half_life",
    (SCT, "410675002"): "route_of_administration",
    (SCT, "272737002"): "site_of",
    (SCT, "363589002"): "associated_procedure",
    (LN, "8302-2"): "patient_height",  # LOINC meanings vary ("Body height")
    (LN, "29463-7"): "patient_weight",
}

TEMPLATE = Template(nodes=NODES, units=UNITS, names=NAMES)


def extract_radiopharmaceutical(ds: Dataset, notes: Notes) -> tuple[dict[str, Any], dict[str, Any]]:
    """Extract a Radiopharmaceutical Radiation Dose report (TID 10021): (section, report context)."""
    tree = walk(ds, TEMPLATE, notes)
    administrations = tree.pop("administrations", [])
    if not administrations:
        raise InvalidDoseReport("it has no Radiopharmaceutical Administration (113502, DCM) container")
    section = {"administrations": administrations}
    if "patient_characteristics" in tree:
        section["patient_characteristics"] = tree.pop("patient_characteristics")
    return section, tree
