"""Log output: readable lines, or one JSON object per line for a log collector (``DOSELEDGER_LOG_FORMAT=json``).

A JSON line holds ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
``exception`` (the traceback) when there is one, and for gunicorn's access log
the request's ``remote``, ``method``, ``path``, ``status``, ``bytes`` and
``duration_ms``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: gunicorn's access-log atoms (``record.args``) -> JSON keys
ACCESS_FIELDS = {"h": "remote", "m": "method", "U": "path", "s": "status", "B": "bytes", "M": "duration_ms"}


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON object on one line."""
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            line.update({key: record.args.get(atom) for atom, key in ACCESS_FIELDS.items()})
            line["status"] = int(line["status"]) if str(line["status"]).isdigit() else line["status"]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


#: the attribute marking the handler :func:`configure` installed
_MARK = "doseledger_handler"


def formatter(log_format: str, text_format: str = TEXT_FORMAT) -> logging.Formatter:
    """Return the formatter of ``log_format`` (``text`` with ``text_format``, or ``json``)."""
    return JsonFormatter() if log_format == "json" else logging.Formatter(text_format)


def configure(log_format: str, level: str, text_format: str = TEXT_FORMAT) -> None:
    """Send log records from ``level`` up to standard error in ``log_format``, like ``logging.basicConfig``.

    As ``basicConfig`` does, it adds no handler when the root logger has one of
    another's (pytest's, an embedding program's); called again, it changes the
    format of the handler it installed.
    """
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if getattr(handler, _MARK, False)]
    if root.handlers and not ours:
        return
    if not ours:
        ours = [logging.StreamHandler()]
        setattr(ours[0], _MARK, True)
        root.addHandler(ours[0])
    ours[0].setFormatter(formatter(log_format, text_format))
    root.setLevel(level)
