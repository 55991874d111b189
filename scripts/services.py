"""The DICOM side of the long-running commands: the Storage SCP and the query/retrieve scheduler.

``doseledger serve`` (unless ``DOSELEDGER_SCP_ENABLED=false``) and ``doseledger
scp`` run the SCP; both run the scheduler (:mod:`service.dicomnet.schedule`),
which resumes interrupted query/retrieve runs and starts the nightly one. At
shutdown the scheduler stops first and interrupts the runs of this process
(each stops between requests, to be resumed at the next start), then the SCP,
which the runs' C-MOVEs may still be sending to.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from service.config import Settings
from service.dicomnet.schedule import Scheduler
from service.dicomnet.scp import StorageSCP
from service.ingest.pipeline import Pipeline


@dataclass
class Services:
    """What a long-running command started besides its own work."""

    scp: StorageSCP | None
    scheduler: Scheduler

    def stop(self) -> None:
        """Stop the scheduler (interrupting this process's runs), then the SCP."""
        self.scheduler.stop()
        if self.scp is not None:
            self.scp.stop()


def start_scp(pipeline: Pipeline, settings: Settings, **options: Any) -> StorageSCP:
    """Start the DICOM Storage SCP and say where it listens."""
    scp = StorageSCP.for_pipeline(pipeline, settings, **options)
    scp.start()
    print(
        f"DoseLedger DICOM Storage SCP {scp.ae.ae_title} is listening on {settings.scp_host}:{scp.port}",
        file=sys.stderr,
        flush=True,
    )
    return scp


def start_services(pipeline: Pipeline, settings: Settings, *, scp: bool = True, **options: Any) -> Services:
    """Start the SCP (when ``scp``) and the query/retrieve scheduler."""
    server = start_scp(pipeline, settings, **options) if scp else None
    scheduler = Scheduler(pipeline, settings)
    scheduler.start()
    return Services(server, scheduler)
