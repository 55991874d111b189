"""DOSELEDGER_LOG_FORMAT=json: one JSON object per log line, for log collectors."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from service.config import load_settings
from service.errors import ConfigurationError
from service.logs import JsonFormatter


def record(name: str, message: str, args: object = None, exc_info: object = None) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.WARNING, __file__, 1, message, args, exc_info)  # type: ignore[arg-type]
    made.created = 1767225600.25  # 2026-01-01T00:00:00.250 UTC
    return made


def test_a_record_is_one_json_line() -> None:
    line = JsonFormatter().format(record("service.ingest", "%s is not DICOM", ("x.dcm",)))
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-01-01T00:00:00.250+00:00",
        "level": "WARNING",
        "logger": "service.ingest",
        "message": "x.dcm is not DICOM",
    }


def test_an_exception_travels_in_the_line() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        line = json.loads(JsonFormatter().format(record("service", "failed", exc_info=sys.exc_info())))
    assert line["exception"].startswith("Traceback") and line["exception"].endswith("ValueError: bad value")


def test_gunicorns_access_log_gets_its_fields() -> None:
    atoms = {"h": "10.1.2.3", "m": "GET", "U": "/api/studies", "s": "200", "B": 512, "M": 12, "r": "GET /api/studies"}
    line = json.loads(JsonFormatter().format(record("gunicorn.access", "%(r)s", atoms)))
    assert line["message"] == "GET /api/studies"
    assert (line["remote"], line["method"], line["path"], line["status"], line["bytes"], line["duration_ms"]) == (
        "10.1.2.3",
        "GET",
        "/api/studies",
        200,
        512,
        12,
    )


def test_a_process_configured_for_json_writes_json_lines() -> None:
    script = (
        "import logging; from service import logs; logs.configure('json', 'INFO'); "
        "logging.getLogger('service.x').info('hello %s', 'there'); logs.configure('text', 'INFO'); "
        "logging.getLogger('service.x').info('plain again')"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    first, second = done.stderr.splitlines()
    assert json.loads(first)["message"] == "hello there" and json.loads(first)["level"] == "INFO"
    assert second.endswith("INFO service.x: plain again")


def test_the_format_is_checked_at_start() -> None:
    assert load_settings({"DOSELEDGER_LOG_FORMAT": "JSON"}).log_format == "json"
    with pytest.raises(ConfigurationError, match="DOSELEDGER_LOG_FORMAT='xml' is not a log format; use text or json"):
        load_settings({"DOSELEDGER_LOG_FORMAT": "xml"})
