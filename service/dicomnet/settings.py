"""Parsers of the DICOM network's settings, which :mod:`service.config` reads: AE titles, addresses, a time of day.

Each takes the variable's name and its raw text and returns the value, or raises
:class:`~service.errors.ConfigurationError` naming the variable and saying what
would be right.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re

from service.dicomnet.nodes import is_ae_title
from service.errors import ConfigurationError

_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


def ae_title(name: str, raw: str) -> str:
    """Check an AE title: 1-16 characters of the default repertoire, no backslash (PS3.5 6.2, AE)."""
    value = raw.strip()
    if not is_ae_title(value):
        raise ConfigurationError(
            f"{name}={raw!r} is not a DICOM AE title; use 1 to 16 printable ASCII characters without '\\'."
        )
    return value


def ae_titles(name: str, raw: str) -> tuple[str, ...]:
    """Read a comma-separated list of AE titles."""
    return tuple(ae_title(name, part) for part in raw.split(",") if part.strip())


def addresses(name: str, raw: str) -> tuple[str, ...]:
    """Read a comma-separated list of IP addresses or networks (``10.1.0.0/16``)."""
    parts = tuple(part.strip() for part in raw.split(",") if part.strip())
    for part in parts:
        try:
            ipaddress.ip_network(part, strict=False)
        except ValueError:
            raise ConfigurationError(
                f"{name} holds {part!r}, which is neither an IP address nor a network such as 10.1.0.0/16."
            ) from None
    return parts


def time_of_day(name: str, raw: str) -> dt.time:
    """Read a local time of day written HH:MM (24-hour)."""
    if not _TIME_OF_DAY.fullmatch(raw.strip()):
        raise ConfigurationError(f"{name}={raw!r} is not a time of day; use HH:MM (24-hour), e.g. 02:00.")
    return dt.time.fromisoformat(raw.strip())
