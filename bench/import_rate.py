"""Measure the end-to-end import rate of CT dose reports and its ratio to a pydicom floor.

Usage: ``.venv/bin/python bench/import_rate.py [--copies N] [--corpus DIR]``

Writes N copies of the corpus's CT dose reports with fresh Study, Series and
SOP Instance UIDs (pydicom), imports them through the ingest pipeline into a
SecantusDB server started for the run in a temporary directory (or into
``MONGODB_URI``, in a database of its own that is dropped afterwards), and
compares the rate with the floor measured in the same run: pydicom reading the
same bytes and visiting every content item of the SR tree, nothing else.
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
sys.path.insert(0, str(ROOT))

from service.database import EmbeddedServer, free_port  # noqa: E402
from service.ingest import Pipeline  # noqa: E402
from service.store import Store  # noqa: E402

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


def floor(data: list[bytes]) -> float:
    """Return the seconds pydicom needs to read every object and visit each content item and its value."""
    start = time.perf_counter()
    for raw in data:
        ds = pydicom.dcmread(io.BytesIO(raw))
        for item in _items(ds):
            for element in item:
                element.value  # noqa: B018 - convert the value, as any reader must
    return time.perf_counter() - start


def measure(data: list[bytes], uri: str, chunk: int = 25) -> tuple[float, float]:
    """Return (floor seconds, import seconds), measured in alternating chunks.

    Alternating keeps the ratio fair on a shared machine whose load changes
    during the run.
    """
    name = f"doseledger_bench_{secrets.token_hex(3)}"
    store = Store.connect(uri, name)
    floor_seconds = import_seconds = 0.0
    try:
        store.ensure_indexes()
        pipeline = Pipeline(store, max_bytes=64 * 1024 * 1024, not_patient_patterns=("phy", "test", "qa"))
        for offset in range(0, len(data), chunk):
            part = data[offset : offset + chunk]
            floor_seconds += floor(part)
            start = time.perf_counter()
            for index, raw in enumerate(part, offset):
                outcome = pipeline.ingest(raw, name=f"copy-{index}.dcm", via="cli", client="bench")
                if outcome.outcome != "created":
                    raise SystemExit(f"unexpected outcome: {outcome}")
            import_seconds += time.perf_counter() - start
    finally:
        store.client.drop_database(name)
        store.close()
    return floor_seconds, import_seconds


def main() -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=400)
    parser.add_argument(
        "--corpus", type=Path, default=Path(os.environ.get("DOSELEDGER_CORPUS", ROOT.parent / "shared" / "corpus"))
    )
    args = parser.parse_args()
    data = copies(args.corpus, args.copies)
    with tempfile.TemporaryDirectory() as tmp:
        server = None
        uri = os.environ.get("MONGODB_URI")
        if not uri:
            server = EmbeddedServer(Path(tmp) / "db", free_port())
            server.start(timeout=60)
            uri = server.uri
        try:
            floor_seconds, import_seconds = measure(data, uri)
        finally:
            if server is not None:
                server.stop()
    n = len(data)
    where = "MONGODB_URI" if server is None else "embedded SecantusDB"
    print(f"{n} CT reports ({len(CT_FILES)} samples, fresh UIDs), database {where}")
    print(f"floor (pydicom read + visit every content item): {n / floor_seconds:7.1f} reports/s")
    print(f"import (ingest pipeline end to end):             {n / import_seconds:7.1f} reports/s")
    print(f"ratio import time / floor time:                  {import_seconds / floor_seconds:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
