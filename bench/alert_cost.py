"""Measure what the alert rules cost the import: the rate with the default rules on and off, side by side.

Usage: ``.venv/bin/python bench/alert_cost.py [--copies N] [--corpus DIR]``

Writes 2 x N copies of the corpus's CT and fluoroscopy dose reports with fresh
UIDs (``bench/import_rate.py``'s copies), and imports them one at a time through
the ingest pipeline into one SecantusDB server started for the run (or
``MONGODB_URI``, in a database of its own, dropped afterwards): N with the alert
rules evaluated on every study written (the shipped defaults: fluoroscopy dose at
RP and DAP, cumulative dose at RP, CT Dose Check), N without, in alternating
chunks so that both see the same machine load and the same growing database.
The rules may cost at most 10% of the import rate.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import import_rate  # noqa: E402
from bench.database import database  # noqa: E402
from service.alerts.records import raise_alerts  # noqa: E402
from service.ingest.batch import ingest_all  # noqa: E402
from service.ingest.pipeline import Pipeline  # noqa: E402
from service.storage import Store  # noqa: E402

#: fluoroscopy reports beside import_rate's CT ones: the default rules watch both
RF_FILES = ["RF-RDSR-Siemens-Zee.dcm", "RF-RDSR-Philips_Allura.dcm", "RF-RDSR-GE.dcm", "Dual-RDSR-RF.dcm"]


def measure(on: list[bytes], off: list[bytes], uri: str, chunk: int = 20) -> tuple[float, float, float, int]:
    """Return the seconds of the import with rules and without, of the rules alone per study, and the alerts."""
    name = f"doseledger_bench_{secrets.token_hex(3)}"
    store = Store.connect(uri, name)
    seconds: dict[bool | str, float] = {True: 0.0, False: 0.0}
    try:
        store.ensure_indexes()
        pipelines = {
            alerts: Pipeline(store, max_bytes=64 << 20, not_patient_patterns=("phy", "test", "qa"), alerts=alerts)
            for alerts in (True, False)
        }
        for offset in range(0, len(on), chunk):
            for alerts, data in ((True, on), (False, off)) if offset % (2 * chunk) == 0 else ((False, off), (True, on)):
                part = import_rate.sources(data, offset, offset + chunk, f"alerts-{alerts}")
                outcomes = ingest_all(pipelines[alerts], part, workers=1, via="cli", client="bench")
                seconds[alerts] += import_rate.imported(outcomes)
        raised = len(store.find_alerts({}, limit=0))
        seconds["evaluation"] = evaluation(store)
    finally:
        store.client.drop_database(name)
        store.close()
    return seconds[True], seconds[False], seconds["evaluation"], raised


def evaluation(store: Store) -> float:
    """Return the seconds the rules take alone over every study imported (what the pipeline adds per object)."""
    documents = list(store.iter_studies({}, sort=[("_id", 1)], fields={"_id": 0}))
    start = time.perf_counter()
    for document in documents:
        raise_alerts(store, document, via="cli", client="bench")
    return (time.perf_counter() - start) / len(documents)


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=400, help="reports per measurement")
    parser.add_argument("--corpus", type=Path, default=import_rate.CORPUS)
    args = parser.parse_args()
    import_rate.CT_FILES[:] = [*import_rate.CT_FILES, *RF_FILES]
    on, off = import_rate.copies(args.corpus, args.copies), import_rate.copies(args.corpus, args.copies)
    with tempfile.TemporaryDirectory() as tmp:
        given = os.environ.get("MONGODB_URI")
        with database(Path(tmp), given) as uri:
            with_rules, without, alone, raised = measure(on, off, uri)
    n = args.copies
    print(f"{n} reports per measurement ({len(import_rate.CT_FILES)} CT and fluoroscopy samples, fresh UIDs), "
          f"one at a time, {'MONGODB_URI' if given else 'embedded SecantusDB'}")  # fmt: skip
    print(f"{'import with the default alert rules':40} {n / with_rules:7.1f} reports/s ({raised} alerts raised)")
    print(f"{'import without alert rules':40} {n / without:7.1f} reports/s")
    print(f"the rules cost {100 * (with_rules - without) / without:+.1f}% of the import time")
    print(f"the rules alone, re-run over the {2 * n} studies: {alone * 1000:.3f} ms per study, "
          f"{100 * alone / (without / n):.1f}% of a report's import without them")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
