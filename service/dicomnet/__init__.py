"""The DICOM network side of DoseLedger: a Storage SCP built on pynetdicom.

Modules are named after the standard's parts, as pynetdicom's are:
``presentation`` (the SOP classes and transfer syntaxes accepted, PS3.4 Annex B.5
and PS3.5 Annex A), ``status`` (the C-STORE statuses answered, PS3.4 Annex B.2.3),
``acl`` (who may associate) and ``scp`` (the server and its event handlers).
Every object received goes through :mod:`service.ingest.pipeline` like an upload, with
``via="dicom"`` and ``client="AE_TITLE@address"``.
"""
