"""Seconds to apply a RIS patient-size file of many rows (issue #20, item 11: 20,000 rows took 27-38 s).

    .venv/bin/python -m bench.patient_sizes_rate [--rows 20000]

Loads ``--rows`` synthetic studies (``bench/synthetic.py``: accession numbers
ACC00000000..., no height) into a SecantusDB server started for the run, writes
a CSV of one row per study (height and weight) plus a tenth as many rows that
name no study, and applies it with ``service.ingest.patient_sizes.import_sizes``
as ``doseledger patient-sizes`` does; then applies it again, when every row is
unchanged. Prints the seconds of each.
"""

from __future__ import annotations

import argparse
import secrets
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.database import database
from bench.synthetic import synthetic_studies
from service.ingest.patient_sizes import Sender, import_sizes
from service.storage import Store

BATCH = 2000


def run(uri: str, rows: int) -> None:
    """Load the studies, apply the file twice, print the figures."""
    store = Store.connect(uri, f"bench_sizes_{secrets.token_hex(3)}", timeout=600)
    try:
        store.ensure_indexes()
        documents = synthetic_studies(rows, now=datetime(2026, 11, 1))
        for start in range(0, rows, BATCH):
            store.insert_studies(documents[start : start + BATCH])
        lines = [f"ACC{n:08d};{150 + n % 50},5;{50 + n % 60}" for n in range(rows)]
        lines += [f"NONE{n:08d};170;70" for n in range(rows // 10)]
        data = ("Accession;Height;Weight\n" + "\n".join(lines) + "\n").encode()
        for attempt in ("first", "again"):
            started = time.perf_counter()
            result = import_sizes(store, data, ("Accession", "Height", "Weight"), Sender("bench.csv", "cli", "bench"))
            print(f"{attempt}: {time.perf_counter() - started:.1f} s: {result.summary()}", flush=True)
    finally:
        store.client.drop_database(store.db.name)
        store.close()


def main() -> None:
    """Parse the arguments, start the database, run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="doseledger-sizes-") as folder, database(Path(folder)) as uri:
        run(uri, args.rows)


if __name__ == "__main__":
    main()
