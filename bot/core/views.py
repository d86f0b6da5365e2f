"""View models: what the service tells the cards. Plain data, no Graph or botbuilder types."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict

from bot.core.states import Layer, Tone


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class PresenceSnapshot(_View):
    """The user's presence as Graph reports it."""

    availability: str
    activity: str
    label: str  # as Teams names it: "In a call", "Do not disturb"…
    tone: Tone
    status_message: str | None = None
    status_expires: AwareDatetime | None = None


class Outcome(_View):
    """What this command did."""

    summary: str  # one sentence: "Set to In a call." / "Cleared the bot's presence session."
    label: str | None = None  # the state asked for, as Teams names it
    layer: Layer | None = None
    requested_end: AwareDatetime | None = None  # what the user asked for
    lapses_at: AwareDatetime | None = None  # when Graph will actually let it go, if earlier/different
    notes: tuple[str, ...] = ()  # truthful caveats: minimum raised, fade, 4-hour cap…


class PresenceView(_View):
    """Everything the presence card shows."""

    user_name: str | None = None
    presence: PresenceSnapshot
    outcome: Outcome | None = None
    explanation: str | None = None  # why the shown presence differs from what was asked
    time_zone: str  # IANA name all times are shown in
    now: AwareDatetime


class ErrorView(_View):
    """A refused command or a failed Graph call: what went wrong and what to do."""

    title: str
    message: str
    hint: str | None = None
    example: str | None = None


class CommandDoc(_View):
    name: str  # "busy"
    usage: str  # "/busy [when]"
    description: str  # one line
    examples: tuple[str, ...] = ()


class HelpView(_View):
    intro: str | None = None  # e.g. "I didn't understand “lunch”."
    commands: tuple[CommandDoc, ...]


class MissView(_View):
    """A message that is not a command: a likely correction, or the most used commands."""

    unknown: str | None = None  # the word not understood
    suggestion: str | None = None  # "/busy 30m" for "/bsy 30m"
    commands: tuple[CommandDoc, ...]  # the few shown when there is no suggestion


class WelcomeView(_View):
    user_name: str | None = None
    commands: tuple[CommandDoc, ...]
    tries: tuple[CommandDoc, ...] = ()  # the commands whose first example the card offers to press


class Notice(_View):
    """A short message card: a preference changed, a held state ended…"""

    title: str
    message: str


class ColleagueView(_View):
    """A colleague's presence as Teams shows it to others (what getPresencesByUserId reads)."""

    name: str
    availability: str
    activity: str
    label: str  # as Teams names it
    status_message: str | None = None
    out_of_office: bool = False
    out_of_office_message: str | None = None
    chat_url: str | None = None  # Teams' deep link to a 1:1 chat with them, when their sign-in name is known


class WhoView(_View):
    """`/who`: the people asked about, or the members of the chat (at most a limit, with the rest counted)."""

    heading: str
    people: tuple[ColleagueView, ...]
    more: int = 0  # members not shown
    more_uncounted: bool = False  # and possibly more: the roster was not read to its end
    not_found: tuple[str, ...] = ()  # sentences about mentioned people who could not be shown


class WatchView(_View):
    """`/watch`: what the bot now waits for (or that it need not: they are free already)."""

    person: ColleagueView
    back: bool  # waiting for "back" (no longer away or offline), else for Available
    watch_id: int | None  # None: no watch was needed, the person is already what was asked
    ends_at: AwareDatetime | None = None
    extended: bool = False  # an existing watch of the same person got the new end
    time_zone: str
    now: AwareDatetime


class WatchLine(_View):
    watch_id: int
    name: str
    back: bool
    ends_at: AwareDatetime


class WatchesView(_View):
    """`/watches` (and the answer to `/unwatch`): the watches the user still has."""

    watches: tuple[WatchLine, ...]
    cap: int
    time_zone: str
    now: AwareDatetime
    title: str | None = None  # what the command just did: "Stopped watching Megan Bowen."
