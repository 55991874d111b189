"""gunicorn's settings for DoseLedger: ``gunicorn service.wsgi:app`` reads this file from its working directory.

The image copies it to /app/gunicorn.conf.py. Settings can be overridden with
gunicorn's own ``GUNICORN_CMD_ARGS`` (``--workers 4``); ``WEB_CONCURRENCY``
sets the number of workers.

- Workers are processes of 4 threads: an export streams for minutes in one
  thread while the others answer. ``timeout`` is how long a worker may be
  silent before it is restarted; exports write continuously, so 120 s is ample.
- Metrics: each worker counts in files under ``PROMETHEUS_MULTIPROC_DIR``
  (service.metrics adds them up); the folder is emptied when gunicorn starts,
  and a worker that exits is marked dead so its gauges stop counting.
- ``DOSELEDGER_LOG_FORMAT=json`` makes gunicorn's own error and access logs
  JSON lines too (service.logs.JsonFormatter), beside the application's.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

bind = "0.0.0.0:8080"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = 4
timeout = 120
graceful_timeout = 30
accesslog = "-"
#: no runtime control socket (gunicorn 25.1+ would make one under $HOME, which the image's user has not)
control_socket_disable = True
#: X-Forwarded-Proto is believed only from the reverse proxy in front (set FORWARDED_ALLOW_IPS to its address)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

if os.environ.get("DOSELEDGER_LOG_FORMAT", "").strip().lower() == "json":
    logconfig_dict: dict[str, Any] = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "service.logs.JsonFormatter"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["json"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["json"], "propagate": False},
        },
    }


def on_starting(server: Any) -> None:
    """Empty the metrics folder: counts of an earlier run must not be added to this one's."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        Path(folder).mkdir(parents=True, exist_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """Mark an exited worker's metrics dead (its live gauges no longer count)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
