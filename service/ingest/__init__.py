"""One pipeline for every way in: bytes -> strict reading, hashing, extraction, merge, summary, storage.

``pipeline`` takes one object in; ``batch`` runs many with a few workers;
``sources`` finds them in files, folders and zip files; ``dicomfile`` reads
DICOM strictly; ``merge`` and ``summary`` fold fragments into study documents;
``ris_file`` and ``patient_sizes`` bring patient heights and weights from a RIS.
"""
