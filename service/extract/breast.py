"""Mammography beyond the 2D images: tomosynthesis, breast projection and captured exposures (PS3.3 A.55, A.74).

* **Breast Tomosynthesis Image** (1.2.840.10008.5.1.4.1.1.13.1.3): a reconstruction
  whose Breast Tomosynthesis Acquisition Module (C.8.21.3.4) holds one X-Ray 3D
  Acquisition Sequence (0018,9507) item per acquisition, with kVp, exposure, anode,
  filters, Body Part Thickness, Organ Dose (dGy, for all frames of the item) and
  Entrance Dose in mGy. Each item is one exposure, started at its Start
  Acquisition DateTime (0018,9516).
* **Breast Projection X-Ray Image**, For Presentation and For Processing (.13.1.4,
  .13.1.5): the Enhanced Mammography Image Module (C.8.31.1) holds the exposure's
  totals at the top level; the functional groups (shared, else the first frame's)
  hold the rest (Frame Anatomy's Frame Laterality, X-Ray Filter, X-Ray Grid,
  X-Ray Acquisition Dose...). The object is one exposure.
* **Secondary Capture with Modality MG** and mammography exposure attributes
  (Hologic Selenia Dimensions tomosynthesis projections): one exposure, read as a
  mammography image.

Each exposure is read as an MG image header (:func:`service.extract.images.projection_event`)
from a *view*: the object's own attributes, gaps filled from the functional groups,
overridden by its acquisition item. ``service.ingest.merge`` counts an exposure
sent as projections, reconstruction and For Processing / For Presentation objects
once: they share its acquisition date-time.

Hologic also stores reconstructions as CT Image Storage slices carrying Organ Dose:
those are refused (:func:`ct_stored_reconstruction`) saying what they are. Read,
each slice would risk counting the exposure again (a slice without an acquisition
time matches nothing), and the exposure is read from the acquisition's projections,
Breast Tomosynthesis object or dose report.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydicom.dataset import Dataset

from service.extract.header import number, text
from service.extract.images import Notes, projection_event

BREAST_TOMOSYNTHESIS = "1.2.840.10008.5.1.4.1.1.13.1.3"
BREAST_PROJECTION = ("1.2.840.10008.5.1.4.1.1.13.1.4", "1.2.840.10008.5.1.4.1.1.13.1.5")
SOP_CLASSES = (BREAST_TOMOSYNTHESIS, *BREAST_PROJECTION)
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"

#: Sequences that are not part of an exposure's view (pixels, frames, acquisitions are read apart).
NOT_IN_VIEW = frozenset(
    {"PixelData", "SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence", "XRay3DAcquisitionSequence"}
)
#: Attributes of which one makes a captured MG image an exposure (PS3.3 C.8.7.8, C.8.11.7, C.8.7.2).
EXPOSURE_ATTRIBUTES = ("OrganDose", "EntranceDoseInmGy", "EntranceDose", "KVP", "ExposureInuAs", "ExposureInmAs")
#: Breast doses that mark a CT-stored slice as a tomosynthesis reconstruction.
BREAST_DOSES = ("OrganDose", "EntranceDoseInmGy")


def is_mammography_capture(ds: Dataset) -> bool:
    """Tell whether a Secondary Capture is a mammography exposure (Modality MG with exposure attributes)."""
    return (text(ds, "Modality") or "").upper() == "MG" and any(
        number(ds, kw) is not None for kw in EXPOSURE_ATTRIBUTES
    )


def _fill(view: Dataset, source: Dataset, *, macros: bool = False) -> None:
    """Add to ``view`` the elements of ``source`` it lacks; with ``macros``, those inside its macro sequences.

    In a functional groups item every sequence is a macro of one item (Frame
    Anatomy, X-Ray Filter...) whose attributes belong to the exposure; elsewhere
    a sequence is a value like any other (a code, a reference).
    """
    for element in source:
        if element.keyword in NOT_IN_VIEW:
            continue
        if macros and element.VR == "SQ" and _is_macro(element.keyword):
            for item in element.value[:1]:
                _fill(view, item)
        elif element.tag not in view:
            view.add(element)


def _is_macro(keyword: str) -> bool:
    """Tell whether a sequence of a functional groups item is a macro to look into, not a coded value."""
    return not keyword.endswith("CodeSequence") and keyword != "AnatomicRegionSequence"


def _frame_groups(ds: Dataset) -> Iterable[Dataset]:
    """Return the shared functional groups item, then the first frame's (its values apply where shared ones lack)."""
    for keyword in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
        yield from (ds.get(keyword) or [])[:1]


def _view(ds: Dataset, acquisition: Dataset | None = None) -> Dataset:
    """Return one exposure's attributes: its acquisition item's, then the object's, then its functional groups'."""
    view = Dataset()
    if acquisition is not None:
        _fill(view, acquisition)
        started = acquisition.get("StartAcquisitionDateTime")
        if started:
            view.AcquisitionDateTime = started
    _fill(view, ds)
    for group in _frame_groups(ds):
        _fill(view, group, macros=True)
    if not view.get("ImageLaterality") and view.get("FrameLaterality"):
        view.ImageLaterality = view.FrameLaterality
    return view


def exposure_views(ds: Dataset) -> list[Dataset]:
    """Return one view per exposure the object describes: each X-Ray 3D acquisition item, else the object."""
    acquisitions = list(ds.get("XRay3DAcquisitionSequence") or [])
    return [_view(ds, item) for item in acquisitions] or [_view(ds)]


def read_breast_image(ds: Dataset, notes: Notes) -> tuple[dict[str, Any], list[str]]:
    """Read a tomosynthesis, breast projection or captured mammography exposure into a projection section."""
    views = exposure_views(ds)
    events = [projection_event(view, "MG", notes) for view in views]
    if len(events) > 1:  # several acquisitions in one object: each needs a UID of its own
        for event in events:
            event.pop("irradiation_event_uid", None)
    return {"events": events}, ["MG"]


def ct_stored_reconstruction(ds: Dataset) -> str | None:
    """Say why a CT image carrying breast doses is not read, or return None for any other CT image."""
    doses = [kw for kw in BREAST_DOSES if number(ds, kw) is not None]
    if str(ds.get("SOPClassUID", "")) != CT_IMAGE or not doses:
        return None
    return (
        f"it is CT Image Storage (Modality {ds.get('Modality', 'unknown')}) carrying {' and '.join(doses)}: "
        "a breast tomosynthesis reconstruction stored as CT slices (as Hologic Selenia Dimensions does). "
        "The exposure it shows is read from the acquisition's projections (Secondary Capture or Breast "
        "Projection images), its Breast Tomosynthesis object or its dose report, so its slices are not counted again"
    )
