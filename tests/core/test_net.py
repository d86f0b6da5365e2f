"""Which hosts and URLs are on this machine: the check that keeps an unauthenticated bot from replying
(or a simulator from taking orders) anywhere else."""

from __future__ import annotations

import pytest

from bot.core.net import is_loopback_host, is_loopback_url


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:3978",
        "http://localhost/x",
        "https://LOCALHOST:1",
        "http://[::1]:80/",
        "http://127.9.9.9",
    ],
)
def test_loopback_urls(url: str) -> None:
    assert is_loopback_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1",
        "https://smba.trafficmanager.net/emea/",
        "http://localhost@10.0.0.1/",
        "http://[::ffff:10.0.0.1]/",
        "http://127.0.0.1.nip.io/",
        "http://[::1",  # does not parse: not loopback, and no exception (found by the fuzzer)
        "not a url",
        "",
    ],
)
def test_anything_else_is_not(url: str) -> None:
    assert not is_loopback_url(url)


def test_hosts_with_brackets_and_case() -> None:
    assert (
        is_loopback_host("[::1]") and is_loopback_host(" LocalHost ") and not is_loopback_host("example.com")
    )
