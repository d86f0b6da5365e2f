"""The simulated tenant's rules, driven with an `AdjustableClock` (no HTTP). Each test names the section
of docs/graph-facts.md ("FACTS") it follows; choices where it is silent are in docs/simulator.md."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.clock import AdjustableClock
from bot.core.states import PREFERRED_MAX, SESSION_PAIRS
from bot.graph.models import DateTimeTimeZone
from bot.sim.errors import SimGraphError
from bot.sim.tenant import CLIENT_PAIRS, SimTenant, parse_iso_duration, user_key
from bot.sim.timezones import WINDOWS_ZONES, resolve_zone

APP = "5ad0b075-0000-4000-8000-00000000b075"
OTHER_APP = "11111111-2222-4333-8444-555555555555"
ALEX = "alex"

MINUTE = 60.0


@pytest.fixture
def clock() -> AdjustableClock:
    return AdjustableClock()


@pytest.fixture
def tenant(clock: AdjustableClock) -> SimTenant:
    return SimTenant(clock, None)


async def shown(tenant: SimTenant, user: str = ALEX) -> tuple[str, str]:
    presence = await tenant.get_presence(user)
    return presence["availability"], presence["activity"]


async def only_app_session(tenant: SimTenant, user: str = ALEX) -> None:
    """Sign the default Teams client out, so the app's session is the user's only one."""
    await tenant.remove_client(user, "teams-client-1")


def files(folder: Path, pattern: str) -> list[Path]:
    return list(folder.glob(pattern))


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- users -------------------------------------------------------------------------------------------
async def test_a_new_user_has_one_teams_client_available(tenant: SimTenant) -> None:
    """FACTS §3 (a Teams client is a session): users appear on first reference, signed in on Teams."""
    state = await tenant.describe(ALEX)
    assert state["sessions"] == [
        {
            "sessionId": "teams-client-1",
            "kind": "client",
            "availability": "Available",
            "activity": "Available",
            "expiresAt": None,
            "updatedAt": state["sessions"][0]["updatedAt"],
        }
    ]
    assert state["preferred"] is None
    assert state["statusMessage"] is None
    assert (state["presence"]["availability"], state["presence"]["activity"]) == ("Available", "Available")


async def test_presence_has_exactly_graphs_shape(tenant: SimTenant) -> None:
    """FACTS §1: {id, availability, activity, statusMessage, outOfOfficeSettings, sequenceNumber}."""
    presence = await tenant.get_presence(ALEX)
    assert set(presence) == {
        "id",
        "availability",
        "activity",
        "statusMessage",
        "outOfOfficeSettings",
        "sequenceNumber",
    }
    assert presence["id"] == ALEX
    assert presence["statusMessage"] is None
    assert presence["outOfOfficeSettings"] == {"isOutOfOffice": False, "message": None}
    assert isinstance(presence["sequenceNumber"], str)
    assert presence == (await tenant.describe(ALEX))["presence"]


async def test_any_opaque_id_is_a_user_and_guids_ignore_case(tenant: SimTenant) -> None:
    """FACTS §1 (ids are opaque): Emulator ids, UPNs and GUIDs all work; a GUID names one user in any case."""
    guid = "A1B2C3D4-0000-4000-8000-00000000ABCD"
    await tenant.set_presence(guid, APP, APP, "Busy", "InACall")
    assert await shown(tenant, guid.lower()) == ("Busy", "InACall")
    assert (await tenant.get_presence(guid))["id"] == guid.lower()
    for other in ("emulator-user-1", "megan@contoso.com", "29:1abc"):
        assert await shown(tenant, other) == ("Available", "Available")
    assert user_key("Emulator-User") == "Emulator-User"
    with pytest.raises(SimGraphError) as error:
        user_key("")
    assert error.value.status == 400


# -- setPresence ------------------------------------------------------------------------------------
async def test_set_presence_shows_the_pair_in_graphs_case(tenant: SimTenant) -> None:
    """FACTS §1 (PascalCase out, any case in) and §2 (setPresence on the app's own session)."""
    await tenant.set_presence(ALEX, APP, APP.upper(), "busy", "inacall", "PT30M")
    state = await tenant.describe(ALEX)
    app = next(s for s in state["sessions"] if s["kind"] == "app")
    assert (app["sessionId"], app["availability"], app["activity"]) == (APP, "Busy", "InACall")
    assert (state["presence"]["availability"], state["presence"]["activity"]) == ("Busy", "InACall")


@pytest.mark.parametrize("pair", sorted(SESSION_PAIRS))
async def test_every_session_pair_is_accepted(tenant: SimTenant, pair: tuple[str, str]) -> None:
    """FACTS §2: the five pairs setPresence supports."""
    await tenant.set_presence(ALEX, APP, APP, *pair)
    app = next(s for s in (await tenant.describe(ALEX))["sessions"] if s["kind"] == "app")
    assert (app["availability"], app["activity"]) == pair


@pytest.mark.parametrize(
    ("availability", "activity"),
    [
        ("Busy", "Busy"),
        ("DoNotDisturb", "DoNotDisturb"),
        ("BeRightBack", "BeRightBack"),
        ("Offline", "OffWork"),
        ("Busy", "InAMeeting"),
        ("Available", "Away"),
    ],
)
async def test_unsupported_session_pairs_are_refused(
    tenant: SimTenant, availability: str, activity: str
) -> None:
    """FACTS §2: anything but the five session pairs is rejected (and §5.1: never a silent 200)."""
    with pytest.raises(SimGraphError) as error:
        await tenant.set_presence(ALEX, APP, APP, availability, activity)
    assert (error.value.status, error.value.code) == (400, "InvalidArgument")
    assert "Busy/InACall" in error.value.message  # the refusal names what is supported


async def test_session_id_must_be_the_callers_app_id(tenant: SimTenant) -> None:
    """FACTS §2 (sessionId is the calling app's id) and §5.3 ("SessionId field is required")."""
    with pytest.raises(SimGraphError) as error:
        await tenant.set_presence(ALEX, APP, OTHER_APP, "Busy", "InACall")
    assert (error.value.status, error.value.code) == (400, "InvalidArgument")
    for missing in (None, "", "  "):
        with pytest.raises(SimGraphError) as error:
            await tenant.set_presence(ALEX, APP, missing, "Busy", "InACall")
        assert (error.value.status, error.value.message) == (400, "SessionId field is required.")
        with pytest.raises(SimGraphError) as error:
            await tenant.clear_presence(ALEX, APP, missing)
        assert (error.value.status, error.value.message) == (400, "SessionId field is required.")


async def test_missing_availability_or_activity_is_a_bad_request(tenant: SimTenant) -> None:
    """FACTS §2: setPresence's body is {sessionId, availability, activity, expirationDuration?}."""
    for availability, activity in ((None, "Away"), ("Away", None), ("", "")):
        with pytest.raises(SimGraphError) as error:
            await tenant.set_presence(ALEX, APP, APP, availability, activity)
        assert (error.value.status, error.value.code) == (400, "BadRequest")


async def test_session_default_expiry_is_five_minutes(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §2: expirationDuration defaults to 5 minutes; §3: a session past its expiry ends."""
    start = clock.now()
    await tenant.set_presence(ALEX, APP, APP, "Busy", "InACall")
    app = next(s for s in (await tenant.describe(ALEX))["sessions"] if s["kind"] == "app")
    assert abs((parse_utc(app["expiresAt"]) - (start + timedelta(minutes=5))).total_seconds()) < 2
    clock.advance(4 * MINUTE + 50)
    assert await shown(tenant) == ("Busy", "InACall")
    clock.advance(15)
    assert await shown(tenant) == ("Available", "Available")  # the Teams client decides again
    assert all(s["kind"] == "client" for s in (await tenant.describe(ALEX))["sessions"])


@pytest.mark.parametrize("duration", ["PT5M", "PT300S", "PT1H", "PT4H", "PT3H59M59.5S", "P0DT4H"])
async def test_session_durations_in_range(tenant: SimTenant, duration: str) -> None:
    """FACTS §2: expirationDuration is ISO 8601, valid PT5M..PT4H inclusive."""
    await tenant.set_presence(ALEX, APP, APP, "Away", "Away", duration)


@pytest.mark.parametrize("duration", ["PT4M59S", "PT4H0M1S", "PT0S", "-PT30M", "P1D", "P99999999999D"])
async def test_session_durations_out_of_range(tenant: SimTenant, duration: str) -> None:
    """FACTS §2 and §5.4: outside PT5M..PT4H is 400 InvalidArgument with Graph's message."""
    with pytest.raises(SimGraphError) as error:
        await tenant.set_presence(ALEX, APP, APP, "Away", "Away", duration)
    assert (error.value.status, error.value.code) == (400, "InvalidArgument")
    assert error.value.message == "The provided [ExpirationDuration] is out of range."


@pytest.mark.parametrize("duration", ["5 minutes", "PT", "P", "P1W", "PT5m", "T5M", "", "PT-5M"])
async def test_unreadable_durations_are_bad_requests(tenant: SimTenant, duration: str) -> None:
    """FACTS §2 (an ISO 8601 duration): anything else is 400 BadRequest, never a default."""
    with pytest.raises(SimGraphError) as error:
        await tenant.set_presence(ALEX, APP, APP, "Away", "Away", duration)
    assert (error.value.status, error.value.code) == (400, "BadRequest")


def test_iso_durations_parse_like_edm_duration() -> None:
    """FACTS §2: the duration grammar of the OpenAPI fragment (-?P[nD][T[nH][nM][n[.n]S]])."""
    assert parse_iso_duration("PT5M") == timedelta(minutes=5)
    assert parse_iso_duration("P1DT2H3M4.5S") == timedelta(days=1, hours=2, minutes=3, seconds=4.5)
    assert parse_iso_duration("-PT1H") == timedelta(hours=-1)
    assert parse_iso_duration(" PT90S ") == timedelta(seconds=90)
    assert parse_iso_duration("P2W") is None
    assert parse_iso_duration("PT") is None


async def test_calling_again_refreshes_the_session(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §3: refresh by calling setPresence again: a new expiry and a new last refresh."""
    await tenant.set_presence(ALEX, APP, APP, "Busy", "InACall", "PT10M")
    clock.advance(8 * MINUTE)
    await tenant.set_presence(ALEX, APP, APP, "Busy", "InAConferenceCall", "PT10M")
    clock.advance(8 * MINUTE)
    assert await shown(tenant) == ("Busy", "InAConferenceCall")
    sessions = (await tenant.describe(ALEX))["sessions"]
    app = next(s for s in sessions if s["kind"] == "app")
    assert parse_utc(app["expiresAt"]) - parse_utc(app["updatedAt"]) == timedelta(minutes=10)
    assert len([s for s in sessions if s["kind"] == "app"]) == 1  # one session per app


# -- the fade of Available ------------------------------------------------------------------------
async def test_available_fades_then_turns_away(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §3 and §5.4: an unrefreshed Available session is AvailableInactive after 5 min, Away after 10."""
    await tenant.set_presence(ALEX, APP, APP, "Available", "Available", "PT1H")
    await only_app_session(tenant)
    clock.advance(4 * MINUTE + 50)
    assert await shown(tenant) == ("Available", "Available")
    clock.advance(15)
    assert await shown(tenant) == ("Available", "AvailableInactive")
    clock.advance(5 * MINUTE)
    assert await shown(tenant) == ("Away", "Away")
    app = (await tenant.describe(ALEX))["sessions"][0]
    assert (app["availability"], app["activity"]) == ("Away", "Away")  # describe shows the fade too
    clock.advance(50 * MINUTE)
    assert await shown(tenant) == ("Offline", "Offline")  # the expiry still ends it


async def test_a_refresh_holds_available(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §3: refresh (call setPresence again) to hold Available."""
    await tenant.set_presence(ALEX, APP, APP, "Available", "Available", "PT1H")
    await only_app_session(tenant)
    for _ in range(4):
        clock.advance(4 * MINUTE)
        await tenant.set_presence(ALEX, APP, APP, "Available", "Available", "PT1H")
        assert await shown(tenant) == ("Available", "Available")


async def test_only_available_fades(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §3: the fade is for sessions whose availability is Available; Busy holds until it expires."""
    await tenant.set_presence(ALEX, APP, APP, "Busy", "InACall", "PT1H")
    await only_app_session(tenant)
    clock.advance(30 * MINUTE)
    assert await shown(tenant) == ("Busy", "InACall")


async def test_the_fade_counts_in_aggregation(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §3: aggregation ranks a session's faded state, so a faded Available ties with Away."""
    await tenant.remove_client(ALEX, "teams-client-1")
    await tenant.add_client(ALEX, "Away", "Away")
    await tenant.set_presence(ALEX, APP, APP, "Available", "Available", "PT1H")
    assert await shown(tenant) == ("Available", "Available")
    clock.advance(6 * MINUTE)
    assert await shown(tenant) == ("Available", "AvailableInactive")
    clock.advance(5 * MINUTE)
    assert await shown(tenant) == ("Away", "Away")


async def test_teams_clients_never_fade(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §3 (choice): a Teams client keeps its own session alive, so it neither fades nor expires."""
    clock.advance(30 * 24 * 3600)
    assert await shown(tenant) == ("Available", "Available")


# -- aggregation -----------------------------------------------------------------------------------
async def test_an_apps_away_cannot_pull_down_an_available_client(tenant: SimTenant) -> None:
    """FACTS §3: "an app's Away cannot pull down a user whose Teams client reports Available"."""
    await tenant.set_presence(ALEX, APP, APP, "Away", "Away", "PT1H")
    assert await shown(tenant) == ("Available", "Available")
    assert [s["kind"] for s in (await tenant.describe(ALEX))["sessions"]] == ["client", "app"]


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        (("Busy", "InACall"), ("Busy", "InACall")),
        (("Busy", "InAConferenceCall"), ("Busy", "InAConferenceCall")),
        (("DoNotDisturb", "Presenting"), ("DoNotDisturb", "Presenting")),
        (("Available", "Available"), ("Available", "Available")),
        (("Away", "Away"), ("Available", "Available")),
    ],
)
async def test_sessions_rank_dnd_busy_available_away(
    tenant: SimTenant, pair: tuple[str, str], expected: tuple[str, str]
) -> None:
    """FACTS §3: among sessions DoNotDisturb > Busy > Available > Away (against a client's Available)."""
    await tenant.set_presence(ALEX, APP, APP, *pair, "PT1H")
    assert await shown(tenant) == expected


async def test_a_busy_client_beats_an_apps_available_and_dnd_beats_busy(tenant: SimTenant) -> None:
    """FACTS §3: the ranking is by availability, whichever kind of session holds it."""
    await tenant.add_client(ALEX, "Busy", "InAMeeting")
    await tenant.set_presence(ALEX, APP, APP, "Available", "Available", "PT1H")
    assert await shown(tenant) == ("Busy", "InAMeeting")
    await tenant.set_presence(ALEX, APP, APP, "DoNotDisturb", "Presenting", "PT1H")
    assert await shown(tenant) == ("DoNotDisturb", "Presenting")


async def test_ties_go_to_the_most_recent_session(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §3 (choice for ties): the most recently set or refreshed session shows its activity."""
    await tenant.add_client(ALEX, "Busy", "InAMeeting")
    clock.advance(1)
    await tenant.set_presence(ALEX, APP, APP, "Busy", "InACall", "PT1H")
    assert await shown(tenant) == ("Busy", "InACall")
    clock.advance(1)
    await tenant.add_client(ALEX, "Busy", "Busy")
    assert await shown(tenant) == ("Busy", "Busy")
    clock.advance(1)
    await tenant.set_presence(ALEX, APP, APP, "Busy", "InACall", "PT1H")  # a refresh makes it recent again
    assert await shown(tenant) == ("Busy", "InACall")


async def test_two_apps_have_two_sessions(tenant: SimTenant) -> None:
    """FACTS §3: one session per app, keyed by the app id."""
    await tenant.set_presence(ALEX, APP, APP, "Busy", "InACall", "PT1H")
    await tenant.set_presence(ALEX, OTHER_APP, OTHER_APP, "DoNotDisturb", "Presenting", "PT1H")
    assert await shown(tenant) == ("DoNotDisturb", "Presenting")
    await tenant.clear_presence(ALEX, OTHER_APP, OTHER_APP)
    assert await shown(tenant) == ("Busy", "InACall")


# -- clearPresence ---------------------------------------------------------------------------------
async def test_clear_presence_ends_the_apps_session(tenant: SimTenant) -> None:
    """FACTS §2: clearPresence ends the app's session; the other sessions decide again."""
    await tenant.set_presence(ALEX, APP, APP, "Busy", "InACall", "PT1H")
    await tenant.clear_presence(ALEX, APP, APP)
    assert await shown(tenant) == ("Available", "Available")


async def test_clear_presence_without_a_session_is_404(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §2: 404 when the app has no session for that user, including one that has expired."""
    with pytest.raises(SimGraphError) as error:
        await tenant.clear_presence(ALEX, APP, APP)
    assert (error.value.status, error.value.code) == (404, "NotFound")
    await tenant.set_presence(ALEX, APP, APP, "Busy", "InACall")
    clock.advance(6 * MINUTE)
    with pytest.raises(SimGraphError) as error:
        await tenant.clear_presence(ALEX, APP, APP)
    assert error.value.status == 404


async def test_clearing_the_only_session_makes_the_user_offline(tenant: SimTenant) -> None:
    """FACTS §2: "If it was the user's only session, the user becomes Offline/Offline"."""
    await tenant.set_presence(ALEX, APP, APP, "Busy", "InACall", "PT1H")
    await only_app_session(tenant)
    await tenant.clear_presence(ALEX, APP, APP)
    assert await shown(tenant) == ("Offline", "Offline")


# -- preferred presence ------------------------------------------------------------------------------
async def test_preferred_presence_wins_over_every_session(tenant: SimTenant) -> None:
    """FACTS §3: user-preferred presence > session states (and §5.5: appear offline overrides the app)."""
    await tenant.set_presence(ALEX, APP, APP, "DoNotDisturb", "Presenting", "PT1H")
    await tenant.set_preferred_presence(ALEX, "Away", "Away")
    assert await shown(tenant) == ("Away", "Away")
    await tenant.set_preferred_presence(ALEX, "offline", "offwork")
    assert await shown(tenant) == ("Offline", "OffWork")
    await tenant.clear_preferred_presence(ALEX)
    assert await shown(tenant) == ("DoNotDisturb", "Presenting")
    await tenant.clear_preferred_presence(ALEX)  # clearing nothing is fine


async def test_preferred_presence_needs_a_live_session(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §2: preferred presence only shows while the user has a session; otherwise Offline/Offline."""
    await tenant.set_preferred_presence(ALEX, "DoNotDisturb", "DoNotDisturb")
    await only_app_session(tenant)
    assert await shown(tenant) == ("Offline", "Offline")
    await tenant.set_presence(ALEX, APP, APP, "Available", "Available")
    assert await shown(tenant) == ("DoNotDisturb", "DoNotDisturb")
    clock.advance(5 * MINUTE + 1)
    assert await shown(tenant) == ("Offline", "Offline")
    assert (await tenant.describe(ALEX))["preferred"] is not None  # kept, just not shown


@pytest.mark.parametrize(
    ("pair", "days"),
    [
        (("Busy", "Busy"), 1),
        (("DoNotDisturb", "DoNotDisturb"), 1),
        (("Available", "Available"), 7),
        (("BeRightBack", "BeRightBack"), 7),
        (("Away", "Away"), 7),
        (("Offline", "OffWork"), 7),
    ],
)
async def test_preferred_default_expiry(
    tenant: SimTenant, clock: AdjustableClock, pair: tuple[str, str], days: int
) -> None:
    """FACTS §2: default expiry 1 day for Busy and DoNotDisturb, 7 days otherwise."""
    start = clock.now()
    await tenant.set_preferred_presence(ALEX, *pair)
    preferred = (await tenant.describe(ALEX))["preferred"]
    assert (preferred["availability"], preferred["activity"]) == pair
    assert abs((parse_utc(preferred["expiresAt"]) - (start + timedelta(days=days))).total_seconds()) < 2
    clock.advance(days * 86400 + 1)
    assert (await tenant.describe(ALEX))["preferred"] is None
    assert await shown(tenant) == ("Available", "Available")


@pytest.mark.parametrize(
    "pair", [("Busy", "InACall"), ("DoNotDisturb", "Presenting"), ("Busy", "InAMeeting")]
)
async def test_preferred_pairs_are_the_status_pickers(tenant: SimTenant, pair: tuple[str, str]) -> None:
    """FACTS §2: setUserPreferredPresence takes the six status-picker pairs only."""
    with pytest.raises(SimGraphError) as error:
        await tenant.set_preferred_presence(ALEX, *pair)
    assert (error.value.status, error.value.code) == (400, "InvalidArgument")


@pytest.mark.parametrize(
    ("duration", "ok"), [("PT5M", True), ("P7D", True), ("PT4M", False), ("P7DT1S", False)]
)
async def test_preferred_duration_range(tenant: SimTenant, duration: str, ok: bool) -> None:
    """FACTS §2 (range UNVERIFIED; choice: PT5M..P7D, the longest default Graph applies)."""
    assert timedelta(days=7) == PREFERRED_MAX
    if ok:
        await tenant.set_preferred_presence(ALEX, "BeRightBack", "BeRightBack", duration)
        return
    with pytest.raises(SimGraphError) as error:
        await tenant.set_preferred_presence(ALEX, "BeRightBack", "BeRightBack", duration)
    assert (error.value.code, error.value.message) == (
        "InvalidArgument",
        "The provided [ExpirationDuration] is out of range.",
    )


# -- status message ---------------------------------------------------------------------------------
async def test_status_message_reads_back_in_graphs_shape(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §2 (setStatusMessage) and §1 (statusMessage in presence)."""
    expiry = (clock.now() + timedelta(hours=1)).astimezone(UTC).replace(tzinfo=None, microsecond=0)
    await tenant.set_status_message(
        ALEX, "Out for lunch", "text", DateTimeTimeZone(date_time=expiry.isoformat(), time_zone="UTC")
    )
    status = (await tenant.get_presence(ALEX))["statusMessage"]
    assert status["message"] == {"content": "Out for lunch", "contentType": "text"}
    assert status["expiryDateTime"] == {"dateTime": expiry.isoformat() + ".0000000", "timeZone": "UTC"}
    published = parse_utc(status["publishedDateTime"])
    assert abs((published - clock.now()).total_seconds()) < 2
    assert (await tenant.describe(ALEX))["statusMessage"] == status


async def test_status_message_without_expiry_never_expires(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §2: no expiry = never expires."""
    await tenant.set_status_message(ALEX, "back in 5 minutes")
    clock.advance(365 * 86400)
    status = (await tenant.get_presence(ALEX))["statusMessage"]
    assert status["message"]["content"] == "back in 5 minutes"
    assert status["expiryDateTime"] is None


async def test_expired_status_message_disappears(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §2: a status message with an expiry is gone once it passes."""
    expiry = DateTimeTimeZone.from_datetime(clock.now() + timedelta(minutes=30))
    await tenant.set_status_message(ALEX, "Focus time", "text", expiry)
    clock.advance(29 * MINUTE)
    assert (await tenant.get_presence(ALEX))["statusMessage"] is not None
    clock.advance(2 * MINUTE)
    assert (await tenant.get_presence(ALEX))["statusMessage"] is None


@pytest.mark.parametrize(
    "zone_name",
    ["Europe/Berlin", "W. Europe Standard Time", "pacific standard time", "America/New_York", "Etc/UTC"],
)
async def test_expiry_is_read_in_its_time_zone(
    tenant: SimTenant, clock: AdjustableClock, zone_name: str
) -> None:
    """FACTS §2: `dateTime` has no offset; `timeZone` is a Windows or IANA name."""
    zone = resolve_zone(zone_name)
    assert zone is not None
    instant = (clock.now() + timedelta(hours=3)).replace(microsecond=0)
    wall = instant.astimezone(zone).replace(tzinfo=None)
    await tenant.set_status_message(
        ALEX, "Travelling", "text", DateTimeTimeZone(date_time=wall.isoformat(), time_zone=zone_name)
    )
    status = (await tenant.get_presence(ALEX))["statusMessage"]
    assert status["expiryDateTime"] == {"dateTime": wall.isoformat() + ".0000000", "timeZone": zone_name}
    clock.advance(3 * 3600 - 30)
    assert (await tenant.get_presence(ALEX))["statusMessage"] is not None
    clock.advance(60)
    assert (await tenant.get_presence(ALEX))["statusMessage"] is None


async def test_expiry_with_graphs_seven_fraction_digits_and_an_offset(
    tenant: SimTenant, clock: AdjustableClock
) -> None:
    """FACTS §2: Graph writes seven fractional digits; an offset, though not expected, is honoured."""
    later = (clock.now() + timedelta(hours=2)).astimezone(UTC)
    wall = later.replace(tzinfo=None).strftime("%Y-%m-%dT%H:%M:%S")
    await tenant.set_status_message(
        ALEX, "a", "text", DateTimeTimeZone(date_time=wall + ".1234567", time_zone="UTC")
    )
    expiry = (await tenant.get_presence(ALEX))["statusMessage"]["expiryDateTime"]
    assert expiry["dateTime"] == wall + ".1234560"  # kept to the microsecond
    offset = later.astimezone(ZoneInfo("Asia/Tokyo")).isoformat()
    await tenant.set_status_message(
        ALEX, "b", "text", DateTimeTimeZone(date_time=offset, time_zone="Asia/Tokyo")
    )
    expiry = (await tenant.get_presence(ALEX))["statusMessage"]["expiryDateTime"]
    assert expiry["timeZone"] == "UTC"
    assert abs((parse_utc(expiry["dateTime"] + "Z") - later).total_seconds()) < 1


async def test_status_message_refusals(tenant: SimTenant, clock: AdjustableClock) -> None:
    """FACTS §2: text only; over 280 characters refused (UNVERIFIED: we refuse); choice: a past expiry
    and an unknown zone are refused rather than guessed."""
    past = DateTimeTimeZone.from_datetime(clock.now() - timedelta(minutes=1))
    future = DateTimeTimeZone.from_datetime(clock.now() + timedelta(minutes=10))
    cases: list[tuple[str, str, DateTimeTimeZone | None, int, str]] = [
        ("x" * 281, "text", None, 400, "InvalidArgument"),
        ("<b>hi</b>", "html", None, 400, "InvalidArgument"),
        ("hi", "text", past, 400, "InvalidArgument"),
        (
            "hi",
            "text",
            DateTimeTimeZone(date_time=future.date_time, time_zone="Mars/Olympus"),
            400,
            "InvalidArgument",
        ),
        ("hi", "text", DateTimeTimeZone(date_time="tomorrow", time_zone="UTC"), 400, "BadRequest"),
    ]
    for content, content_type, expiry, status, code in cases:
        with pytest.raises(SimGraphError) as error:
            await tenant.set_status_message(ALEX, content, content_type, expiry)
        assert (error.value.status, error.value.code) == (status, code), content
    await tenant.set_status_message(ALEX, "é" * 280, "TEXT")  # 280 characters exactly is fine
    assert len((await tenant.get_presence(ALEX))["statusMessage"]["message"]["content"]) == 280


async def test_empty_content_clears_the_status_message(tenant: SimTenant) -> None:
    """FACTS §2: there is no clear action: post an empty content."""
    await tenant.set_status_message(ALEX, "In the lab")
    await tenant.set_status_message(ALEX, "")
    assert (await tenant.get_presence(ALEX))["statusMessage"] is None
    await tenant.set_status_message(ALEX, "In the lab")
    await tenant.set_status_message(ALEX, None)
    assert (await tenant.get_presence(ALEX))["statusMessage"] is None


def test_every_windows_zone_maps_to_a_real_zone() -> None:
    """FACTS §2: `timeZone` may be a Windows name; each one we map must exist in the tz database."""
    moment = datetime(2026, 7, 1, 12, tzinfo=UTC)
    for windows, iana in WINDOWS_ZONES.items():
        zone = resolve_zone(windows)
        assert zone is not None, windows
        assert moment.astimezone(zone).utcoffset() == moment.astimezone(ZoneInfo(iana)).utcoffset(), windows
    assert resolve_zone(None) is UTC
    assert resolve_zone("UTC") is UTC
    assert resolve_zone("Not/AZone") is None
    assert resolve_zone("../../etc/passwd") is None


# -- sequenceNumber ----------------------------------------------------------------------------------
async def test_sequence_number_moves_forward_when_presence_changes(
    tenant: SimTenant, clock: AdjustableClock
) -> None:
    """FACTS §1: sequenceNumber is a lexicographically sortable version stamp of the presence."""
    seen = [(await tenant.get_presence(ALEX))["sequenceNumber"]]
    assert (await tenant.get_presence(ALEX))["sequenceNumber"] == seen[-1]  # nothing changed
    await only_app_session(tenant)
    await tenant.set_presence(ALEX, APP, APP, "Available", "Available", "PT20M")
    seen.append((await tenant.get_presence(ALEX))["sequenceNumber"])
    await tenant.set_presence(ALEX, APP, APP, "Available", "Available", "PT20M")  # same instant, still moves
    seen.append((await tenant.get_presence(ALEX))["sequenceNumber"])
    clock.advance(6 * MINUTE)  # fades to AvailableInactive
    seen.append((await tenant.get_presence(ALEX))["sequenceNumber"])
    clock.advance(5 * MINUTE)  # fades to Away
    seen.append((await tenant.get_presence(ALEX))["sequenceNumber"])
    clock.advance(10 * MINUTE)  # the session expires: Offline
    seen.append((await tenant.get_presence(ALEX))["sequenceNumber"])
    await tenant.set_status_message(ALEX, "gone fishing")
    seen.append((await tenant.get_presence(ALEX))["sequenceNumber"])
    assert seen == sorted(seen)
    assert len(set(seen)) == len(seen)
    assert all(len(s) == len(seen[0]) for s in seen)


# -- simulated Teams clients ---------------------------------------------------------------------------
async def test_teams_clients_come_and_go(tenant: SimTenant) -> None:
    """FACTS §3: a user has one session per Teams client; with none left (and no app) the user is Offline."""
    second = await tenant.add_client(ALEX, "busy", "inameeting")
    assert second == "teams-client-2"
    assert await shown(tenant) == ("Busy", "InAMeeting")
    await tenant.remove_client(ALEX, second)
    await tenant.remove_client(ALEX, "teams-client-1")
    assert await shown(tenant) == ("Offline", "Offline")
    with pytest.raises(SimGraphError) as error:
        await tenant.remove_client(ALEX, "teams-client-1")
    assert (error.value.status, error.value.code) == (404, "NotFound")


@pytest.mark.parametrize("pair", [("Offline", "OffWork"), ("BeRightBack", "BeRightBack"), ("Busy", "Nope")])
async def test_teams_clients_report_client_pairs_only(tenant: SimTenant, pair: tuple[str, str]) -> None:
    """FACTS §1 (pairs) and §2: be right back and appear offline are preferred presence, not client states."""
    assert pair not in CLIENT_PAIRS
    with pytest.raises(SimGraphError) as error:
        await tenant.add_client(ALEX, *pair)
    assert error.value.status == 400


# -- persistence ---------------------------------------------------------------------------------------
async def test_state_survives_a_restart(tmp_path: Path, clock: AdjustableClock) -> None:
    """FACTS §3 (sessions, expiries) must hold across a restart: a new tenant on the same file sees them."""
    path = tmp_path / "data" / "sim-state.json"
    first = SimTenant(clock, path)
    await first.set_presence(ALEX, APP, APP, "Busy", "InACall", "PT1H")
    await first.set_preferred_presence("megan", "BeRightBack", "BeRightBack", "PT2H")
    await first.set_status_message(
        ALEX, "Deep work", "text", DateTimeTimeZone.from_datetime(clock.now() + timedelta(hours=2))
    )
    client = await first.add_client(ALEX, "Busy", "InAMeeting")
    before = {user: await first.describe(user) for user in (ALEX, "megan")}
    assert path.exists() and not files(path.parent, ".*.tmp")

    second = SimTenant(clock, path)
    assert second.user_ids() == [ALEX, "megan"]
    assert {user: await second.describe(user) for user in (ALEX, "megan")} == before
    await second.remove_client(ALEX, client)  # ids carry over
    clock.advance(3600 + 1)
    assert await shown(second) == ("Available", "Available")  # the expiry carried over too


async def test_the_clock_offset_survives_a_restart(tmp_path: Path) -> None:
    """FACTS §3 (expiries are in the tenant's time): a restarted simulator must not jump back in time."""
    path = tmp_path / "sim-state.json"
    clock = AdjustableClock()
    tenant = SimTenant(clock, path)
    clock.advance(2 * 3600)
    await tenant.save()
    restarted = AdjustableClock()
    SimTenant(restarted, path)
    assert restarted.offset >= timedelta(hours=2)
    assert json.loads(path.read_text())["clockOffsetSeconds"] == pytest.approx(7200)


async def test_concurrent_writes_are_all_durable(tmp_path: Path, clock: AdjustableClock) -> None:
    """FACTS §2 (each write answered is applied): every awaited write is on disk, writes coalesce."""
    path = tmp_path / "sim-state.json"
    tenant = SimTenant(clock, path)
    users = [f"user-{i}" for i in range(40)]
    await asyncio.gather(*(tenant.set_presence(u, APP, APP, "Busy", "InACall", "PT1H") for u in users))
    saved = json.loads(path.read_text())
    assert sorted(saved["users"]) == sorted(users)
    assert all(saved["users"][u]["apps"] for u in users)


async def test_a_read_that_creates_a_user_is_saved(tmp_path: Path, clock: AdjustableClock) -> None:
    """FACTS §3 (a user's Teams client session): first reference creates the user, durably."""
    path = tmp_path / "sim-state.json"
    await SimTenant(clock, path).get_presence("new-user")
    assert "new-user" in json.loads(path.read_text())["users"]


async def test_an_unreadable_state_file_is_moved_aside(tmp_path: Path, clock: AdjustableClock) -> None:
    """Choice (FACTS is silent): a corrupt state file never stops the bot; it is kept for a look."""
    path = tmp_path / "sim-state.json"
    path.write_text("{not json")
    tenant = SimTenant(clock, path)
    assert tenant.user_ids() == []
    assert len(files(tmp_path, "sim-state.json.unreadable-*")) == 1
    await tenant.set_presence(ALEX, APP, APP, "Away", "Away")
    assert json.loads(path.read_text())["version"] == 1


async def test_a_failed_write_is_a_503(tmp_path: Path, clock: AdjustableClock) -> None:
    """FACTS §4 (503 is an error Graph answers): a write that could not be saved is not answered 2xx."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    tenant = SimTenant(clock, blocker / "sim-state.json")
    with pytest.raises(SimGraphError) as error:
        await tenant.set_presence(ALEX, APP, APP, "Away", "Away")
    assert (error.value.status, error.value.code) == (503, "ServiceUnavailable")
    assert (await tenant.get_presence(ALEX))["id"] == ALEX  # reads still work
