"""CT Radiation Dose (PS3.16 TID 10011, with TID 10012-10015) concept tables."""

from __future__ import annotations

from typing import Any

from pydicom.dataset import Dataset

from service.errors import InvalidDoseReport
from service.extract.sr import Node, Notes, Template, has_root_concept, walk

D = "DCM"

#: Where each container of the CT templates lands (TID 10011-10015).
NODES = {
    (D, "113811"): Node("accumulated"),  # CT Accumulated Dose Data, TID 10012
    (D, "113819"): Node("events", repeats=True),  # CT Acquisition, TID 10013
    (D, "113822"): Node(None),  # CT Acquisition Parameters: folds into the event
    (D, "113831"): Node("sources", repeats=True),  # CT X-Ray Source Parameters
    (D, "113829"): Node(None),  # CT Dose: folds into the event
    (D, "113900"): Node("dose_check.alert"),  # Dose Check Alert Details, TID 10015
    (D, "113908"): Node("dose_check.notification"),  # Dose Check Notification Details
    (D, "113870"): Node("person_participants", repeats=True),  # Person Participant
}

#: The unit each number is stored in, as TID 10011-10015 define them.
UNITS = {
    (D, "113813"): "mGy.cm",  # CT Dose Length Product Total
    (D, "113812"): "{events}",  # Total Number of Irradiation Events
    (D, "113824"): "s",  # Exposure Time
    (D, "113825"): "mm",  # Scanning Length
    (D, "113899"): "mm",  # Exposed Range
    (D, "113893"): "mm",  # Length of Reconstructable Volume
    (D, "113895"): "mm",  # Top Z Location of Reconstructable Volume
    (D, "113896"): "mm",  # Bottom Z Location of Reconstructable Volume
    (D, "113897"): "mm",  # Top Z Location of Scanning Length
    (D, "113898"): "mm",  # Bottom Z Location of Scanning Length
    (D, "113826"): "mm",  # Nominal Single Collimation Width
    (D, "113827"): "mm",  # Nominal Total Collimation Width
    (D, "113828"): "{ratio}",  # Pitch Factor
    (D, "113823"): "{X-Ray sources}",  # Number of X-Ray Sources
    (D, "113733"): "kV",  # KVP
    (D, "113833"): "mA",  # Maximum X-Ray Tube Current
    (D, "113734"): "mA",  # X-Ray Tube Current
    (D, "113834"): "s",  # Exposure Time per Rotation
    (D, "113821"): "mm",  # X-Ray Filter Aluminum Equivalent
    (D, "113830"): "mGy",  # Mean CTDIvol
    (D, "113837"): "mGy",  # Mean CTDIfreeair
    (D, "113838"): "mGy.cm",  # DLP
    (D, "113839"): "mSv",  # Effective Dose
    (D, "113903"): "mGy.cm",  # DLP Alert Value
    (D, "113904"): "mGy",  # CTDIvol Alert Value
    (D, "113905"): "mGy.cm",  # Accumulated DLP Forward Estimate
    (D, "113906"): "mGy",  # Accumulated CTDIvol Forward Estimate
    (D, "113911"): "mGy.cm",  # DLP Notification Value
    (D, "113912"): "mGy",  # CTDIvol Notification Value
    (D, "113913"): "mGy.cm",  # DLP Forward Estimate
    (D, "113914"): "mGy",  # CTDIvol Forward Estimate
}

INTEGERS = frozenset({(D, "113812"), (D, "113823")})

TEMPLATE = Template(nodes=NODES, units=UNITS, integers=INTEGERS)

#: Containers whose presence at the root makes an X-Ray Radiation Dose Report a CT one.
ROOT_CONTAINERS = frozenset({(D, "113811"), (D, "113819")})


def is_ct_report(ds: Dataset) -> bool:
    """Tell whether an X-Ray Radiation Dose Report follows TID 10011 (CT)."""
    return has_root_concept(ds, ROOT_CONTAINERS)


def extract_ct(ds: Dataset, notes: Notes) -> tuple[dict[str, Any], dict[str, Any]]:
    """Extract a CT Radiation Dose report (TID 10011) into (ct section, report context)."""
    tree = walk(ds, TEMPLATE, notes)
    section = {"accumulated": tree.pop("accumulated", {}), "events": tree.pop("events", [])}
    if "ct_dose_length_product_total" not in section["accumulated"]:
        raise InvalidDoseReport(
            "its CT Accumulated Dose Data has no readable CT Dose Length Product Total (113813, DCM)"
        )
    return section, tree
