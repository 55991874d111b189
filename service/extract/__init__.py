"""Pure extraction: a pydicom Dataset becomes a study document fragment.

Contract (relied on by ingest, the CLI and the tests)::

    extract(ds, *, not_patient_patterns=DEFAULT_NOT_PATIENT_PATTERNS) -> dict

returns a *fragment*: the study-level fields of DESIGN.md (``study_instance_uid``,
``modalities``, ``study_date_time``, ``patient``, ``equipment``, and one or more of
``ct``, ``projection``, ``radiopharmaceutical``) plus ``report``, a dict that
identifies the object itself (``sop_instance_uid``, ``sop_class_uid``, ``kind``)
and holds the object's own accumulated blocks. ``service.merge`` folds fragments
into the stored study document. Raises :class:`service.errors.NotADoseObject`
or :class:`service.errors.InvalidDoseReport`; never touches a database.
"""
