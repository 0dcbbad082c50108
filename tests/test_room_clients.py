"""A request's client address and whether it is local: what the per-client limits count."""

from __future__ import annotations

import pytest

from demo.rooms import clients, throttle


def test_forwarded_for_counts_only_from_a_trusted_proxy():
    trusted = clients.trusted_proxies({clients.TRUSTED_PROXIES_VARIABLE: "127.0.0.1, 10.0.0.0/8"})
    forged = "203.0.113.9, 198.51.100.4"  # the client's own header, then what the proxy saw
    assert clients.client_address("198.51.100.4", forged, trusted) == "198.51.100.4"
    assert clients.client_address("127.0.0.1", forged, trusted) == "198.51.100.4"
    assert clients.client_address("127.0.0.1", forged, ()) == "127.0.0.1"
    assert clients.client_address(None, None, ()) == "127.0.0.1"
    with pytest.raises(ValueError, match="CIDR"):
        clients.trusted_proxies({clients.TRUSTED_PROXIES_VARIABLE: "proxy.example"})


@pytest.mark.parametrize(
    ("peer", "forwarded", "host", "local"),
    [
        (None, None, "localhost:8501", True),  # `streamlit run` on a laptop
        ("::1", None, "[::1]:8501", True),
        ("192.168.1.20", None, "192.168.1.5:8501", False),  # a phone on the school's network
        ("127.0.0.2", None, "127.0.0.1:8501", False),  # another loopback address: another client
        (None, None, "classroom.example", False),  # this machine, by its public name
        (None, "192.168.1.20", "localhost:8000", False),  # relayed by a proxy not trusted
    ],
)
def test_only_this_machine_by_its_own_name_is_local(peer, forwarded, host, local):
    assert clients.is_local_request(peer, forwarded, host) is local


def test_backoff_doubles_after_the_free_guesses():
    backoff = throttle.Backoff("x", free=3, longest=600, seconds=3600)
    now = 1000.0
    waits = [
        throttle.backoff_wait(throttle.Tries(count, 900.0, now), backoff, now)
        for count in range(2, 8)
    ]
    assert waits == [0.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    assert throttle.backoff_wait(throttle.Tries(40, 0.0, now), backoff, now) == 600
