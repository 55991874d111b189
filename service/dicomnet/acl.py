"""Who may associate with the Storage SCP: an optional allow-list of peers.

An empty list allows everyone. When AE titles are listed, the calling AE title
must be one of them; when addresses are listed (single IPs or networks in CIDR
form, IPv4 or IPv6), the peer's address must fall in one of them; when both are
listed, both must hold. A refused association is answered A-ASSOCIATE-RJ
(PS3.8 9.3.4: rejected-permanent, service-user, "calling AE title not
recognized" or "no reason given") and written to the event log.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

#: A-ASSOCIATE-RJ diagnostics of the service user (PS3.8 Table 9-21)
NO_REASON_GIVEN = 0x01
CALLING_AE_TITLE_NOT_RECOGNIZED = 0x03


@dataclass(frozen=True)
class Peer:
    """The calling side of an association."""

    ae_title: str
    address: str

    @property
    def client(self) -> str:
        """Return the event log's ``client``: ``AE_TITLE@address``."""
        return f"{self.ae_title}@{self.address}"


@dataclass(frozen=True)
class Refusal:
    """Why a peer may not associate, and the A-ASSOCIATE-RJ diagnostic that says so."""

    reason: str
    diagnostic: int


@dataclass(frozen=True)
class AllowList:
    """The calling AE titles and networks allowed to associate (empty: anyone)."""

    ae_titles: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, ae_titles: Iterable[str], addresses: Iterable[str]) -> AllowList:
        """Build the list from AE titles and IP addresses or CIDR networks; raise ValueError on a bad one."""
        return cls(
            frozenset(title.strip() for title in ae_titles),
            tuple(ipaddress.ip_network(address.strip(), strict=False) for address in addresses),
        )

    def refusal(self, peer: Peer) -> Refusal | None:
        """Return why ``peer`` may not associate, or None when it may."""
        if self.ae_titles and peer.ae_title not in self.ae_titles:
            reason = f"calling AE title {peer.ae_title!r} is not in DOSELEDGER_SCP_ALLOWED_AE_TITLES"
            return Refusal(reason, CALLING_AE_TITLE_NOT_RECOGNIZED)
        if self.networks and not self._address_allowed(peer.address):
            return Refusal(f"address {peer.address} is not in DOSELEDGER_SCP_ALLOWED_ADDRESSES", NO_REASON_GIVEN)
        return None

    def _address_allowed(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)
