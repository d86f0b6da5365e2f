"""The msrest patch keeps exactly the retry codes msrest would compute, just faster."""

from msrest.universal_http.requests import ClientRetryPolicy

from bot.teams import speedups


def test_retry_codes_are_unchanged() -> None:
    expected = [i for i in range(999) if i not in ([i for i in range(500) if i != 408] + [501, 505])]
    speedups.apply()
    assert isinstance(ClientRetryPolicy.safe_codes, frozenset)
    assert ClientRetryPolicy().policy.status_forcelist == expected
