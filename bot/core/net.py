"""Addresses: is a host or URL on this machine, and which port did a listener get."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit


def is_loopback_host(host: str) -> bool:
    """`localhost`, or an IPv4/IPv6 loopback address (brackets allowed: `[::1]`; an IPv4-mapped
    `::ffff:127.0.0.1`, as a dual-stack socket reports an IPv4 peer, counts too)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_loopback_url(url: str) -> bool:
    """The URL's host is on this machine (False for a URL that does not parse, e.g. `http://[::1`)."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return is_loopback_host(host or "")


def bound_port(addresses: Iterable[object], asked: int = 0) -> int:
    """The port a listener got (what port 0 picked), from aiohttp's `runner.addresses`; else `asked`."""
    for address in addresses:  # the socket's (host, port, …)
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return asked


def listening_url(scheme: str, host: str, addresses: Iterable[object], asked: int = 0) -> str:
    """The URL a listener on `host` answers at (an IPv6 host in brackets), with the port it got."""
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{bound_port(addresses, asked)}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now (for a child process told which port to take)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
