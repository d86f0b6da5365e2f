"""Every command, described once: the help card, the welcome card and the Teams manifest's
`commandLists` all read this table, so help text cannot drift from behaviour."""

from __future__ import annotations

from bot.core.views import CommandDoc

COMMANDS: tuple[CommandDoc, ...] = (
    CommandDoc(
        name="available",
        usage="/available [when]",
        description="Show as Available (set on the bot's session).",
        examples=("/available 30m", "/available until 5pm"),
    ),
    CommandDoc(
        name="busy",
        usage="/busy [when]",
        description="Show as Busy, in a call (also /call); /busy picked sets Teams' own Busy instead.",
        examples=("/busy 30m", "/busy until 17:30", "/busy 2h Focus time"),
    ),
    CommandDoc(
        name="conference",
        usage="/conference [when]",
        description="Show as Busy, in a conference call.",
        examples=("/conference 1h",),
    ),
    CommandDoc(
        name="away",
        usage="/away [when]",
        description="Appear away, as if picked in Teams (it shows even while Teams is open).",
        examples=("/away 15 minutes",),
    ),
    CommandDoc(
        name="presenting",
        usage="/presenting [when]",
        description="Show as Presenting (do not disturb).",
        examples=("/presenting 45m",),
    ),
    CommandDoc(
        name="dnd",
        usage="/dnd [when]",
        description="Do not disturb, as if picked in Teams.",
        examples=("/dnd 1h", "/dnd until tomorrow 9am"),
    ),
    CommandDoc(
        name="brb",
        usage="/brb [when]",
        description="Be right back, as if picked in Teams.",
        examples=("/brb 10m",),
    ),
    CommandDoc(
        name="offline",
        usage="/offline [when]",
        description="Appear offline, as if picked in Teams.",
        examples=("/offline until 6pm",),
    ),
    CommandDoc(
        name="extend",
        usage="/extend [length]",
        description="Keep the status the bot holds for you longer (30 minutes unless you say).",
        examples=("/extend", "/extend 1h"),
    ),
    CommandDoc(
        name="clear",
        usage="/clear",
        description="End the bot's presence session (your status picker choice stays).",
        examples=("/clear",),
    ),
    CommandDoc(
        name="reset",
        usage="/reset",
        description="Back to automatic: ends the bot's session and your picked status.",
        examples=("/reset",),
    ),
    CommandDoc(
        name="status",
        usage="/status <text> [for D | until T]",
        description="Set your status message, optionally until a time; /status clear removes it.",
        examples=("/status Out for lunch for 1h", '/status "back in 5 minutes"', "/status clear"),
    ),
    CommandDoc(
        name="set",
        usage="/set",
        description="Open a status picker card, like Teams' own (also /status alone).",
        examples=("/set",),
    ),
    CommandDoc(
        name="presence",
        usage="/presence",
        description="Show your current presence (also /whoami, /show).",
        examples=("/presence",),
    ),
    CommandDoc(
        name="who",
        usage="/who @person…",
        description="Colleagues' presence, status and out-of-office messages; alone in a group chat: "
        "everyone there (“who is free?”: the free).",
        examples=("/who @Megan @Adele", "/who"),
    ),
    CommandDoc(
        name="watch",
        usage="/watch @person [back] [until T]",
        description="I message you once when they are free (or back, with “back”); until the end of "
        "your working day unless you say.",
        examples=("/watch @Megan", "/watch @Megan back until 5pm"),
    ),
    CommandDoc(
        name="unwatch",
        usage="/unwatch @person | all",
        description="Stop watching someone, or everyone; /watches lists whom you watch.",
        examples=("/unwatch @Megan", "/unwatch all", "/watches"),
    ),
    CommandDoc(
        name="timezone",
        usage="/timezone <IANA name>",
        description="Set the time zone for “until …” and card times; /timezone auto follows Teams.",
        examples=("/timezone Europe/Berlin", "/timezone auto"),
    ),
    CommandDoc(
        name="notify",
        usage="/notify on|off",
        description="Whether I message you when a held status ends, is overridden or fails.",
        examples=("/notify off",),
    ),
    CommandDoc(
        name="help",
        usage="/help",
        description="List the commands.",
        examples=("/help",),
    ),
)

# The commands about colleagues, which an admin can turn off (PRESENCE_BOT_COLLEAGUES=off).
COLLEAGUES: frozenset[str] = frozenset({"who", "watch", "unwatch"})


def offered(*, colleagues: bool) -> tuple[CommandDoc, ...]:
    """The commands help and welcome cards offer: all, or all but /who and /watch when turned off."""
    return COMMANDS if colleagues else tuple(doc for doc in COMMANDS if doc.name not in COLLEAGUES)


# What a short help card lists (a message that is not a command), in this order.
MOST_USED: tuple[str, ...] = ("busy", "dnd", "available", "status", "presence")


def most_used() -> tuple[CommandDoc, ...]:
    by_name = {doc.name: doc for doc in COMMANDS}
    return tuple(by_name[name] for name in MOST_USED if name in by_name)


WHEN_HELP = (
    "[when] is a length (30m, 1h30m, 90 minutes, 2 hours, for 45 min, PT30M), an end time "
    "(until 5pm, until 17:30, until tomorrow 9am, until Monday) or a day (today, rest of day, tomorrow, "
    "this week) in your time zone."
)
