"""The DICOM network side of DoseLedger: a Storage SCP, and query/retrieve from remote PACS, on pynetdicom.

Modules are named after the standard's parts, as pynetdicom's are:
``presentation`` (the SOP classes and transfer syntaxes accepted, PS3.4 Annex B.5
and PS3.5 Annex A), ``status`` (the C-STORE statuses answered, PS3.4 Annex B.2.3),
``acl`` (who may associate) and ``scp`` (the server and its event handlers).
Every object received goes through :mod:`service.ingest.pipeline` like an upload, with
``via="dicom"`` and ``client="AE_TITLE@address"``.

Query/retrieve (README, "Query and retrieve from a PACS"): ``nodes`` (remote nodes),
``association`` (opening one, or why not), ``query`` (Study Root C-FIND, PS3.4 C.6.2),
``selection`` (which objects of a study carry dose; pure), ``retrieve`` (C-MOVE and
C-GET, PS3.4 C.4.2-C.4.3), ``fetch`` (one study of a run), ``progress`` (a run's
record), ``runs`` (a run from start to end) and ``schedule`` (runs in the background,
resumed, nightly).
"""
