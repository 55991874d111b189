"""The names the web service answers to in the ``Host`` header (Flask's ``TRUSTED_HOSTS``).

A request naming another site is refused (400), so that no link or redirect
the service builds points elsewhere. By default: ``localhost``, ``127.0.0.1``
and the bound address, or, bound to every interface, this machine's names.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Sequence

from service.errors import ConfigurationError

_HOST_NAME = re.compile(r"^\.?[A-Za-z0-9.-]+$")
#: bound to these, the service is reached by the machine's own names
EVERY_INTERFACE = ("0.0.0.0", "::", "")


def parse_host_names(name: str, raw: str) -> tuple[str, ...]:
    """Check Host header names: DNS names or IPv4 addresses, a leading dot for subdomains, or ``*``."""
    names = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for part in names:
        if part != "*" and not _HOST_NAME.match(part):
            raise ConfigurationError(
                f"{name} holds {part!r}, which is not a host name; give names such as dose.example.org, "
                "an IPv4 address, .example.org for every subdomain, or * for any host."
            )
    return names


def served_hosts(trusted: Sequence[str], bound: str) -> list[str] | None:
    """Return the Host names to serve given ``DOSELEDGER_TRUSTED_HOSTS`` and the bound address; None: any."""
    if "*" in trusted:
        return None
    if trusted:
        return list(trusted)
    names = ["localhost", "127.0.0.1"]
    names += [socket.gethostname(), socket.getfqdn()] if bound in EVERY_INTERFACE else [bound]
    return list(dict.fromkeys(name.lower() for name in names))
