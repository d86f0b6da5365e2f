"""Colleague commands as Teams users type them: `/who`, `/watch`, `/unwatch`, `/watches`, and the
sentences people write instead ("is @Megan free?", "tell me when @Megan is back")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.commands.colleagues import AddWatch, ListWatches, Unwatch, Who
from bot.commands.model import CommandError
from bot.commands.presence import SetState, ShowPresence
from bot.commands.status import SetStatusMessage
from bot.turns.commands import parse

NOW = datetime(2026, 3, 18, 10, 0, tzinfo=UTC)
BOT = ("Test Bot",)
MEGAN, ADELE = "<at>Megan Bowen</at>", "<at>Adele Vance</at>"


def run(text: str) -> object:
    return parse(text, now=NOW, tz="Europe/Berlin", bot_names=BOT)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (f"/who {MEGAN} {ADELE}", ("Megan Bowen", "Adele Vance")),
        (f"<at>Test Bot</at> /who {MEGAN}", ("Megan Bowen",)),
        (f"/presence {MEGAN}", ("Megan Bowen",)),
        (f"is {MEGAN} free?", ("Megan Bowen",)),
        (f"are {MEGAN} and {ADELE} around?", ("Megan Bowen", "Adele Vance")),
        (f"who is {MEGAN}", ("Megan Bowen",)),
        (f"check {MEGAN}", ("Megan Bowen",)),
        ("<at>Test Bot</at> /who", ()),
        ("/who", ()),
    ],
)
def test_who_with_mentions_or_alone(text: str, names: tuple[str, ...]) -> None:
    assert run(text) == Who(names=names)


@pytest.mark.parametrize("text", ["who is free?", "who's available", "<at>Test Bot</at> /who free"])
def test_who_is_free_asks_for_the_free_members_only(text: str) -> None:
    assert run(text) == Who(free_only=True)


@pytest.mark.parametrize("text", ["/presence", "who am i", "/whoami", "/show"])
def test_your_own_presence_is_still_your_own(text: str) -> None:
    assert run(text) == ShowPresence()


def test_asking_whether_someone_is_busy_is_a_question_not_a_change() -> None:
    assert run(f"is {MEGAN} busy?") == Who(names=("Megan Bowen",))
    with pytest.raises(CommandError, match="only change your own presence"):
        run(f"/busy 30m for {MEGAN}")


@pytest.mark.parametrize(
    ("text", "back", "hours"),
    [
        (f"/watch {MEGAN}", False, None),
        (f"/watch {MEGAN} back", True, None),
        (f"tell me when {MEGAN} is free", False, None),
        (f"let me know when {MEGAN} is back", True, None),
        (f"please tell me when {MEGAN} is available again", False, None),
        (f"/watch {MEGAN} for 2h", False, 2),
        (f"/watch {MEGAN} back until 3pm", True, 4),  # 15:00 Berlin = 14:00 UTC
    ],
)
def test_watch_as_people_say_it(text: str, back: bool, hours: int | None) -> None:
    command = run(text)
    assert isinstance(command, AddWatch)
    assert command.names == ("Megan Bowen",) and command.back is back
    if hours is None:
        assert command.when is None  # the service picks the end of the working day
    else:
        assert command.when is not None and command.when.end - NOW == timedelta(hours=hours)


def test_watch_several_people_at_once() -> None:
    assert run(f"/watch {MEGAN} {ADELE}") == AddWatch(names=("Megan Bowen", "Adele Vance"))


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("/watch", "Mention who to watch"),
        ("/watch Megan", "Mention who to watch"),  # typed, not mentioned: no one to look up
        (f"/watch {MEGAN} soonish", "“soonish”"),
        (f"/watch {MEGAN} until yesterday 9am", "past"),
        ("/unwatch", "whom to stop watching"),
        ("/who @Megan", "came as plain text, not as a mention"),
        ("is Megan free?", "Mention Megan (type @"),
        (f"/unwatch {MEGAN} please later", "“later”"),
        (f"/who {MEGAN} tomorrow", "“tomorrow”"),
    ],
)
def test_colleague_commands_refused_with_what_to_do(text: str, says: str) -> None:
    with pytest.raises(CommandError) as caught:
        run(text)
    assert says in caught.value.message
    assert caught.value.example and caught.value.example.startswith("/")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"/unwatch {MEGAN}", Unwatch(names=("Megan Bowen",))),
        (f"stop watching {MEGAN}", Unwatch(names=("Megan Bowen",))),
        ("/unwatch all", Unwatch(everyone=True)),
        ("cancel all watches", Unwatch(everyone=True)),
        ("/unwatch #42", Unwatch(watch_id=42)),
        ("/watches", ListWatches()),
        ("my watches", ListWatches()),
        ("/watching", ListWatches()),
    ],
)
def test_unwatch_and_watches(text: str, expected: object) -> None:
    assert run(text) == expected


def test_a_state_command_is_untouched_by_the_colleague_words() -> None:
    assert isinstance(run("/busy 30m"), SetState)
    assert run("/status Watching the build") == SetStatusMessage(text="Watching the build")
