"""List and detail latency at 100,000 studies: HTTP route against the bare database work it runs.

Loads synthetic studies (bench/synthetic.py: CT, RF, DX, MG mix, several
events each) into a fresh embedded SecantusDB, serves the app on a free port
from a thread, and times over repeated requests (median and p95):

* the first page of each modality list (API and HTML page),
* a filtered CT page (station and protocol "contains", a dose range),
* a study's detail (API and HTML page),

each beside the bare call the route makes (``service.reading.listing.list_studies`` or
``Store.get_study`` on the same store: the database queries plus the little
Python around them), and prints the ratio route/bare. Targets: first page p95
under 500 ms, ratio under 1.5.

    .venv/bin/python -m bench.list_latency [--studies 100000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from werkzeug.serving import make_server

from bench.database import database
from bench.synthetic import synthetic_studies
from schemas.query import parse_study_query
from service import create_app
from service.reading.listing import list_studies
from service.storage import Store
from tests.signin import make_token, make_user

BATCH = 5000
TARGET_P95 = 0.5
TARGET_RATIO = 1.5


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Return the median and p95 in seconds of ``repeat`` calls (after one warm-up call)."""
    call()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


#: the bench user's API token, set once the database is loaded
AUTHORIZATION: dict[str, str] = {}


def fetch(url: str) -> Callable[[], bytes]:
    """Return a call that GETs ``url`` and checks the status."""

    def get() -> bytes:
        with urllib.request.urlopen(urllib.request.Request(url, headers=AUTHORIZATION), timeout=60) as response:
            assert response.status == 200, response.status
            return response.read()

    return get


def load(store: Store, count: int) -> float:
    """Insert ``count`` synthetic studies; return the seconds it took."""
    start = time.perf_counter()
    documents = synthetic_studies(count)
    for first in range(0, count, BATCH):
        store.insert_studies(documents[first : first + BATCH])
    return time.perf_counter() - start


def cases(base: str, store: Store, uid: str) -> list[tuple[str, Callable[[], object], Callable[[], object], bool]]:
    """Return (name, route call, bare call, is a first page) for each measurement."""

    def bare_list(args: dict[str, str]) -> Callable[[], object]:
        return lambda: list_studies(store, parse_study_query(args), now=datetime.now())

    found = []
    for modality in ("CT", "RF", "DX", "MG"):
        api = fetch(f"{base}/api/studies?modality={modality}")
        found.append((f"{modality} first page (API)", api, bare_list({"modality": modality}), True))
    found.append(("CT first page (HTML)", fetch(f"{base}/ct"), bare_list({"modality": "CT"}), True))
    filtered = {"modality": "CT", "station_name": "ct1", "acquisition_protocol": "head", "dose_min": "200"}
    query = "&".join(f"{k}={v}" for k, v in filtered.items())
    found.append(("CT filtered page (API)", fetch(f"{base}/api/studies?{query}"), bare_list(filtered), False))
    found.append(("detail (API)", fetch(f"{base}/api/studies/{uid}"), lambda: store.get_study(uid), False))
    found.append(("detail (HTML)", fetch(f"{base}/studies/{uid}"), lambda: store.get_study(uid), False))
    return found


def main() -> None:
    """Load, serve, measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="doseledger-bench-") as folder, database(Path(folder)) as uri:
        run(uri, options.studies, options.repeat)


def run(uri: str, count: int, repeat: int) -> None:
    """Measure against the server at ``uri``."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    app = create_app({"MONGODB_URI": uri, "DOSELEDGER_DB_NAME": "bench"})
    store = Store.connect(uri, "bench", timeout=600, long_timeout=600)  # loads 100,000 studies
    store.ensure_indexes()
    seconds = load(store, count)
    make_user(store, "bench", ("viewer",))  # the pages and the API need a role
    AUTHORIZATION["Authorization"] = f"Bearer {make_token(store, 'bench', 'bench')}"
    print(f"loaded {count} studies in {seconds:.0f} s ({count / seconds:.0f}/s)")
    http = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    uid = store.find_studies({"modalities": "RF"}, sort=[], limit=1)[0]["study_instance_uid"]
    print(f"{'case':28} {'route median':>12} {'route p95':>10} {'bare median':>12} {'ratio':>6}")
    worst_p95 = worst_ratio = 0.0
    for name, route, bare, first_page in cases(f"http://127.0.0.1:{http.server_port}", store, uid):
        (route_median, route_p95), (bare_median, _) = timed(route, repeat), timed(bare, repeat)
        ratio = route_median / bare_median
        times = f"{route_median * 1000:10.1f}ms {route_p95 * 1000:8.1f}ms {bare_median * 1000:10.1f}ms"
        print(f"{name:28} {times} {ratio:6.2f}")
        if first_page:
            worst_p95, worst_ratio = max(worst_p95, route_p95), max(worst_ratio, ratio)
    http.shutdown()
    store.close()
    verdict = "met" if worst_p95 < TARGET_P95 and worst_ratio < TARGET_RATIO else "MISSED"
    print(f"first pages: worst p95 {worst_p95 * 1000:.0f} ms, worst ratio {worst_ratio:.2f}: targets {verdict}")


if __name__ == "__main__":
    main()
