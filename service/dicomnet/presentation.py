"""Presentation contexts the Storage SCP accepts (PS3.4 Annex B.5, PS3.5 Annex A).

Dose structured reports are accepted as every SR class the extractor reads
(:data:`service.extract.SR_CLASSES`); images as the classes whose headers carry
dose attributes. Every class is offered with the uncompressed and the common
compressed transfer syntaxes: DoseLedger reads headers only and never decodes
pixel data, so a compressed image costs nothing extra.
"""

from __future__ import annotations

from pydicom import uid
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from service.extract import SR_CLASSES

#: Image Storage SOP classes whose headers carry dose information (PS3.4 Table B.5-1)
IMAGE_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.1": "Computed Radiography Image Storage",
    "1.2.840.10008.5.1.4.1.1.1.1": "Digital X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.1.1": "Digital X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.1.2": "Digital Mammography X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.2.1": "Digital Mammography X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.2": "CT Image Storage",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image Storage",
    "1.2.840.10008.5.1.4.1.1.20": "Nuclear Medicine Image Storage",
    "1.2.840.10008.5.1.4.1.1.128": "Positron Emission Tomography Image Storage",
}

#: Transfer syntaxes accepted for every class (PS3.5 Annex A; PS3.6 Table A-1), in order of preference.
#: The compressed ones come first: pynetdicom accepts the first of these that the sender proposes, so a
#: sender holding a compressed image sends it as it is instead of decompressing it for us.
TRANSFER_SYNTAXES: tuple[str, ...] = (
    uid.JPEGBaseline8Bit,
    uid.JPEGExtended12Bit,
    uid.JPEGLossless,
    uid.JPEGLosslessSV1,
    uid.JPEGLSLossless,
    uid.JPEGLSNearLossless,
    uid.JPEG2000Lossless,
    uid.JPEG2000,
    uid.HTJ2KLossless,
    uid.HTJ2KLosslessRPCL,
    uid.HTJ2K,
    uid.RLELossless,
    uid.ExplicitVRLittleEndian,
    uid.ImplicitVRLittleEndian,
    uid.DeflatedExplicitVRLittleEndian,
    uid.ExplicitVRBigEndian,  # retired, still sent by older modalities
)

#: every Storage SOP class accepted: the dose SRs first, then the images
STORAGE_CLASSES: tuple[str, ...] = (*sorted(SR_CLASSES), *IMAGE_CLASSES)


def add_contexts(ae: AE) -> None:
    """Make ``ae`` accept Verification (PS3.4 Annex A) and the storage classes above."""
    ae.add_supported_context(Verification)
    for sop_class in STORAGE_CLASSES:
        ae.add_supported_context(sop_class, TRANSFER_SYNTAXES)
