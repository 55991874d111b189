"""Many images of one study: what merging one more costs as the study grows, and one multipart request of them all.

    .venv/bin/python -m bench.large_study [--images 900] [--profile]

Makes ``--images`` copies of the corpus's DX-Im-GE_XR220-1.dcm (a radiography
image whose header carries its dose), all of one new study, each with its own
SOP Instance UID and acquisition time (so each is an exposure of its own), on a
SecantusDB server started for the run. Then:

* ingests them one after the other through the pipeline and prints the
  milliseconds per image of the first, middle and last 50 (the cost of merging
  one more image into a study of 0, about half and all the images): they
  should not grow with the study;
* sends them all again, as a new study, in one ``multipart/form-data`` request
  to ``POST /api/imports`` (the Flask test client, a token holding the
  importer role) and prints its seconds (issue #20, item 11: 241 s before).

``--profile`` prints the functions that took most time in the one-by-one run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from bench.database import database
from bench.import_rate import CORPUS
from service import create_app
from service.config import load_settings
from service.ingest.pipeline import Pipeline
from service.storage import Store
from service.web.context import close_store
from tests.samples import exposure_copies
from tests.signin import signed_in_client

SAMPLE = "DX-Im-GE_XR220-1.dcm"
SLICE = 50


def images(count: int) -> list[bytes]:
    """Return ``count`` encoded copies of the sample, one new study, each its own exposure."""
    return exposure_copies(CORPUS / SAMPLE, count)


def one_by_one(uri: str, objects: list[bytes], profile: bool) -> None:
    """Ingest the objects in turn; print the cost per image along the way."""
    store = Store.connect(uri, f"bench_large_{secrets.token_hex(3)}")
    store.ensure_indexes()
    pipeline = Pipeline.from_settings(store, load_settings({}))
    profiler = cProfile.Profile() if profile else None
    seconds = []
    try:
        for n, data in enumerate(objects):
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            outcome = pipeline.ingest(data, name=f"image-{n}.dcm", via="cli", client="bench")
            if profiler:
                profiler.disable()
            seconds.append(time.perf_counter() - started)
            assert outcome.outcome in ("created", "merged"), outcome.message
        events = store.db.studies.find_one({}, {"summary.number_of_events": 1})["summary"]["number_of_events"]
    finally:
        store.client.drop_database(store.db.name)
        store.close()
    middle = len(seconds) // 2
    parts = {"first": seconds[:SLICE], "middle": seconds[middle : middle + SLICE], "last": seconds[-SLICE:]}
    costs = ", ".join(f"{name} {SLICE} {statistics.median(part) * 1000:.1f} ms" for name, part in parts.items())
    print(f"one by one: {sum(seconds):.1f} s for {len(seconds)} images ({events} events); median per image: {costs}")
    if profiler:
        ours = r"service|schemas|pymongo/synchronous/collection|bson"
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(ours, 30)


def one_request(uri: str, objects: list[bytes]) -> None:
    """Send every object in one multipart request; print the seconds it took."""
    app = create_app({"TESTING": True, "MONGODB_URI": uri, "DOSELEDGER_DB_NAME": f"bench_large_{secrets.token_hex(3)}"})
    try:
        client = signed_in_client(app)
        files = [(io.BytesIO(data), f"image-{n}.dcm") for n, data in enumerate(objects)]
        started = time.perf_counter()
        response = client.post("/api/imports", data={"files": files}, content_type="multipart/form-data")
        took = time.perf_counter() - started
        assert response.status_code == 201, response.get_data(as_text=True)[:500]
        print(f"one multipart request of {len(objects)} images: {took:.1f} s ({response.json['counts']})")
    finally:
        with app.app_context():
            from service.web.context import get_store

            get_store().client.drop_database(get_store().db.name)
        close_store(app)


def main() -> None:
    """Parse the arguments, start the database, run both measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=900)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="doseledger-large-") as folder, database(Path(folder)) as uri:
        one_by_one(uri, images(args.images), args.profile)
        one_request(uri, images(args.images))


if __name__ == "__main__":
    main()
