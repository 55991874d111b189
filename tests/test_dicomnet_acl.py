from __future__ import annotations

import pytest

from service.dicomnet.acl import CALLING_AE_TITLE_NOT_RECOGNIZED, NO_REASON_GIVEN, AllowList, Peer


def test_an_empty_allow_list_lets_anyone_associate() -> None:
    assert AllowList().refusal(Peer("ANYONE", "192.0.2.7")) is None


@pytest.mark.parametrize(
    ("titles", "addresses", "peer", "refused_for"),
    [
        (["CT1", "MG2"], [], Peer("CT1", "192.0.2.7"), None),
        (["CT1", "MG2"], [], Peer("CT9", "192.0.2.7"), "calling AE title 'CT9'"),
        ([], ["10.1.0.0/16"], Peer("CT9", "10.1.200.3"), None),
        ([], ["10.1.0.0/16", "192.0.2.7"], Peer("CT9", "192.0.2.7"), None),
        ([], ["10.1.0.0/16"], Peer("CT9", "10.2.0.1"), "address 10.2.0.1"),
        (["CT1"], ["10.1.0.0/16"], Peer("CT1", "10.2.0.1"), "address 10.2.0.1"),
        (["CT1"], ["10.1.0.0/16"], Peer("CT2", "10.1.0.1"), "calling AE title 'CT2'"),
        ([], ["2001:db8::/32"], Peer("PET", "2001:db8::5"), None),
        ([], ["2001:db8::/32"], Peer("PET", "not-an-address"), "address not-an-address"),
    ],
)
def test_the_allow_list_names_why_a_peer_is_refused(
    titles: list[str], addresses: list[str], peer: Peer, refused_for: str | None
) -> None:
    refusal = AllowList.parse(titles, addresses).refusal(peer)
    if refused_for is None:
        assert refusal is None
    else:
        assert refusal is not None and refusal.reason.startswith(refused_for)
        expected = CALLING_AE_TITLE_NOT_RECOGNIZED if refused_for.startswith("calling") else NO_REASON_GIVEN
        assert refusal.diagnostic == expected


def test_a_malformed_address_is_refused_when_the_list_is_built() -> None:
    with pytest.raises(ValueError, match=r"10\.1\.0\.300"):
        AllowList.parse([], ["10.1.0.300"])


def test_the_event_log_client_is_ae_title_at_address() -> None:
    assert Peer("CT1", "10.1.0.1").client == "CT1@10.1.0.1"
