"""Who a request comes from, as far as a program cannot change it for free: the address of the
connection's other end, or, when that end is a proxy named in MULTILABEL_TRUSTED_PROXIES, the
address that proxy put last into X-Forwarded-For. No Streamlit here: the page passes in what
the request holds.

    trusted = trusted_proxies()                   # from MULTILABEL_TRUSTED_PROXIES
    client = client_address(peer, headers.get("X-Forwarded-For"), trusted)
    is_local_request(peer, forwarded, host, trusted)   # a teacher at the server's own keyboard

A header a client sends itself is never believed: X-Forwarded-For counts only from a trusted
proxy, which appends the address it saw (HAProxy's `option forwardfor`, ingress-nginx).
"""

from __future__ import annotations

import ipaddress
import os

TRUSTED_PROXIES_VARIABLE = "MULTILABEL_TRUSTED_PROXIES"

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]")


OWN_ADDRESSES = ("127.0.0.1", "::1")  # the machine's own loopback (other 127.x count as others)


def trusted_proxies(environ=os.environ) -> tuple:
    """The networks of MULTILABEL_TRUSTED_PROXIES (addresses or CIDR ranges, separated by commas
    or spaces); ValueError naming a malformed one."""
    networks = []
    for item in environ.get(TRUSTED_PROXIES_VARIABLE, "").replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(
                f"{TRUSTED_PROXIES_VARIABLE} holds addresses or CIDR ranges such as "
                f"127.0.0.1 or 10.0.0.0/8, separated by commas; {item!r} is neither."
            ) from None
    return tuple(networks)


def parsed(address: str | None):
    try:
        return ipaddress.ip_address((address or "").strip().strip("[]"))
    except ValueError:
        return None


def is_trusted(address: str | None, trusted) -> bool:
    found = parsed(address)
    return found is not None and any(found in network for network in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted=()) -> str:
    """The client's address: `peer` (the connection's other end; None means the loopback, as
    Streamlit reports it), or, while the nearest hops are trusted proxies, the address the
    last of them saw in `forwarded_for` (X-Forwarded-For, each proxy appending one)."""
    address = peer or "127.0.0.1"
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    while hops and is_trusted(address, trusted):
        address = hops.pop()
    found = parsed(address)
    return str(found) if found is not None else "unknown"


def is_loopback(address: str | None) -> bool:
    found = parsed(address)
    return found is not None and found.is_loopback


def is_loopback_host(host: str | None) -> bool:
    """Whether a Host header names this machine's loopback (with or without a port)."""
    name = (host or "").strip().lower()
    if name.startswith("["):
        name = name[: name.find("]") + 1]
    elif name.count(":") == 1:
        name = name.partition(":")[0]
    return name in LOOPBACK_NAMES or is_loopback(name)


def is_local_request(peer, forwarded_for, host, trusted=()) -> bool:
    """Whether a request comes from this machine itself (127.0.0.1 or ::1), for this machine's
    own name: a teacher running `streamlit run` on a laptop. A request relayed by a proxy that
    is not trusted (an X-Forwarded-For header) is not local: the proxy serves others."""
    if forwarded_for and not is_trusted(peer or "127.0.0.1", trusted):
        return False
    address = client_address(peer, forwarded_for, trusted)
    return address in OWN_ADDRESSES and is_loopback_host(host)
