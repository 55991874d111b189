"""Time every audit through the HTTP route and as the bare pipeline, on many synthetic studies.

    .venv/bin/python bench/audit_latency.py [--studies 100000] [--uri MONGODB_URI]

Without ``--uri`` an embedded SecantusDB server is started on a temporary data
directory (and stopped at the end). The studies come from ``bench/synthetic.py``
(the realistic CT/RF/DX/MG mix the list benchmark uses). For each audit, with
its default parameters, the bare pipeline runs through pymongo in one
aggregation (as mongosh runs it) and the same audit through
``GET /api/audits/<name>`` (Flask test client: argument parsing, the pipeline
run in slices of about 0.1 s each, service.audits.sliced, JSON encoding); the
ratio route/bare is what slicing costs in all (the price of never holding the
server long). "service ms" is the JSON encoding of the rows, timed without a database.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.synthetic import synthetic_study  # noqa: E402
from service import create_app  # noqa: E402
from service.alerts.rules import audit_levels, default_table  # noqa: E402
from service.audits import pipeline  # noqa: E402
from service.audits.run import AuditResult  # noqa: E402
from service.storage.embedded import EmbeddedServer, free_port  # noqa: E402
from service.web.context import close_store, get_store  # noqa: E402
from service.web.jsonprovider import dumps  # noqa: E402

DB_NAME = "doseledger_bench_audits"
BATCH = 5000


def studies(count: int, now: datetime) -> Iterator[list[dict[str, Any]]]:
    """Yield the synthetic studies in batches."""
    rng = random.Random(7)
    numbers = iter(range(count))
    while batch := [synthetic_study(i, rng, now=now) for i in itertools.islice(numbers, BATCH)]:
        yield batch


def load(app: Any, count: int) -> None:
    """Insert ``count`` synthetic studies (skipped when the database already holds them)."""
    with app.app_context():
        store = get_store()
        if store.db.studies.estimated_document_count() >= count:
            return
        store.db.studies.delete_many({})
        started = time.perf_counter()
        for batch in studies(count, datetime(2026, 1, 1)):
            store.db.studies.insert_many(batch, ordered=False)
        print(f"loaded {count} studies in {time.perf_counter() - started:.1f} s", flush=True)


def timed(run: Any) -> tuple[float, Any]:
    """Return the seconds ``run()`` took and its result."""
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def bench(app: Any) -> None:
    """Print, per audit, the bare pipeline and route times and their ratio."""
    client = app.test_client()
    levels = audit_levels(default_table())  # the shipped alert rules' study totals
    with app.app_context():
        studies_collection = get_store().db.studies
        scan, _ = timed(lambda: list(studies_collection.aggregate([{"$group": {"_id": None, "n": {"$sum": 1}}}])))
        print(f"baseline: one $group over every study: {scan:.2f} s")
        print(f"{'audit':38} {'rows':>5} {'bare s':>8} {'route s':>8} {'ratio':>6} {'service ms':>10}")
        for audit in pipeline.audits().values():
            stages = pipeline.instantiate(audit, {}, match={}, alert_match=pipeline.alert_match(levels))
            bare, rows = timed(lambda stages=stages: list(studies_collection.aggregate(stages)))
            route, response = timed(lambda name=audit.name: client.get(f"/api/audits/{name}"))
            assert response.status_code == 200, response.get_data(as_text=True)
            own, _ = timed(lambda audit=audit, rows=rows: dumps(AuditResult(audit, {}, {}, rows).as_json()))
            print(
                f"{audit.name:38} {len(rows):5d} {bare:8.2f} {route:8.2f} {route / bare:6.2f} {own * 1000:10.2f}",
                flush=True,
            )


def main() -> None:
    """Parse the arguments, start the database if needed, load and time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--uri", help="an existing MongoDB-protocol server (default: embedded SecantusDB)")
    parser.add_argument("--data-dir", type=Path, help="keep the embedded server's data here (reused next time)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="doseledger-bench-") as folder:
        server = None
        if args.uri is None:
            server = EmbeddedServer(args.data_dir or Path(folder) / "db", free_port())
            server.start(timeout=60)
        # every operation has a deadline (see the README, Reliability and limits): the bare pipelines
        # over 100,000 studies take longer than the defaults allow
        uri = args.uri or server.uri
        deadlines = {"DOSELEDGER_DB_TIMEOUT": "600", "DOSELEDGER_DB_LONG_TIMEOUT": "600"}
        app = create_app({"MONGODB_URI": uri, "DOSELEDGER_DB_NAME": DB_NAME, **deadlines})
        try:
            load(app, args.studies)
            bench(app)
        finally:
            close_store(app)
            if server is not None:
                print(f"server log: {server.log_tail(5)}")
                server.stop()


if __name__ == "__main__":
    main()
