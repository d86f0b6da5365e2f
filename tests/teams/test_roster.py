"""`TeamsDirectory` against the local connector's roster (tests/support/connector.py), inside a real
botbuilder turn: an activity goes through `CloudAdapter.process_activity` as the bot's endpoint sends it,
and the directory reads the conversation's roster through `TeamsInfo` and the turn's connector client.

What a user of `/who` would notice: the people in the chat (never its bots), at most as many as asked
with an honest "and N more", a team channel's members, and a clear reason instead of a traceback when
Teams refuses, stalls or answers garbage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity

from bot.core.colleagues import Colleague, RosterError, RosterPage
from bot.teams.roster import TeamsDirectory
from tests.support.builders import BOT_ID, TENANT, activity
from tests.support.connector import Connector, roster_member

CHAT = "19:group-chat-1@thread.v2"
TEAM = "19:team-general@thread.tacv2"
CHANNEL = "19:channel-design@thread.tacv2"

T = TypeVar("T")


class _Config:
    APP_ID = ""
    APP_PASSWORD = ""
    APP_TYPE = "MultiTenant"
    APP_TENANTID = ""


def person(index: int) -> dict[str, Any]:
    return roster_member(f"Person {index:04d}", f"00000000-0000-4000-8000-{index:012d}")


def aad(index: int) -> str:
    return f"00000000-0000-4000-8000-{index:012d}"


async def in_a_turn(
    connector: Connector,
    read: Callable[[TeamsDirectory], Awaitable[T]],
    *,
    conversation: str = CHAT,
    team: str | None = None,
    roster_timeout: float = 10.0,
    channel_data: bool = True,
) -> T:
    """Run `read` on a `TeamsDirectory` built from a real turn's context; its error is raised here."""
    body = activity(
        "/who", service_url=connector.url, conversation_type="groupChat", conversation_id=conversation
    )
    if team is not None:
        body["conversation"]["conversationType"] = "channel"
        body["channelData"] = {
            "tenant": {"id": TENANT},
            "team": {"id": team},
            "channel": {"id": conversation},
        }
    if not channel_data:
        del body["channelData"]
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(_Config()))
    outcome: list[Any] = []

    async def logic(turn_context: TurnContext) -> None:
        try:
            outcome.append(await read(TeamsDirectory(turn_context, timeout=roster_timeout)))
        except Exception as error:  # handed to the test, outside botbuilder's turn error handler
            outcome.append(error)

    await adapter.process_activity("", Activity().deserialize(body), logic)
    assert outcome, "the turn never ran"
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    result: T = outcome[0]
    return result


async def members(connector: Connector, limit: int, **kwargs: Any) -> RosterPage:
    return await in_a_turn(connector, lambda directory: directory.members(limit), **kwargs)


def paged_requests(connector: Connector) -> list[dict[str, str]]:
    return [query for path, query in connector.roster_requests if path.endswith("/pagedmembers")]


# -- members ---------------------------------------------------------------------------------------------
async def test_the_people_in_a_chat_with_what_graph_and_teams_need_of_each(connector: Connector) -> None:
    megan = roster_member("Megan Bowen", aad(1), upn="megan@contoso.example")
    no_upn = roster_member("Lee Gu", aad(2), upn="")
    no_upn["email"] = "lee@contoso.example"
    connector.rosters[CHAT] = [
        megan,
        roster_member("Alerts", None, member_id="28:alerts-bot"),  # another bot
        roster_member("Test Bot", aad(99), member_id=BOT_ID),  # this bot, as Teams may list it
        roster_member("Guest", None, role="anonymous"),  # no Entra id: Graph has no presence for them
        no_upn,
    ]
    page = await members(connector, 50)
    assert page.members == (
        Colleague(aad(1), "Megan Bowen", TENANT, "megan@contoso.example", megan["id"]),
        Colleague(aad(2), "Lee Gu", TENANT, "lee@contoso.example", no_upn["id"]),
    )
    assert (page.total, page.more) == (2, False)


async def test_at_most_the_limit_with_more_said_honestly(connector: Connector) -> None:
    """120 people, 50 asked: one page of 51 (one more than asked says there are more), total unknown."""
    connector.rosters[CHAT] = [person(i) for i in range(120)]
    page = await members(connector, 50)
    assert [c.aad_id for c in page.members] == [aad(i) for i in range(50)]
    assert (page.total, page.more) == (None, True)
    assert paged_requests(connector) == [{"pageSize": "51"}]


async def test_a_roster_that_fits_is_read_to_its_end_with_its_total(connector: Connector) -> None:
    connector.rosters[CHAT] = [person(i) for i in range(50)]
    page = await members(connector, 50)
    assert (len(page.members), page.total, page.more) == (50, 50, False)


async def test_pages_are_read_until_the_limit_at_most_500_a_page(connector: Connector) -> None:
    connector.rosters[CHAT] = [person(i) for i in range(1200)]
    page = await members(connector, 600)
    assert [c.aad_id for c in page.members] == [aad(i) for i in range(600)]
    assert (page.total, page.more) == (None, True)
    requests = paged_requests(connector)
    assert [q["pageSize"] for q in requests] == ["500", "500"]
    assert "continuationToken" not in requests[0] and requests[1]["continuationToken"]


async def test_a_roster_read_to_its_end_over_pages_has_its_total(connector: Connector) -> None:
    connector.rosters[CHAT] = [person(i) for i in range(620)]
    page = await members(connector, 600)
    assert (len(page.members), page.total, page.more) == (600, 620, True)


async def test_bots_do_not_count_against_the_limit(connector: Connector) -> None:
    """60 people and 5 bots, 60 asked: the bots on the first page send the read on to the next one."""
    bots = [roster_member(f"Bot {i}", None, member_id=f"28:bot-{i}") for i in range(5)]
    connector.rosters[CHAT] = [*bots, *(person(i) for i in range(60))]
    page = await members(connector, 60)
    assert (len(page.members), page.total, page.more) == (60, 60, False)
    assert len(paged_requests(connector)) == 2


async def test_a_team_channel_reads_the_teams_roster(connector: Connector) -> None:
    """In a channel, Teams' members are the team's: botbuilder asks for the team's roster."""
    connector.rosters[TEAM] = [person(1), person(2)]
    page = await members(connector, 50, conversation=CHANNEL, team=TEAM)
    assert [c.aad_id for c in page.members] == [aad(1), aad(2)]
    assert {path for path, _ in connector.roster_requests} == {f"/v3/conversations/{TEAM}/pagedmembers"}


# -- when Teams does not answer well ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "said"),
    [
        (403, "Teams answered 403 (BotNotInConversationRoster)"),  # final: not sent again
        (500, "Teams kept failing when asked for the roster (too many 500 error responses)"),
    ],
)
async def test_a_refused_roster_is_a_roster_error_with_a_reason(
    connector: Connector, status: int, said: str
) -> None:
    """A 403 is final; a 500 is retried by botbuilder's connector client (about 5 s), then given up."""
    connector.rosters[CHAT] = [person(1)]
    connector.roster_fails[CHAT] = status
    with pytest.raises(RosterError) as caught:
        await members(connector, 50)
    assert str(caught.value).startswith(said)
    assert "\n" not in str(caught.value)


async def test_a_conversation_teams_has_no_roster_for_is_a_roster_error(connector: Connector) -> None:
    with pytest.raises(RosterError, match="404"):
        await members(connector, 50)


async def test_a_stalled_roster_ends_at_the_timeout(connector: Connector) -> None:
    connector.rosters[CHAT] = [person(1)]
    connector.roster_stalls.add(CHAT)
    # The connector holds a stalled request for 60 s: only the 0.5 s timeout ends the read with this error.
    with pytest.raises(RosterError, match=r"did not answer within 0\.5 s"):
        await members(connector, 50, roster_timeout=0.5)


async def test_a_roster_answer_that_is_not_json_is_a_roster_error(connector: Connector) -> None:
    connector.rosters[CHAT] = [person(1)]
    connector.roster_garbled.add(CHAT)
    with pytest.raises(RosterError, match="could not be read"):
        await members(connector, 50)


async def test_an_activity_without_teams_data_is_a_roster_error(connector: Connector) -> None:
    connector.rosters[CHAT] = [person(1)]
    with pytest.raises(RosterError, match="Could not ask Teams"):
        await members(connector, 50, channel_data=False)


# -- one member --------------------------------------------------------------------------------------------
async def test_one_member_by_their_teams_id(connector: Connector) -> None:
    megan = roster_member("Megan Bowen", aad(1), upn="megan@contoso.example")
    connector.rosters[CHAT] = [megan, roster_member("Alerts", None, member_id="28:alerts-bot")]

    async def read(directory: TeamsDirectory) -> tuple[Colleague | None, ...]:
        return (
            await directory.member(megan["id"]),
            await directory.member("29:1nobody-here"),
            await directory.member("28:alerts-bot"),
        )

    found, nobody, bot = await in_a_turn(connector, read)
    assert found == Colleague(aad(1), "Megan Bowen", TENANT, "megan@contoso.example", megan["id"])
    assert nobody is None, "Teams' 404: no such member"
    assert bot is None, "a bot is not a colleague"


async def test_one_member_of_a_team_channel_is_found_in_the_teams_roster(connector: Connector) -> None:
    connector.rosters[TEAM] = [person(1)]
    found = await in_a_turn(
        connector, lambda directory: directory.member(person(1)["id"]), conversation=CHANNEL, team=TEAM
    )
    assert found is not None and found.aad_id == aad(1)
    assert [path for path, _ in connector.roster_requests] == [
        f"/v3/conversations/{TEAM}/members/{person(1)['id']}"
    ]


async def test_a_member_read_that_fails_is_a_roster_error(connector: Connector) -> None:
    connector.rosters[CHAT] = [person(1)]
    connector.roster_fails[CHAT] = 403
    with pytest.raises(RosterError, match="403"):
        await in_a_turn(connector, lambda directory: directory.member(person(1)["id"]))
