"""The command parser, table by table: commands and aliases, mentions, lengths, end times, time zones,
DST, status messages and refusals. Every refusal must say what was wrong and give a working example."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.commands.model import Command, CommandError, Help, When
from bot.commands.parser import Role
from bot.commands.preferences import SetNotices, SetTimeZone
from bot.commands.presence import ClearSession, Extend, Reset, SetState, ShowPresence
from bot.commands.registry import Declaration
from bot.commands.status import ApplyPicker, ClearStatusMessage, OpenPicker, SetStatusMessage
from bot.commands.vocabulary import UNSETTABLE
from bot.core.states import State
from bot.core.views import CommandDoc
from bot.turns.commands import COMMANDS, Handler, parse
from bot.turns.commands.presence import Lunch

# Wednesday 18 March 2026, 10:00 UTC. New York is on EDT (UTC-4) since 8 March: 06:00 local.
NOW = datetime(2026, 3, 18, 10, 0, tzinfo=UTC)
NEW_YORK = "America/New_York"
BERLIN = ZoneInfo("Europe/Berlin")
BOT = ("Test Bot",)


def run(text: str, *, now: datetime = NOW, tz: ZoneInfo | str | None = "UTC") -> Command:
    return parse(text, now=now, tz=tz, bot_names=BOT)


def when_of(command: Command) -> When:
    assert isinstance(command, SetState | SetStatusMessage), command
    assert command.when is not None, command
    return command.when


def refused(text: str, *, now: datetime = NOW, tz: ZoneInfo | str | None = "UTC") -> CommandError:
    with pytest.raises(CommandError) as caught:
        run(text, now=now, tz=tz)
    error = caught.value
    assert error.message and error.example, "a refusal says what was wrong and shows an example"
    assert error.example.startswith("/")
    assert not any(noise in error.message for noise in ("Traceback", "Error(", "datetime.", "None"))
    run(error.example, now=now, tz=tz)  # the example itself must be a command that works
    return error


# -- commands and aliases ------------------------------------------------------------------------

STATE_ALIASES = [
    ("/available", State.AVAILABLE),
    ("/online", State.AVAILABLE),
    ("/free", State.AVAILABLE),
    ("/busy", State.BUSY),
    ("/call", State.BUSY),
    ("/in a call", State.BUSY),
    ("on a call", State.BUSY),
    ("in call", State.BUSY),
    ("/conference", State.CONFERENCE),
    ("/conference call", State.CONFERENCE),
    ("in a conference", State.CONFERENCE),
    ("in a conference call", State.CONFERENCE),
    ("/away", State.AWAY),
    ("appear away", State.AWAY),
    ("/afk", State.AWAY),
    ("/presenting", State.PRESENTING),
    ("/dnd", State.DND),
    ("do not disturb", State.DND),
    ("/donotdisturb", State.DND),
    ("do-not-disturb", State.DND),
    ("/focus", State.DND),
    ("focusing", State.DND),
    ("/brb", State.BRB),
    ("be right back", State.BRB),
    ("berightback", State.BRB),
    ("be-right-back", State.BRB),
    ("/offline", State.OFFLINE),
    ("appear offline", State.OFFLINE),
    ("/appearoffline", State.OFFLINE),
    ("/invisible", State.OFFLINE),
]


@pytest.mark.parametrize(("text", "state"), STATE_ALIASES)
def test_every_state_and_alias(text: str, state: State) -> None:
    assert run(text) == SetState(state=state, when=None)


@pytest.mark.parametrize(("text", "state"), STATE_ALIASES)
def test_every_state_alias_takes_a_when(text: str, state: State) -> None:
    command = run(f"{text} 30m")
    assert isinstance(command, SetState) and command.state is state
    assert when_of(command).duration == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/clear", ClearSession()),
        ("clear", ClearSession()),
        ("/reset", Reset()),
        ("/auto", Reset()),
        ("automatic", Reset()),
        ("back", Reset()),
        ("/presence", ShowPresence()),
        ("/whoami", ShowPresence()),
        ("who am i", ShowPresence()),
        ("/show", ShowPresence()),
        ("/Show", ShowPresence()),
        ("/help", Help()),
        ("help", Help()),
        ("/help busy", Help()),
        ("?", Help()),
        ("/?", Help()),
        ("/commands", Help()),
        ("", Help()),
        ("   ", Help()),
        ("/", Help()),
        ("<at>Test Bot</at>", Help()),
        ("/status clear", ClearStatusMessage()),
        ("/status CLEAR", ClearStatusMessage()),
        ("/status reset", ClearStatusMessage()),
        ("/status off", ClearStatusMessage()),
        ("/status none", ClearStatusMessage()),
        ("/status remove", ClearStatusMessage()),
        ("/status delete", ClearStatusMessage()),
        ("/clear status", ClearStatusMessage()),
        ("clear status message", ClearStatusMessage()),
    ],
)
def test_commands_without_a_state(text: str, expected: Command) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(
    ("text", "minutes", "message"),
    [
        ("/lunch", None, "Out for lunch"),
        ("lunch please", None, "Out for lunch"),
        ("I'm at lunch", None, "Out for lunch"),
        ("/lunch break 30m", 30, "Out for lunch"),
        ("/lunch 45 minutes", 45, "Out for lunch"),
        ("/lunch 1h Team lunch", 60, "Team lunch"),
        ("/lunch Team lunch for 90m", 90, "Team lunch"),
    ],
)
def test_lunch_reads_a_when_and_a_message_like_a_state(text: str, minutes: int | None, message: str) -> None:
    command = run(text)
    assert isinstance(command, Lunch) and command.message == message
    ends = None if command.when is None else command.when.end
    assert ends == (None if minutes is None else NOW + timedelta(minutes=minutes))


@pytest.mark.parametrize(("text", "says"), [("/lunch 30", "needs a unit"), ("/lunch until yesterday", "")])
def test_a_refused_lunch_suggests_a_lunch_that_works(text: str, says: str) -> None:
    error = refused(text)  # runs the example too
    assert says in error.message and error.example is not None and error.example.startswith("/lunch ")


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("coffee please", "coffee"),
        ("/coffee", "coffee"),
        ("Hello!", "Hello"),
        ("/busyy 30m", "busyy"),
        ("<at>Test Bot</at> what can you do?", "what"),
        ("x" * 100, "x" * 40),
    ],
)
def test_unknown_words_give_help_naming_the_word(text: str, word: str) -> None:
    command = run(text)
    assert isinstance(command, Help) and command.unknown == word


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("/bsy 30m", "/busy 30m"),
        ("/busyy 30m", "/busy 30m"),
        ("/avalable", "/available"),
        ("/availble until 5pm", "/available until 5pm"),
        ("/dnd1h", "/dnd 1h"),
        ("busy30m", "/busy 30m"),
        ("/presense", "/presence"),
        ("/staus Out for lunch", "/status Out for lunch"),
    ],
)
def test_near_misses_suggest_the_command_meant(text: str, suggestion: str) -> None:
    command = run(text)
    assert isinstance(command, Help) and command.suggestion == suggestion


@pytest.mark.parametrize("text", ["hi", "coffee please", "/xyz", "what can you do?", "12345"])
def test_words_far_from_any_command_suggest_nothing(text: str) -> None:
    command = run(text)
    assert isinstance(command, Help) and command.suggestion is None


@pytest.mark.parametrize(
    "text",
    [
        "/busy 30m for <at>Megan Bowen</at>",
        "<at>Test Bot</at> /dnd 1h <at>Megan Bowen</at>",
        "set <at>Megan Bowen</at> to away",
        "/reset <at>Megan Bowen</at>",
    ],
)
def test_a_state_command_mentioning_someone_else_is_refused_plainly(text: str) -> None:
    error = refused(text)
    assert "only change your own presence" in error.message and "Megan Bowen" in error.message


def test_a_status_message_may_mention_people() -> None:
    command = run("/status Pairing with <at>Megan Bowen</at>")
    assert command == SetStatusMessage(text="Pairing with Megan Bowen")


# What follows a command's words in the table test: the least each command needs to be itself.
_ARGUMENT = {
    "status": "Hello",
    "timezone": "Europe/Paris",
    "notify": "off",
    "who": "<at>Megan</at>",
    "is @person free": "<at>Megan</at> free",
    "check @person": "<at>Megan</at>",
    "watch": "<at>Megan</at>",
    "unwatch": "<at>Megan</at>",
}


@pytest.mark.parametrize("declaration", COMMANDS.declarations, ids=lambda d: d.name)
def test_every_word_of_a_command_reaches_its_handler(declaration: Declaration[Handler]) -> None:
    for words in declaration.words.values():
        for word in words:
            command = run(f"/{word} {_ARGUMENT.get(declaration.name, '')}".strip())
            assert COMMANDS.handler_for(command) is declaration.handler, word
            if declaration.role is Role.STATE:
                assert isinstance(command, SetState) and command.when is None, word


def test_no_word_is_a_state_apps_cannot_set() -> None:
    words = {word for d in COMMANDS.declarations for ws in d.words.values() for word in ws}
    assert not words & set(UNSETTABLE), "a word means one thing"


def test_did_you_mean_only_offers_words_that_are_a_command_alone() -> None:
    for word in COMMANDS.grammar.one_word:
        try:
            command = run(f"/{word}")
        except CommandError:
            continue  # a command that says what it needs ("/notify": on or off)
        assert not (isinstance(command, Help) and command.unknown), word
    assert run("/is30") == Help(unknown="is30")  # not "/is 30", which means nothing
    assert run("/chek <at>Megan</at>") == Help(unknown="chek")


@pytest.mark.parametrize("doc", COMMANDS.docs(), ids=lambda doc: doc.name)
def test_every_catalog_example_parses(doc: CommandDoc) -> None:
    for example in doc.examples:
        # "@Megan" in an example is a mention, as Teams sends one picked from its @ list.
        command = run(re.sub(r"@(\w+)", r"<at>\1</at>", example))
        assert not isinstance(command, Help) or doc.name == "help", example


# -- case, slash, mentions, HTML -----------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "/busy 30m",
        "busy 30m",
        "/BUSY 30M",
        "Busy for 30 minutes",
        "BUSY FOR 30 MINUTES",
        "/ busy 30m",
        "  /busy   30m  ",
        "/busy 30m.",
        "busy: 30m",
        "<at>Test Bot</at> /busy 30m",
        "<at>Test Bot</at>&nbsp;/busy&nbsp;30m",
        "<at>Test Bot</at>\u00a0/busy 30m",
        "<p><at>Test Bot</at> /busy 30m</p>",
        "<div>/busy&nbsp;30m<br></div>",
        "<div><p>/busy <b>30m</b></p></div>",
        "/busy 30m <at>Test Bot</at>",
        '<at id="0">Test Bot</at> busy 30m',
        "<at>Presence</at> busy 30m",  # the user shortened the mention: still a mention
        "<at>Test</at> <at>Bot</at> /busy 30m",
        "Test Bot /busy 30m",
        "test bot busy 30m",
        "@Test Bot busy 30m",
        "Test Bot: busy 30m",
        "\u200b/busy 30m",
        "/busy\t30m\n",
    ],
)
def test_mentions_markup_case_and_slash_are_ignored(text: str) -> None:
    command = run(text)
    assert isinstance(command, SetState) and command.state is State.BUSY
    assert when_of(command).duration == timedelta(minutes=30)
    assert when_of(command).end == NOW + timedelta(minutes=30)


def test_the_exact_group_chat_text() -> None:
    command = parse("<at>Test Bot</at> /busy 30m", now=NOW, tz="UTC", bot_names=["Test Bot"])
    assert command == SetState(
        state=State.BUSY,
        when=When(end=NOW + timedelta(minutes=30), duration=timedelta(minutes=30), text="30m"),
    )


def test_a_bot_name_is_only_stripped_at_the_start() -> None:
    command = parse("/status Testing Test Bot", now=NOW, tz=None, bot_names=["Test Bot"])
    assert command == SetStatusMessage(text="Testing Test Bot")


# -- lengths -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "duration"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1h 30m", timedelta(minutes=90)),
        ("1h30", timedelta(minutes=90)),
        ("90 minutes", timedelta(minutes=90)),
        ("2 hours", timedelta(hours=2)),
        ("2 hrs", timedelta(hours=2)),
        ("for 45 min", timedelta(minutes=45)),
        ("45 min", timedelta(minutes=45)),
        ("45mins", timedelta(minutes=45)),
        ("30 M", timedelta(minutes=30)),
        ("1.5h", timedelta(minutes=90)),
        ("1.5 hours", timedelta(minutes=90)),
        ("half an hour", timedelta(minutes=30)),
        ("for half an hour", timedelta(minutes=30)),
        ("a quarter of an hour", timedelta(minutes=15)),
        ("an hour", timedelta(hours=1)),
        ("for an hour", timedelta(hours=1)),
        ("for the next hour", timedelta(hours=1)),
        ("for the next 2 hours", timedelta(hours=2)),
        ("an hour and a half", timedelta(minutes=90)),
        ("2 and a half hours", timedelta(minutes=150)),
        ("1 hour and 30 minutes", timedelta(minutes=90)),
        ("1 hour, 30 minutes", timedelta(minutes=90)),
        ("10s", timedelta(seconds=10)),
        ("PT30M", timedelta(minutes=30)),
        ("pt30m", timedelta(minutes=30)),
        ("PT1H30M", timedelta(minutes=90)),
        ("for PT4H", timedelta(hours=4)),
        ("P1D", timedelta(days=1)),
        ("1d", timedelta(days=1)),
        ("2 days", timedelta(days=2)),
        ("1 week", timedelta(days=7)),
        ("7 days", timedelta(days=7)),
    ],
)
def test_lengths(when: str, duration: timedelta) -> None:
    got = when_of(run(f"/dnd {when}"))
    assert got.duration == duration
    assert got.end == NOW + duration
    assert got.text == when


# -- end times -----------------------------------------------------------------------------------


def ny(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=ZoneInfo(NEW_YORK))


# NOW is Wednesday 18 March, 06:00 in New York.
@pytest.mark.parametrize(
    ("when", "end"),
    [
        ("until 5pm", ny(3, 18, 17)),
        ("until 5 pm", ny(3, 18, 17)),
        ("until 5PM", ny(3, 18, 17)),
        ("until 5 p.m.", ny(3, 18, 17)),
        ("until 5:30 pm", ny(3, 18, 17, 30)),
        ("until 5:30pm", ny(3, 18, 17, 30)),
        ("until 17:30", ny(3, 18, 17, 30)),
        ("until 09:00", ny(3, 18, 9)),
        ("until 00:30", ny(3, 19, 0, 30)),
        ("until 12", ny(3, 18, 12)),
        ("until 12am", ny(3, 19, 0)),
        ("until 12pm", ny(3, 18, 12)),
        ("till 5", ny(3, 18, 17)),  # 5:00 has passed, 17:00 hasn't
        ("till 7", ny(3, 18, 7)),  # the next time the clock shows 7
        ("till 5 o'clock", ny(3, 18, 17)),
        ("'til 8:15", ny(3, 18, 8, 15)),
        ("til noon", ny(3, 18, 12)),
        ("until midday", ny(3, 18, 12)),
        ("until midnight", ny(3, 19, 0)),
        ("until end of day", ny(3, 19, 0)),
        ("until the end of the day", ny(3, 19, 0)),
        ("until eod", ny(3, 19, 0)),
        ("until EOD", ny(3, 19, 0)),
        ("eod", ny(3, 19, 0)),
        ("today", ny(3, 19, 0)),
        ("until today", ny(3, 19, 0)),
        ("for today", ny(3, 19, 0)),
        ("for the rest of the day", ny(3, 19, 0)),
        ("this week", ny(3, 23, 0)),
        ("until end of week", ny(3, 23, 0)),
        ("until tomorrow 9am", ny(3, 19, 9)),
        ("until tomorrow at 9am", ny(3, 19, 9)),
        ("until 9am tomorrow", ny(3, 19, 9)),
        ("until tomorrow 9", ny(3, 19, 9)),  # with a day: working hours, 9 is morning
        ("until tomorrow 5", ny(3, 19, 17)),  # … and 5 is afternoon
        ("until tomorrow noon", ny(3, 19, 12)),
        ("until tomorrow midnight", ny(3, 20, 0)),
        ("until tmrw 9am", ny(3, 19, 9)),
        ("until friday 5pm", ny(3, 20, 17)),
        ("until Friday 5pm", ny(3, 20, 17)),
        ("until fri 5pm", ny(3, 20, 17)),
        ("until friday at 5pm", ny(3, 20, 17)),
        ("until 5pm on friday", ny(3, 20, 17)),
        ("until this friday 5pm", ny(3, 20, 17)),
        ("until friday eod", ny(3, 21, 0)),
        ("until wednesday 5pm", ny(3, 18, 17)),  # today, still ahead
        ("until wednesday 5am", ny(3, 25, 5)),  # today's has passed: next week's
        ("until monday 9am", ny(3, 23, 9)),
        ("until today 5pm", ny(3, 18, 17)),
        ("until 2026-03-19 09:00", ny(3, 19, 9)),
        ("until 2026-03-19T09:00", ny(3, 19, 9)),
        ("until march 19 9am", ny(3, 19, 9)),
        ("until 19 March 9am", ny(3, 19, 9)),
        ("until Mar 20th 5pm", ny(3, 20, 17)),
        ("to 5pm", ny(3, 18, 17)),
        ("5pm", ny(3, 18, 17)),  # a bare time means until then
        ("17:30", ny(3, 18, 17, 30)),
        ("5:30", ny(3, 18, 17, 30)),
        ("noon", ny(3, 18, 12)),
        ("midnight", ny(3, 19, 0)),
        ("tomorrow 9am", ny(3, 19, 9)),
        ("friday 5pm", ny(3, 20, 17)),
        ("until 17h", ny(3, 18, 17)),  # the European way: always a 24-hour clock
        ("until 17h30", ny(3, 18, 17, 30)),
        ("until 9h", ny(3, 18, 9)),
        ("until 5.30pm", ny(3, 18, 17, 30)),
        ("until 17.45", ny(3, 18, 17, 45)),
        ("till 16h tomorrow", ny(3, 19, 16)),
    ],
)
def test_end_times_in_the_users_zone(when: str, end: datetime) -> None:
    got = when_of(run(f"/busy {when}", tz=NEW_YORK))
    assert got.end == end
    assert got.end.astimezone(ZoneInfo(NEW_YORK)).replace(tzinfo=None) == end.replace(tzinfo=None)
    assert got.end.utcoffset() == end.utcoffset(), "the end is given in the user's zone"
    assert got.duration is None
    assert got.text == when


@pytest.mark.parametrize(
    ("local_now", "when", "end"),
    [
        (ny(3, 18, 10), "until 9am", ny(3, 19, 9)),  # passed today: tomorrow
        (ny(3, 18, 10), "until 10am", ny(3, 19, 10)),  # now is not the future
        (ny(3, 18, 10), "until 10:01", ny(3, 18, 10, 1)),
        (ny(3, 18, 23, 30), "until 5pm", ny(3, 19, 17)),
        (ny(3, 18, 23, 30), "till 5", ny(3, 19, 5)),
        (ny(3, 18, 23, 30), "until noon", ny(3, 19, 12)),
        (ny(3, 18, 23, 30), "eod", ny(3, 19, 0)),
        (ny(3, 20, 18), "until friday 5pm", ny(3, 27, 17)),  # said on a Friday evening
        (ny(3, 22, 20), "this week", ny(3, 23, 0)),  # Sunday evening: the week ends at midnight
        (ny(12, 30, 10), "until jan 2 9am", datetime(2027, 1, 2, 9, tzinfo=ZoneInfo(NEW_YORK))),
    ],
)
def test_a_time_that_has_passed_means_the_next_one(local_now: datetime, when: str, end: datetime) -> None:
    got = when_of(run(f"/dnd {when}", now=local_now.astimezone(UTC), tz=NEW_YORK))
    assert got.end == end
    assert got.end.replace(tzinfo=None) == end.replace(tzinfo=None)


# -- time zones and DST --------------------------------------------------------------------------


def test_until_5pm_depends_on_the_users_zone() -> None:
    tokyo = when_of(run("/dnd until 5pm", tz="Asia/Tokyo")).end
    los_angeles = when_of(run("/dnd until 5pm", tz="America/Los_Angeles")).end
    # 10:00 UTC is 19:00 in Tokyo (5pm has passed → tomorrow) and 03:00 in Los Angeles.
    assert tokyo == datetime(2026, 3, 19, 8, 0, tzinfo=UTC)
    assert los_angeles == datetime(2026, 3, 19, 0, 0, tzinfo=UTC)
    assert tokyo != los_angeles
    assert tokyo.astimezone(ZoneInfo("Asia/Tokyo")).hour == 17
    assert los_angeles.astimezone(ZoneInfo("America/Los_Angeles")).hour == 17


@pytest.mark.parametrize(
    "tz", [None, "", "UTC", "Not/AZone", "../../etc/passwd", "Pacific Standard Time", "  "]
)
def test_missing_or_unknown_zones_mean_utc(tz: str | None) -> None:
    got = when_of(run("/busy until 5pm", tz=tz))
    assert got.end == datetime(2026, 3, 18, 17, 0, tzinfo=UTC)


def test_a_zoneinfo_object_is_accepted() -> None:
    got = when_of(run("/busy until 5pm", tz=BERLIN))
    assert got.end == datetime(2026, 3, 18, 17, 0, tzinfo=BERLIN)


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata"])
def test_a_length_ends_at_the_same_instant_in_every_zone(tz: str) -> None:
    assert when_of(run("/busy 90m", tz=tz)).end == NOW + timedelta(minutes=90)


def berlin(month: int, day: int, hour: int, minute: int = 0, fold: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN, fold=fold)


@pytest.mark.parametrize(
    ("now", "when", "utc_end", "local_hour"),
    [
        # Spring forward, Sunday 29 March 2026: 02:00 CET → 03:00 CEST.
        (berlin(3, 28, 11), "until 9am", datetime(2026, 3, 29, 7, 0, tzinfo=UTC), 9),
        (berlin(3, 28, 11), "until tomorrow 9am", datetime(2026, 3, 29, 7, 0, tzinfo=UTC), 9),
        (berlin(3, 29, 1, 30), "2h", datetime(2026, 3, 29, 2, 30, tzinfo=UTC), 4),  # 01:30 + 2h = 04:30
        (berlin(3, 28, 11), "1d", datetime(2026, 3, 29, 10, 0, tzinfo=UTC), 12),  # exactly 24h elapsed
        (berlin(3, 29, 1), "until 2:30am", datetime(2026, 3, 29, 1, 30, tzinfo=UTC), 3),  # gap: shifted
        (berlin(3, 29, 1), "until 2am", datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 3),
        # Fall back, Sunday 25 October 2026: 03:00 CEST → 02:00 CET.
        (berlin(10, 24, 12), "until 9am", datetime(2026, 10, 25, 8, 0, tzinfo=UTC), 9),
        (berlin(10, 25, 2, 30), "2h", datetime(2026, 10, 25, 2, 30, tzinfo=UTC), 3),  # 02:30 CEST + 2h
        (berlin(10, 24, 12), "1d", datetime(2026, 10, 25, 10, 0, tzinfo=UTC), 11),
        (berlin(10, 25, 0), "until 2:30am", datetime(2026, 10, 25, 0, 30, tzinfo=UTC), 2),  # first 02:30
        (berlin(10, 24, 12), "until midnight", datetime(2026, 10, 24, 22, 0, tzinfo=UTC), 0),
        (berlin(10, 25, 12), "until midnight", datetime(2026, 10, 25, 23, 0, tzinfo=UTC), 0),
    ],
)
def test_dst_wall_clock_ends_are_local_and_lengths_are_elapsed(
    now: datetime, when: str, utc_end: datetime, local_hour: int
) -> None:
    now_utc = now.astimezone(UTC)
    got = when_of(run(f"/dnd {when}", now=now_utc, tz="Europe/Berlin"))
    # Compare instants in UTC: an ambiguous local time never equals a time in another zone, and
    # subtracting two datetimes that share a tzinfo gives wall-clock, not elapsed, time.
    assert got.end.astimezone(UTC) == utc_end
    assert got.end.astimezone(BERLIN).hour == local_hour
    if got.duration is not None:
        assert got.end.astimezone(UTC) - now_utc == got.duration, "a length is exact elapsed time"


def test_two_hours_across_spring_forward_is_three_on_the_wall_clock() -> None:
    now = berlin(3, 29, 1, 30).astimezone(UTC)
    got = when_of(run("/busy 2h", now=now, tz="Europe/Berlin"))
    assert got.end.astimezone(UTC) - now == timedelta(hours=2)
    local = got.end.astimezone(BERLIN)
    assert (local.hour, local.minute) == (4, 30)


def test_until_9am_across_spring_forward_is_21_hours_not_22() -> None:
    now = berlin(3, 28, 11).astimezone(UTC)  # Saturday 11:00 CET
    got = when_of(run("/busy until 9am", now=now, tz="Europe/Berlin"))
    assert got.end.astimezone(UTC) - now == timedelta(hours=21)  # 22 on the wall clock
    assert got.end.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 9, 0)


def test_the_second_2_30_in_the_autumn_is_not_chosen() -> None:
    # At 02:45 CEST (first pass), "until 2:30am" is already behind us today; the next one is tomorrow.
    now = berlin(10, 25, 2, 45).astimezone(UTC)
    got = when_of(run("/busy until 2:30am", now=now, tz="Europe/Berlin"))
    assert got.end.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 10, 26, 2, 30)


# -- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/busy banana", "banana"),
        ("/busy for lunch", "for lunch"),
        ("/dnd until the release", "until the release"),
        ("/busy in 30m", "in 30m"),
        ("/busy 1e5", "1e5"),
        ("/busy 30", "30m"),
        ("/busy 5", "until 5"),
        ("/busy for 20", "/busy 20m"),
        ("/busy 1.5", "/busy 30m"),
        ("/busy 0m", "more than zero"),
        ("/busy PT0S", "more than zero"),
        ("/busy -5m", "more than zero"),
        ("/busy for -5m", "more than zero"),
        ("/busy 8 days", "7 days"),
        ("/busy 2 weeks", "7 days"),
        ("/busy 1 month", "7 days"),
        ("/busy P30D", "7 days"),
        ("/busy until yesterday 5pm", "past"),
        ("/dnd until today 9am", "past"),
        ("/dnd until 2026-03-01 9am", "past"),
        ("/dnd until 2026-03-30 9am", "7 days"),
        ("/dnd until feb 30 5pm", "feb 30"),
        ("/dnd until 25:00", "25:00"),
        ("/dnd until 13pm", "13pm"),
        ("/dnd until 5:75", "5:75"),
        ("/clear now", "now"),
        ("/reset banana", "banana"),
        ("/presence of Megan", "of Megan"),
        ("/clear status now", "now"),
    ],
)
def test_refusals_say_what_was_wrong(text: str, says: str) -> None:
    error = refused(text)
    assert says in error.message or says in (error.example or "")


@pytest.mark.parametrize(
    "text",
    [
        "/meeting",
        "in a meeting",
        "/in meeting 1h",
        "/out of office",
        "OOO",
        "/oof until friday 5pm",
        "out-of-office",
    ],
)
def test_states_only_the_calendar_can_set_are_explained(text: str) -> None:
    error = refused(text)
    assert "calendar" in error.message
    assert "/status" in error.message and "/busy" in error.message


@pytest.mark.parametrize(
    "text",
    ["/busy banana", "/status " + "x" * 281, "/busy for -5m", "/dnd until yesterday 5pm"],
)
def test_what_the_end_to_end_tests_refuse(text: str) -> None:
    refused(text)


def test_example_keeps_the_command_the_user_meant() -> None:
    assert refused("/conference banana").example == "/conference 30m"
    assert refused("/call 45").example == "/busy 45m"
    assert refused("/offline 8d").example == "/offline 7 days", "the suggestion respects the limit"


# -- status messages -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "duration"),
    [
        ("/status Out for lunch for 1h", "Out for lunch", timedelta(hours=1)),
        ("/status Out for lunch for 30 minutes", "Out for lunch", timedelta(minutes=30)),
        ("/status Out for lunch", "Out for lunch", None),
        ("/status Working until the release", "Working until the release", None),
        ("/status Back for good", "Back for good", None),
        ("/status Table for 2", "Table for 2", None),
        ("/status for lunch for 1h", "for lunch", timedelta(hours=1)),
        ("/status Out for 1 hour", "Out", timedelta(hours=1)),
        ("/status Going to 5pm meeting", "Going to 5pm meeting", None),
        ("/status Back to work to 5pm", "Back to work to 5pm", None),  # `to` is no expiry in a status
        ('/status "back in 5 minutes"', "back in 5 minutes", None),
        ('/status "Out" for 1h', "Out", timedelta(hours=1)),
        ('/status "Out for lunch" for 1h', "Out for lunch", timedelta(hours=1)),
        ("/status “Out for lunch” for 1h", "Out for lunch", timedelta(hours=1)),
        ("/status “back in 5 minutes”", "back in 5 minutes", None),
        ("/status ‘Heads down until 5pm’", "Heads down until 5pm", None),
        ("/status 'Heads down' 2h", "Heads down", timedelta(hours=2)),
        ('/status "Out" to lunch', '"Out" to lunch', None),  # not quote + expiry: all text
        ("/status 'sup for 1h", "'sup", timedelta(hours=1)),
        ("/status   Mixed CASE   and  spacing  ", "Mixed CASE   and  spacing", None),
        ("/STATUS Hello", "Hello", None),
        ("status: Reviewing PRs for 2h", "Reviewing PRs", timedelta(hours=2)),
        ("<at>Test Bot</at> /status Out &amp; about for 1h", "Out & about", timedelta(hours=1)),
        ("<p>/status Ship it 🚀 for 1h</p>", "Ship it 🚀", timedelta(hours=1)),
        ("/status Out for lunch FOR 1H", "Out for lunch", timedelta(hours=1)),
        ("/status Clear skies", "Clear skies", None),
        ("/status " + "x" * 280, "x" * 280, None),
    ],
)
def test_status_text_and_expiry(text: str, message: str, duration: timedelta | None) -> None:
    command = run(text)
    assert isinstance(command, SetStatusMessage)
    assert command.text == message
    if duration is None:
        assert command.when is None
    else:
        assert when_of(command).duration == duration
        assert when_of(command).end == NOW + duration


@pytest.mark.parametrize(
    ("text", "message", "local_end"),
    [
        ("/status In Berlin until 5pm", "In Berlin", datetime(2026, 3, 18, 17, 0)),
        ("/status Heads down until tomorrow 9am", "Heads down", datetime(2026, 3, 19, 9, 0)),
        ("/status Heads down till noon", "Heads down", datetime(2026, 3, 18, 12, 0)),
        ("/status Heads down for today", "Heads down", datetime(2026, 3, 19, 0, 0)),
        ("/status Offsite for the rest of the week", "Offsite", datetime(2026, 3, 23, 0, 0)),
    ],
)
def test_status_until_a_time(text: str, message: str, local_end: datetime) -> None:
    command = run(text, tz=NEW_YORK)
    assert isinstance(command, SetStatusMessage) and command.text == message
    assert when_of(command).end.astimezone(ZoneInfo(NEW_YORK)).replace(tzinfo=None) == local_end
    assert when_of(command).duration is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/status for 1h", "not only when it ends"),
        ('/status ""', "status message should be"),
        ("/status " + "x" * 281, "281"),
        ("/status " + "x" * 300, "280"),
        ("/status Out for 0m", "more than zero"),
        ("/status Away until yesterday 5pm", "past"),
        ("/status On leave for 2 weeks", "quotes"),
    ],
)
def test_status_refusals(text: str, says: str) -> None:
    error = refused(text)
    assert says in error.message or says in (error.example or "")


def test_a_quoted_status_keeps_every_word() -> None:
    command = run('/status "On leave for 2 weeks"')
    assert command == SetStatusMessage(text="On leave for 2 weeks")


def test_a_status_mention_of_someone_else_keeps_their_name() -> None:
    # The bot's mention is addressing; anyone else mentioned is part of what the user wants to say.
    assert run("/status Pairing with <at>Megan Bowen</at> for 1h") == SetStatusMessage(
        text="Pairing with Megan Bowen",
        when=When(end=NOW + timedelta(hours=1), duration=timedelta(hours=1), text="for 1h"),
    )


@pytest.mark.parametrize(
    ("text", "zone"),
    [
        ("/timezone Europe/Berlin", "Europe/Berlin"),
        ("timezone europe/berlin", "Europe/Berlin"),
        ("/tz America/New York", "America/New_York"),
        ("/time zone Asia/Tokyo", "Asia/Tokyo"),
        ("/timezone auto", None),
    ],
)
def test_timezone_takes_iana_names(text: str, zone: str | None) -> None:
    assert run(text) == SetTimeZone(zone=zone)


@pytest.mark.parametrize(("text", "needle"), [("/timezone Mars/Base", "Mars/Base"), ("/timezone", "IANA")])
def test_timezone_refuses_unknown_zones(text: str, needle: str) -> None:
    with pytest.raises(CommandError) as caught:
        run(text)
    assert needle in caught.value.message
    assert caught.value.example == "/timezone Europe/Berlin"


@pytest.mark.parametrize(
    ("text", "enabled"), [("/notify on", True), ("notify OFF", False), ("/notifications off", False)]
)
def test_notify_on_off(text: str, enabled: bool) -> None:
    assert run(text) == SetNotices(enabled=enabled)


def test_notify_needs_on_or_off() -> None:
    with pytest.raises(CommandError) as caught:
        run("/notify sometimes")
    assert caught.value.example == "/notify off"


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("set me to busy for 30 minutes", State.BUSY),
        ("I'm away", State.AWAY),
        ("please set my status to dnd 1h", State.DND),
        ("mark me as brb", State.BRB),
        ("busy 30m please", State.BUSY),
        ("I am busy for 30 minutes, thanks", State.BUSY),
    ],
)
def test_chat_phrasing_around_a_command(text: str, state: State) -> None:
    command = run(text)
    assert isinstance(command, SetState) and command.state is state


def test_polite_words_inside_a_status_message_are_kept() -> None:
    assert run("/status Lunch please") == SetStatusMessage(text="Lunch please")
    assert run("/status I'm busy please") == SetStatusMessage(text="I'm busy please")


def test_17h_alone_is_still_a_length() -> None:
    assert when_of(run("/busy 17h")).duration == timedelta(hours=17)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("set status to Working from home", SetStatusMessage(text="Working from home")),
        ("set my status to away from keyboard", SetStatusMessage(text="away from keyboard")),
        ("change my status message to dnd", SetStatusMessage(text="dnd")),
        ("update status to Focus time", SetStatusMessage(text="Focus time")),
    ],
)
def test_set_status_to_words_sets_the_message(text: str, expected: Command) -> None:
    assert run(text) == expected


def test_set_status_to_words_with_an_end_keeps_the_end() -> None:
    command = run("set my status to Busy with customers until 3pm", tz=NEW_YORK)
    assert isinstance(command, SetStatusMessage) and command.text == "Busy with customers"
    assert command.when is not None and command.when.end == ny(3, 18, 15)


@pytest.mark.parametrize(
    ("text", "state"),
    [("set status to busy for 30m", State.BUSY), ("set my status to be right back 10m", State.BRB)],
)
def test_set_status_to_a_presence_sets_the_presence(text: str, state: State) -> None:
    command = run(text)
    assert isinstance(command, SetState) and command.state is state and command.when is not None


def test_set_status_to_a_presence_with_a_bad_time_says_so() -> None:
    with pytest.raises(CommandError, match="needs a unit"):
        run("set status to busy 45")
    with pytest.raises(CommandError, match="calendar"):
        run("set status to in a meeting")


# -- days without a time, and whole days (issue 11) ----------------------------------------------------


def _utc(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "end"),
    [
        ("/dnd until tomorrow", _utc(3, 19)),  # the start of tomorrow: tonight's midnight
        ("/dnd until friday", _utc(3, 20)),  # Friday begins
        ("/dnd until wednesday", _utc(3, 25)),  # said on a Wednesday: next Wednesday begins
        ("/dnd until march 19", _utc(3, 19)),
        ("/dnd until next week", _utc(3, 23)),  # next week begins (Monday)
        ("/dnd tomorrow", _utc(3, 20)),  # the whole of tomorrow
        ("/dnd today", _utc(3, 19)),
        ("/dnd eod", _utc(3, 19)),
        ("/dnd until end of day", _utc(3, 19)),
        ("/dnd rest of day", _utc(3, 19)),
        ("/dnd for the rest of the day", _utc(3, 19)),
        ("/dnd this week", _utc(3, 23)),
        ("/status 🏖️ On vacation until Monday", _utc(3, 23)),
        ("/status On leave until friday", _utc(3, 20)),
    ],
)
def test_a_day_without_a_time_means_its_start_and_day_words_the_whole_day(text: str, end: datetime) -> None:
    assert when_of(run(text)).end == end


def test_the_status_text_keeps_its_words_when_a_day_ends_it() -> None:
    command = run("/status 🏖️ On vacation until Monday")
    assert isinstance(command, SetStatusMessage) and command.text == "🏖️ On vacation"


def test_next_week_as_a_whole_is_understood_and_refused_past_the_limit() -> None:
    error = refused("/dnd next week")
    assert "7 days" in error.message


@pytest.mark.parametrize(
    ("typed", "names"),
    [
        ("EST", ("America/New_York",)),
        ("est", ("America/New_York",)),
        ("CST", ("America/Chicago", "Asia/Shanghai")),
        ("IST", ("Asia/Kolkata", "Europe/Dublin", "Asia/Jerusalem")),
        ("PDT", ("America/Los_Angeles",)),
        ("CET", ("Europe/Berlin",)),
    ],
)
def test_zone_abbreviations_are_refused_with_the_zones_they_may_mean(
    typed: str, names: tuple[str, ...]
) -> None:
    error = refused(f"/timezone {typed}")
    assert "abbreviation" in error.message
    assert all(name in error.message for name in names)
    assert error.example == f"/timezone {names[0]}"


def test_utc_and_full_zone_names_are_still_zones() -> None:
    assert run("/timezone UTC") == SetTimeZone(zone="UTC")
    assert run("/timezone america/new_york") == SetTimeZone(zone="America/New_York")


@pytest.mark.parametrize(
    ("text", "state", "minutes", "message"),
    [
        ("/busy 2h Focus time", State.BUSY, 120, "Focus time"),
        ("/busy 45 minutes Design review", State.BUSY, 45, "Design review"),
        ("/away 20m back soon", State.AWAY, 20, "back soon"),
        ("/dnd Deep work for 1h", State.DND, 60, "Deep work"),
        ('/brb 10m "Coffee"', State.BRB, 10, "Coffee"),
    ],
)
def test_a_state_may_carry_a_status_message_that_ends_with_it(
    text: str, state: State, minutes: int, message: str
) -> None:
    command = run(text)
    assert isinstance(command, SetState) and command.state is state and command.message == message
    assert command.when is not None and command.when.end == NOW + timedelta(minutes=minutes)


def test_a_message_needs_a_time_to_end_with_else_the_time_is_what_is_asked_for() -> None:
    assert "length or an end time" in refused("/busy banana").message
    assert "needs a unit" in refused("/busy 30").message
    assert run("/busy 1h30m") == SetState(state=State.BUSY, when=when_of(run("/busy 1h30m")))


@pytest.mark.parametrize("text", ["/set", "/status", "/status   ", "set status", "/picker", "status picker"])
def test_the_status_picker_opens(text: str) -> None:
    assert run(text) == OpenPicker()


def test_the_pickers_apply_and_what_set_does_not_take() -> None:
    assert run("/set apply") == ApplyPicker()
    assert "takes nothing after it" in refused("/set banana").message


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("/extend", 30), ("/extend 1h", 60), ("extend by 45 minutes", 45), ("/extend for 2h", 120)],
)
def test_extend_reads_a_length_and_defaults_to_half_an_hour(text: str, minutes: int) -> None:
    assert run(text) == Extend(by=timedelta(minutes=minutes))


def test_extend_refuses_what_is_not_a_length() -> None:
    assert "length to add" in refused("/extend banana").message
