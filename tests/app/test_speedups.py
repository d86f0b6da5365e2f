"""The msrest patch keeps exactly the retry codes msrest would compute, just faster."""

from msrest.universal_http.requests import ClientRetryPolicy

from bot.teams import speedups


def test_retry_codes_are_unchanged() -> None:
    expected = [i for i in range(999) if i not in ([i for i in range(500) if i != 408] + [501, 505])]
    speedups.apply()
    assert isinstance(ClientRetryPolicy.safe_codes, frozenset)
    assert ClientRetryPolicy().policy.status_forcelist == expected


def test_plain_json_objects_serialize_exactly_as_msrest_would() -> None:
    import datetime
    import enum

    from msrest.serialization import Serializer

    import cards
    from bot.core.views import HelpView
    from bot.turns.commands import COMMANDS

    class Color(enum.StrEnum):
        RED = "red"

    card = cards.help_card(HelpView(commands=COMMANDS.docs()))
    samples: list[object] = [
        card,
        [card, {"n": 1, "f": 1.5, "t": True, "none": None, "u": "émoji 🏖️"}],
        {"when": datetime.datetime(2026, 12, 1, 15, 0, tzinfo=datetime.UTC)},  # not JSON: msrest's path
        {"color": Color.RED},
        {"nan": float("nan")},
    ]
    plain = Serializer()  # type: ignore[no-untyped-call]
    # msrest's own serialize_object, whether or not another test applied the patch already
    expected = [speedups._SERIALIZE_OBJECT(plain, sample) for sample in samples]
    speedups.apply()
    patched = Serializer()  # type: ignore[no-untyped-call]
    got = [patched.serialize_object(sample) for sample in samples]  # type: ignore[no-untyped-call]
    assert got[:4] == expected[:4]
    assert str(got[4]) == str(expected[4])  # NaN != NaN: compare what is sent
    assert Serializer.serialize_object is speedups._serialize_object
