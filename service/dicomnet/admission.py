"""Who gets one of the SCP's places: connections and associations counted per address and in all.

Two moments (PS3.8 9.2): when a TCP connection opens, nothing of the peer is
known but its address, and nothing has been read; when its A-ASSOCIATE-RQ has
arrived (read through a :class:`PduGuard`, so bounded), its AE titles are known
too, and the SCP checks the allow-list, answering A-ASSOCIATE-RJ.

- **Connection.** When ``max_associations`` connections are open, the
  oldest one that has not yet sent its association request (an idle or
  trickling peer, of which nothing is known) is closed to make room, so a
  sender that associates at once always finds a place; when every open
  connection has associated, the new one is still let in, up to twice the
  limit, to be refused politely below.
- **Association.** A peer is refused (A-ASSOCIATE-RJ rejected-transient,
  local-limit-exceeded) when ``max_associations`` associations are open, or
  ``per_address`` from its address: one host cannot take every place.

A refused connection is logged in the service log only (an attacker could
otherwise fill the event log); refused associations are the SCP's to log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from service.dicomnet.guard import PduGuard

log = logging.getLogger(__name__)


class Admission:
    """The open connections of one SCP, and the rules for letting one more in."""

    def __init__(self, *, max_associations: int, per_address: int) -> None:
        self.max_associations = max_associations
        self.per_address = per_address
        self._open: list[PduGuard] = []
        self._lock = threading.RLock()

    def connect(self, address: str, make: Callable[[Callable[[PduGuard], None]], PduGuard]) -> PduGuard | None:
        """Return the guarded connection of a new peer at ``address``, or None when it is to be closed unread."""
        with self._lock:
            if len(self._open) >= self.max_associations:
                self._make_room()
            if len(self._open) >= 2 * self.max_associations:
                log.warning("DICOM connection from %s closed: %d connections are open.", address, len(self._open))
                return None
            guard = make(self._closed)
            self._open.append(guard)
            return guard

    def _make_room(self) -> None:
        """Close the oldest connection that has not sent its association request, if there is one."""
        waiting = [guard for guard in self._open if guard.pdus == 0]
        if waiting:
            oldest = min(waiting, key=lambda guard: guard.opened)
            log.warning("DICOM connection from %s closed to make room: it sent no association request.", oldest.address)
            self._open.remove(oldest)
            oldest.evict()

    def associate(self, guard: PduGuard) -> str | None:
        """Count ``guard`` as associated, or return why it may not be (too many associations)."""
        with self._lock:
            associated = [other for other in self._open if other.associated]
            if len(associated) >= self.max_associations:
                return f"{len(associated)} associations are open, the limit (DOSELEDGER_SCP_MAX_ASSOCIATIONS)"
            if sum(other.address == guard.address for other in associated) >= self.per_address:
                return (
                    f"{self.per_address} associations from {guard.address} are open, the limit per address "
                    "(DOSELEDGER_SCP_MAX_ASSOCIATIONS_PER_ADDRESS)"
                )
            guard.associated = True
            return None

    def _closed(self, guard: PduGuard) -> None:
        with self._lock:
            if guard in self._open:
                self._open.remove(guard)

    def open_connections(self) -> int:
        """Return the number of connections open now."""
        with self._lock:
            return len(self._open)
