"""How the collections shard on a region-wide cluster, and which queries on ``studies`` reach every shard.

Every query on ``studies`` names itself with MongoDB's ``comment`` (it shows in
the server's slow-query log and profiler, and in ``$currentOp``). A query whose
filter fixes ``study_instance_uid`` (equality or ``$in``) goes to the one shard
holding the study; the others are scatter-gather, listed here with the index
each shard uses, and in the README's Scale-out section.
``tests/test_shard_keys.py`` records every command the service sends to
``studies`` during a representative run and fails on one that neither fixes
the shard key nor is listed.
"""

from __future__ import annotations

#: collection -> shard key (``sh.shardCollection``); collections not listed stay unsharded on the primary shard
SHARD_KEYS: dict[str, dict[str, int | str]] = {
    "studies": {"study_instance_uid": "hashed"},
    "event_log": {"seq": 1},
    "originals.chunks": {"files_id": 1, "n": 1},
}

#: the queries on ``studies`` that fix the shard key: comment -> what issues it
TARGETED: dict[str, str] = {
    "studies.save": "an object folded into its study: read, insert, conditional replace (ingest, reprocess, migrate)",
    "studies.get": "one study's document (API, study page)",
    "studies.held": "the dose objects a study already holds (a PACS run deciding what to retrieve)",
    "studies.sizes": "patient sizes set on studies named by Study Instance UID (RIS file, in bulk)",
    "studies.insert-many": "complete new documents in bulk (demo, benchmarks, restores)",
    "studies.delete": "one study removed (`DELETE /api/studies/<uid>`, `doseledger delete`, purge, demo --remove)",
}

#: the scatter-gather queries on ``studies``: comment -> (what issues it, the index each shard uses)
SCATTER_GATHER: dict[str, tuple[str, str]] = {
    "studies.list": ("list pages, `GET /api/studies`: a date window or page", "modalities + study_date_time"),
    "studies.count": ("the bounded count of a filtered list", "modalities + study_date_time"),
    "studies.estimate": ("the approximate number of studies (migrate's summary)", "none: collection metadata"),
    "studies.scan": (
        "`doseledger alerts evaluate`: the studies of a date range, to run the rules over",
        "study_date_time",
    ),
    "studies.audit": ("dose audits (aggregation pipelines)", "modalities + study_date_time"),
    "studies.keys": (
        "the keys of an audit's or an export's selection, one date window at a time (slices)",
        "modalities + study_date_time",
    ),
    "studies.by-id": ("a batch of an audit's or an export's studies, by `_id` (slices)", "_id"),
    "studies.by-field": ("patient sizes by accession number", "accession_number"),
    "studies.tallies": ("counting the tallies again (first start on an existing database)", "none: a full pass"),
    "studies.tally-latest": (
        "a tally's latest study again, after a deletion took it",
        "equipment.station_name + study_date_time",
    ),
    "studies.versions": ("`doseledger migrate`: documents of another schema version", "study_instance_uid"),
    "studies.by-uid-root": ("`doseledger demo --remove`: studies under the demo UID root", "study_instance_uid"),
    "studies.retention": ("`doseledger purge`: studies dated before the retention limit", "study_date_time"),
}
