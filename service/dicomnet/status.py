"""C-STORE response statuses the SCP answers (PS3.4 Annex B.2.3, PS3.7 Annex C).

The rule is that nothing is acknowledged that was not written:

- Success is answered once the object is in the database: made into or merged
  into a study, recognised as a duplicate of something already kept, or refused
  as not a dose object *but kept* (``doseledger reprocess`` may read it later, and a
  failure would only make a PACS router resend it forever). The refusal and its
  reason are in the event log.
- A failure is answered when the object was not written, so that the sender
  keeps it and tries again: the database cannot be reached or did not answer
  within its deadline (``DOSELEDGER_DB_TIMEOUT``), the server is
  shutting down, or the object is larger than ``DOSELEDGER_MAX_UPLOAD_BYTES``
  (it is then refused unread, as an upload would be; raise the limit and the
  sender's next attempt succeeds), or is deflated and inflates past it (its
  first deflated bytes are kept).
- A dose report that breaks its template (an X-Ray Radiation Dose SR without
  its accumulated DLP, a value that is no number) is answered Error: Data Set
  Does Not Match SOP Class (0xA900), though it is kept and logged: the report
  carries a patient's dose, and a failure shows at the modality or router (its
  queue, its log) that this dose is not recorded, where a Success would hide it
  until someone read DoseLedger's event log. Resending the same bytes would not
  help, and the 0xA9xx class says so (PS3.4 B.2.3: an error, not a refusal for
  now). An object that is no dose object at all (an image without dose
  attributes) stays Success: routers send DoseLedger everything.
- A data set that cannot be parsed is answered Cannot Understand; its bytes
  are kept for inspection, but resending them would not help. So is an
  unexpected error in DoseLedger itself (logged with its traceback), with
  pynetdicom's code for a failed C-STORE handler.
"""

from __future__ import annotations

#: response status by what became of the object: "written", the rejection codes of service.errors
#: that are not answered Success, and the SCP's own failures
STORE_STATUS: dict[str, int] = {
    "written": 0x0000,  # Success (PS3.4 B.2.3)
    "not-dicom": 0xC000,  # Error: Cannot Understand (PS3.4 B.2.3, 0xCxxx)
    "invalid-dose-report": 0xA900,  # Error: Data Set Does Not Match SOP Class (PS3.4 B.2.3): kept and logged
    "database-unavailable": 0xA700,  # Refused: Out of Resources (PS3.4 B.2.3, 0xA7xx): retry later
    "shutting-down": 0xA701,  # Refused: Out of Resources, while the server stops: retry later
    "too-large": 0xA702,  # Refused: Out of Resources, over DOSELEDGER_MAX_UPLOAD_BYTES: nothing kept
    "failed": 0xC211,  # Error: Cannot Understand (0xCxxx), pynetdicom's code for a handler exception
}
