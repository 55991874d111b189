"""Measure the end-to-end import rate of CT dose reports and its ratio to a pydicom floor.

Usage: ``.venv/bin/python bench/import_rate.py [--copies N] [--workers W] [--corpus DIR]``

Writes N copies of the corpus's CT dose reports with fresh Study, Series and
SOP Instance UIDs (pydicom), imports them through the ingest pipeline into a
SecantusDB server started for the run in a temporary directory (or into
``MONGODB_URI``, in a database of its own that is dropped afterwards), and
compares the rate with the floor measured in the same run: pydicom reading the
same bytes and visiting every content item of the SR tree, nothing else. It also
prints, to show where the time goes, pydicom converting every value of every
item and reading plus extraction without a database.

Two import rates, each over its own N copies (same mix of samples):

- one at a time: what one HTTP client sending objects in turn, or one DICOM
  association, sees; client and database work never overlap;
- ``doseledger import``: :func:`service.ingest.batch.ingest_all` with W workers
  (default ``DOSELEDGER_IMPORT_WORKERS`` or its default), the CLI's own code.
  Slightly pessimistic: its workers fill and drain at every chunk (see measure).

Targets on the 2-core reference machine: at least 100 reports/s, ratio under 3.
"""

from __future__ import annotations

import argparse
import io
import os
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

ROOT = Path(__file__).resolve().parent.parent
#: the sample corpus: DOSELEDGER_CORPUS, else ../shared/corpus beside the repository
CORPUS = Path(os.environ.get("DOSELEDGER_CORPUS", ROOT.parent / "shared" / "corpus"))
sys.path.insert(0, str(ROOT))

from bench.database import database  # noqa: E402
from service.access.patient_key import PatientKeys  # noqa: E402
from service.config import load_settings  # noqa: E402
from service.extract import extract  # noqa: E402
from service.ingest.batch import ingest_all  # noqa: E402
from service.ingest.pipeline import Outcome, Pipeline  # noqa: E402
from service.ingest.sources import Source  # noqa: E402
from service.storage import Store  # noqa: E402

CT_FILES = [
    "CT-ESR-GE_VCT.dcm",
    "CT-RDSR-GEPixelMed.dcm",
    "CT-RDSR-Siemens-Continued-1.dcm",
    "CT-RDSR-Siemens-Multi-3.dcm",
    "CT-RDSR-Siemens_Flash-TAP-SS.dcm",
    "CT-RDSR-ToshibaPixelMed.dcm",
    "CT-RDSR-Toshiba_MultiValSD.dcm",
    "NM-CT-RDSR-Siemens.dcm",
]


def copies(corpus: Path, count: int) -> list[bytes]:
    """Return ``count`` encoded CT reports, each with fresh UIDs."""
    templates = [pydicom.dcmread(corpus / name) for name in CT_FILES]
    result = []
    for index in range(count):
        ds = templates[index % len(templates)]
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        buffer = io.BytesIO()
        ds.save_as(buffer)
        result.append(buffer.getvalue())
    return result


def _items(ds: Dataset) -> Iterator[Dataset]:
    for item in ds.get("ContentSequence", []):
        yield item
        yield from _items(item)


def floor(data: list[bytes], *, values: bool) -> float:
    """Return the seconds pydicom needs to read every object and visit each content item.

    The issue's floor visits the items only (``values=False``); with ``values``
    every element of every item is also converted, as any reader of the values must.
    """
    start = time.perf_counter()
    for raw in data:
        for item in _items(pydicom.dcmread(io.BytesIO(raw))):
            if values:
                for element in item:
                    element.value  # noqa: B018 - convert the value
    return time.perf_counter() - start


def extraction(data: list[bytes]) -> float:
    """Return the seconds reading and extraction take without a database."""
    start = time.perf_counter()
    for raw in data:
        extract(pydicom.dcmread(io.BytesIO(raw)))
    return time.perf_counter() - start


def imported(outcomes: Iterator[Outcome]) -> float:
    """Return the seconds taken to drain ``outcomes``, checking that each object created a study."""
    start = time.perf_counter()
    for outcome in outcomes:
        if outcome.outcome != "created":
            raise SystemExit(f"unexpected outcome: {outcome}")
    return time.perf_counter() - start


def sources(data: list[bytes], start: int, stop: int, prefix: str) -> list[Source]:
    """Return ``data[start:stop]`` as import sources named by their index."""
    return [
        Source(f"{prefix}-{index}.dcm", len(raw), lambda raw=raw: raw)
        for index, raw in enumerate(data[start:stop], start)
    ]


def measure(data: list[bytes], more: list[bytes], uri: str, workers: int, chunk: int = 25) -> dict[str, float]:
    """Return the seconds of each measurement, taken in alternating chunks.

    Alternating keeps the ratios fair on a shared machine whose load changes
    during the run. ``data`` is imported one object at a time, ``more`` (other
    copies of the same samples) by :func:`ingest_all` with ``workers``, into
    the same database, which both see grow alike. The workers start and drain at
    every chunk, which makes their rate slightly pessimistic.
    """
    name = f"doseledger_bench_{secrets.token_hex(3)}"
    store = Store.connect(uri, name)
    seconds = dict.fromkeys(("items", "values", "extraction", "one", "workers"), 0.0)
    try:
        store.ensure_indexes()
        keys = PatientKeys(secrets.token_hex(32))  # as a site's: every object de-identified and keyed
        pipeline = Pipeline(
            store, max_bytes=64 * 1024 * 1024, not_patient_patterns=("phy", "test", "qa"), patient_keys=keys
        )
        for offset in range(0, len(data), chunk):
            part = data[offset : offset + chunk]
            seconds["items"] += floor(part, values=False)
            seconds["values"] += floor(part, values=True)
            seconds["extraction"] += extraction(part)
            end = offset + chunk
            one = ingest_all(pipeline, sources(data, offset, end, "one"), workers=1, via="cli", client="bench")
            seconds["one"] += imported(one)
            many = ingest_all(pipeline, sources(more, offset, end, "many"), workers=workers, via="cli", client="bench")
            seconds["workers"] += imported(many)
    finally:
        store.client.drop_database(name)
        store.close()
    return seconds


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=400, help="reports per measurement")
    parser.add_argument("--workers", type=int, default=load_settings().import_workers, help="of doseledger import")
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    data, more = copies(args.corpus, args.copies), copies(args.corpus, args.copies)
    with tempfile.TemporaryDirectory() as tmp:
        given = os.environ.get("MONGODB_URI")
        with database(Path(tmp), given) as uri:
            seconds = measure(data, more, uri, args.workers)
    report(len(data), seconds, args.workers, "MONGODB_URI" if given else "embedded SecantusDB")
    return 0


def report(n: int, seconds: dict[str, float], workers: int, where: str) -> None:
    """Print the rates, and each import's ratio of time to the floor's."""
    print(f"{n} CT reports per measurement ({len(CT_FILES)} samples, fresh UIDs), database {where}")
    rows = [
        ("floor: pydicom read + visit every content item", "items"),
        ("pydicom read + convert every item's values", "values"),
        ("read + DoseLedger extraction, no database", "extraction"),
        ("import one at a time (one HTTP client, one association)", "one"),
        (f"import with {workers} workers (doseledger import)", "workers"),
    ]
    for label, key in rows:
        ratio = f"  ratio to floor {seconds[key] / seconds['items']:5.2f}" if key in ("one", "workers") else ""
        print(f"{label:56} {n / seconds[key]:7.1f} reports/s{ratio}")


if __name__ == "__main__":
    sys.exit(main())
