"""What the demonstration studies are made of: rooms, examinations and their typical doses.

Typical values are of the order published for adults in national diagnostic
reference level surveys (CT CTDIvol and scan lengths, fluoroscopy DAP and
screening time, radiography DAP, mammography AGD by breast thickness, nuclear
medicine administered activity); each study draws its own values around them
(:mod:`service.demo.studies`). Codes come from pydicom's tables of the
standard (``pydicom.sr.codedict``), so they are the ones real reports carry.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

#: A coded value as the study document stores it.
Coded = dict[str, str]


def coded(code: Code) -> Coded:
    """Return a pydicom code as a stored coded value."""
    return {"code_value": code.value, "coding_scheme_designator": code.scheme_designator, "code_meaning": code.meaning}


INSTITUTION = "DoseLedger Demo Hospital"
MANUFACTURER = "DoseLedger Demo"


@dataclass(frozen=True)
class Room:
    """A room of the demonstration hospital: its station name, list modality and machine."""

    station: str
    modality: str
    model: str
    department: str


ROOMS = {
    room.station: room
    for room in (
        Room("DEMO-CT1", "CT", "Demo CT 64", "Radiology"),
        Room("DEMO-CT2", "CT", "Demo CT 128", "Emergency radiology"),
        Room("DEMO-FLUORO1", "RF", "Demo Fluoro R/F", "Radiology"),
        Room("DEMO-CATHLAB1", "RF", "Demo Cath Lab", "Cardiology"),
        Room("DEMO-XR1", "DX", "Demo DR 400", "Radiology"),
        Room("DEMO-XR2", "DX", "Demo DR 400", "Emergency radiology"),
        Room("DEMO-MAMMO1", "MG", "Demo Mammo 3000", "Breast imaging"),
        Room("DEMO-PETCT1", "NM", "Demo PET/CT", "Nuclear medicine"),
        Room("DEMO-GAMMA1", "NM", "Demo Gamma Camera", "Nuclear medicine"),
    )
}

# -- CT ----------------------------------------------------------------------------------------

SPIRAL = coded(codes.SCT.SpiralAcquisition)
LOCALISER = coded(codes.DCM.ConstantAngleAcquisition)
STATIONARY = coded(codes.DCM.StationaryAcquisitionCT)  # 113806: a CT acquisition type (CID 10013)
HEAD_PHANTOM = coded(codes.DCM.IECHeadDosimetryPhantom)
BODY_PHANTOM = coded(codes.DCM.IECBodyDosimetryPhantom)


@dataclass(frozen=True)
class Scan:
    """One CT acquisition of an examination: its typical CTDIvol (mGy) and scanning length (mm)."""

    protocol: str
    region: Coded
    kind: Coded
    ctdivol: float
    length: float
    kvp: float = 120.0
    head: bool = False


def _localiser(region: Code, length: float, *, head: bool = False) -> Scan:
    return Scan("Localiser", coded(region), LOCALISER, 0.12 if head else 0.08, length, head=head)


HEAD, CHEST = codes.SCT.Head, codes.SCT.Chest

#: CT examinations: study description -> (share of CT studies, acquisitions)
CT_EXAMS: dict[str, tuple[float, tuple[Scan, ...]]] = {
    "CT Head": (0.35, (
        _localiser(HEAD, 250, head=True),
        Scan("Head routine", coded(HEAD), SPIRAL, 48.0, 155, head=True),
    )),
    "CT Chest": (0.2, (_localiser(CHEST, 450), Scan("Chest", coded(CHEST), SPIRAL, 7.5, 320, 110))),
    "CT Abdomen Pelvis": (0.2, (
        _localiser(codes.SCT.AbdomenAndPelvis, 550),
        Scan("Abdomen Pelvis", coded(codes.SCT.AbdomenAndPelvis), SPIRAL, 10.5, 440),
    )),
    "CT Chest Abdomen Pelvis": (0.15, (
        _localiser(codes.SCT.ChestAbdomenAndPelvis, 750),
        Scan("Chest Abdomen Pelvis", coded(codes.SCT.ChestAbdomenAndPelvis), SPIRAL, 9.5, 680),
    )),
    "CT Pulmonary Angiogram": (0.1, (
        _localiser(CHEST, 450),
        Scan("Bolus tracking", coded(CHEST), STATIONARY, 24.0, 10, 100),
        Scan("CTPA", coded(CHEST), SPIRAL, 8.0, 290, 100),
    )),
}  # fmt: skip

#: The CT part of a PET/CT study (attenuation correction and localisation).
PET_CT_SCANS = (
    _localiser(codes.SCT.EntireBody, 1000),
    Scan("PET-CT low dose", coded(codes.SCT.EntireBody), SPIRAL, 3.2, 980),
)

# -- fluoroscopy -------------------------------------------------------------------------------

FLUOROSCOPY = coded(codes.SCT.Fluoroscopy)
ACQUISITION = coded(codes.DCM.StationaryAcquisition)  # 113611: a projection event type (CID 10002)
SINGLE_PLANE = coded(codes.DCM.SinglePlane)


@dataclass(frozen=True)
class Procedure:
    """A fluoroscopy procedure: its room, typical totals and the protocols of its runs."""

    room: str
    region: Coded
    dap: float  # Gy·cm², total
    rp_dose: float  # Gy, total
    fluoro_minutes: float
    fluoro_protocol: str
    acquisition_protocol: str
    frame_rate: float  # acquisition frames per second
    spread: float = 0.45  # log-normal spread of the totals


#: Fluoroscopy procedures: study description -> (share of RF studies, procedure)
RF_PROCEDURES: dict[str, tuple[float, Procedure]] = {
    "Barium swallow": (0.3, Procedure(
        "DEMO-FLUORO1", coded(codes.SCT.Esophagus), 5.5, 0.035, 2.2, "Fluoro low 7.5 fps", "Spot image", 1.0)),
    "ERCP": (0.2, Procedure(
        "DEMO-FLUORO1", coded(codes.SCT.BiliaryTract), 12.0, 0.08, 4.5, "Fluoro low 7.5 fps", "Spot image", 1.0)),
    "Coronary angiogram": (0.3, Procedure(
        "DEMO-CATHLAB1", coded(codes.SCT.Heart), 25.0, 0.42, 4.0, "Fluoro cardiac 15 fps", "Cine 15 fps", 15.0)),
    "PCI": (0.15, Procedure(
        "DEMO-CATHLAB1", coded(codes.SCT.Heart), 60.0, 1.1, 13.0, "Fluoro cardiac 15 fps", "Cine 15 fps", 15.0,
        spread=0.55)),
    # a chronic total occlusion: long and high-dose; the studies above the alert levels come from these
    "PCI chronic total occlusion": (0.08, Procedure(
        "DEMO-CATHLAB1", coded(codes.SCT.Heart), 190.0, 3.2, 42.0, "Fluoro cardiac 15 fps", "Cine 15 fps", 15.0,
        spread=0.3)),
}  # fmt: skip

# -- radiography -------------------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """One radiograph: protocol, region, typical DAP (Gy·cm²), kVp, mAs and source-to-detector distance (mm)."""

    protocol: str
    region: Coded
    dap: float
    kvp: float
    mas: float
    sid: float = 1150.0


_CHEST_PA = View("Chest PA", coded(CHEST), 0.08, 120, 1.6, 1800)
_KNEE, _LUMBAR, _HIP = coded(codes.SCT.Knee), coded(codes.SCT.LumbarSpine), coded(codes.SCT.Hip)

#: Radiography examinations: study description -> (share of DX studies, views)
DX_EXAMS: dict[str, tuple[float, tuple[View, ...]]] = {
    "Chest X-ray": (0.4, (_CHEST_PA,)),
    "Chest PA and lateral": (0.1, (_CHEST_PA, View("Chest LAT", coded(CHEST), 0.25, 125, 4.0, 1800))),
    "Knee": (0.15, (View("Knee AP", _KNEE, 0.03, 65, 5.0), View("Knee LAT", _KNEE, 0.025, 63, 4.5))),
    "Lumbar spine": (0.1, (View("Lumbar spine AP", _LUMBAR, 0.9, 80, 25.0),
                           View("Lumbar spine LAT", _LUMBAR, 1.6, 90, 40.0))),
    "Pelvis": (0.15, (View("Pelvis AP", coded(codes.SCT.Pelvis), 1.1, 77, 20.0),)),
    "Hip": (0.1, (View("Hip AP", _HIP, 0.45, 75, 12.0), View("Hip LAT", _HIP, 0.35, 80, 14.0))),
}  # fmt: skip

# -- mammography -------------------------------------------------------------------------------

BREAST = coded(codes.SCT.Breast)
SIDES = {"L": coded(codes.SCT.Left), "R": coded(codes.SCT.Right)}
CC, MLO = coded(codes.SCT.CranioCaudal), coded(codes.SCT.MedioLateralObliqueProjection)
TUNGSTEN = coded(codes.SCT.Tungsten)
FILTERS = {"Rh": coded(codes.SCT.Rhodium), "Ag": coded(codes.SCT.Silver)}

#: Mammography examinations: study description -> (share of MG studies, (side, view) of each exposure)
MG_EXAMS: dict[str, tuple[float, tuple[tuple[str, Coded], ...]]] = {
    "Screening mammography": (0.8, (("R", CC), ("L", CC), ("R", MLO), ("L", MLO))),
    "Diagnostic mammography": (0.2, (("L", CC), ("L", MLO))),
}

# -- nuclear medicine --------------------------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    """A radiopharmaceutical examination: agent, nuclide, its half-life (s) and typical activity (MBq)."""

    room: str
    agent: Coded
    nuclide: Coded
    half_life: float
    activity: float  # MBq; per kg when ``per_kg``
    per_kg: bool = False


_F18 = coded(codes.SCT._18Fluorine)
_TC99M = coded(codes.SCT._99mTechnetium)
_TC_HALF_LIFE = 21624.12  # s (6.0067 h)


def _technetium(agent: Code, activity: float) -> Agent:
    return Agent("DEMO-GAMMA1", coded(agent), _TC99M, _TC_HALF_LIFE, activity)


#: Nuclear medicine examinations: study description -> (share of NM studies, agent)
NM_EXAMS: dict[str, tuple[float, Agent]] = {
    "PET-CT FDG whole body": (0.45, Agent(
        "DEMO-PETCT1", coded(codes.SCT.FluorodeoxyglucoseF18), _F18, 6586.2, 3.5, per_kg=True)),
    "Bone scan": (0.25, _technetium(codes.SCT.TechnetiumTc99mMedronate, 600.0)),
    "Myocardial perfusion": (0.2, _technetium(codes.SCT.TechnetiumTc99mTetrofosmin, 400.0)),
    "Thyroid scan": (0.1, _technetium(codes.SCT.SodiumPertechnetateTc99m, 80.0)),
}  # fmt: skip
INTRAVENOUS = coded(codes.SCT.IntravenousRoute)
