"""Runs in the background: started over the API, resumed after a restart, and the nightly run.

:data:`BACKGROUND` holds the runs this process executes, each in a thread of
its own; :meth:`Background.stop` (at shutdown) interrupts them: they stop between
requests and give up their lease, so that the next start resumes them.

:class:`Scheduler` is a thread of the long-running processes (``doseledger
serve``, ``doseledger scp``). Every minute it resumes the runs whose lease has
expired (their process stopped: a restart, a crash, a killed ``doseledger pacs
fetch``) and starts the nightly run when one is configured: at
``DOSELEDGER_PACS_NIGHTLY_AT`` (local time) each day, or at the first minute
after it when the process starts later that day, a run of
``DOSELEDGER_PACS_NIGHTLY_NODE`` for every modality over the last
``DOSELEDGER_PACS_NIGHTLY_DAYS`` days up to today. Its ``schedule_key``
(``nightly:NODE:DATE``) makes it start once a night whichever processes run the
scheduler; if the node has a run under way then, it starts once that one ends.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from service.config import Settings
from service.dicomnet.management import run_started
from service.dicomnet.nodes import Node
from service.dicomnet.runs import LEASE, Runner, new_run, owner_id
from service.dicomnet.selection import Criteria
from service.errors import Conflict, DatabaseUnavailable, NotFound
from service.ingest.pipeline import Pipeline
from service.storage import utcnow

log = logging.getLogger(__name__)

#: seconds between two looks at the schedule and at abandoned runs
TICK = 60.0


class Background:
    """The runs this process executes in threads of their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Runner, threading.Thread]] = {}

    def start(self, runner: Runner) -> threading.Thread:
        """Execute ``runner`` in a new thread."""
        thread = threading.Thread(target=self._execute, args=(runner,), name=f"pacs-run-{runner.run_id}", daemon=True)
        with self._lock:
            self._running[runner.run_id] = (runner, thread)
        thread.start()
        return thread

    def _execute(self, runner: Runner) -> None:
        try:
            runner.execute()
        except Exception:
            log.exception("Run %s stopped on an unexpected error; it resumes when its lease expires", runner.run_id)
        finally:
            with self._lock:
                self._running.pop(runner.run_id, None)

    def wait(self, timeout: float = 60.0) -> None:
        """Wait until the runs of this process end (or ``timeout`` passes)."""
        with self._lock:
            threads = [thread for _, thread in self._running.values()]
        for thread in threads:
            thread.join(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Interrupt every run (each stops between requests, to be resumed later) and wait for them."""
        with self._lock:
            running = list(self._running.values())
        for runner, _ in running:
            runner.stop.interrupt.set()
        for _, thread in running:
            thread.join(timeout)


#: the runs of this process
BACKGROUND = Background()


def start_run(
    pipeline: Pipeline,
    settings: Settings,
    node_name: str,
    criteria: Criteria,
    *,
    trigger: str,
    client: str,
    via: str | None = None,
    schedule_key: str | None = None,
    background: Background = BACKGROUND,
) -> dict[str, Any]:
    """Store a new run of a node and start it in the background; return its record as first stored.

    With ``via`` (a person started it), the event log says who, before the run's own entries.
    """
    node = Node.from_document(pipeline.store.pacs_node(node_name))
    owner = owner_id()
    run = new_run(
        pipeline.store, node, criteria, trigger=trigger, client=client, owner=owner, schedule_key=schedule_key
    )
    if via is not None:
        run_started(pipeline.store, run, via=via)
    background.start(Runner(pipeline, settings, run, owner=owner))
    return run


def resume_abandoned(pipeline: Pipeline, settings: Settings, background: Background = BACKGROUND) -> list[str]:
    """Claim the runs whose lease has expired and resume them here; return their ids."""
    store, owner, resumed = pipeline.store, owner_id(), []
    for run_id in store.abandoned_runs(utcnow()):
        now = utcnow()
        run = store.claim_run(run_id, owner, now, now + LEASE)
        if run is None:
            continue  # another process claimed it first
        try:
            runner = Runner(pipeline, settings, run, owner=owner)
        except NotFound as e:  # its node was deleted meanwhile
            store.finish_run(run_id, owner, {"status": "failed", "message": str(e), "finished_at": now})
            continue
        log.info("Resuming run %s of %s", run_id, run["node"])
        background.start(runner)
        resumed.append(run_id)
    return resumed


def nightly_criteria(settings: Settings, today: datetime) -> Criteria:
    """Return what the nightly run asks for: every modality, the last N days up to today."""
    return Criteria(today.date() - timedelta(days=settings.pacs_nightly_days), today.date())


class Scheduler:
    """Resume abandoned runs and start the nightly run, from a thread, once a minute."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        *,
        background: Background = BACKGROUND,
        clock: Callable[[], datetime] = datetime.now,
        interval: float = TICK,
    ) -> None:
        self.pipeline, self.settings, self.background = pipeline, settings, background
        self.clock, self.interval = clock, interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> list[str]:
        """Resume abandoned runs and start the nightly run if it is due; return the ids of the runs started."""
        started = resume_abandoned(self.pipeline, self.settings, self.background)
        nightly = self._start_nightly()
        return started + ([nightly] if nightly else [])

    def _start_nightly(self) -> str | None:
        """Start tonight's run when it is due and not started yet; return its id."""
        node, now = self.settings.pacs_nightly_node, self.clock()
        if node is None or now.time() < self.settings.pacs_nightly_at:
            return None
        key = f"nightly:{node}:{now.date().isoformat()}"
        criteria = nightly_criteria(self.settings, now)
        try:
            run = start_run(
                self.pipeline,
                self.settings,
                node,
                criteria,
                trigger="schedule",
                client="scheduler",
                schedule_key=key,
                background=self.background,
            )
        except Conflict:  # started already tonight, or the node is busy: the next minute tries again
            return None
        log.info("Started the nightly run %s of %s", run["_id"], node)
        return str(run["_id"])

    def start(self) -> None:
        """Tick now and then every ``interval`` seconds in a background thread."""
        self._thread = threading.Thread(target=self._loop, name="pacs-scheduler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self.tick()
            except (DatabaseUnavailable, NotFound) as e:
                log.warning("The query/retrieve scheduler could not look at its runs: %s", e)
            except Exception:
                log.exception("The query/retrieve scheduler failed; it tries again in %g s", self.interval)
            if self._stop.wait(self.interval):
                return

    def stop(self) -> None:
        """Stop ticking, and interrupt the runs of this process so that they resume at the next start."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.background.stop()
