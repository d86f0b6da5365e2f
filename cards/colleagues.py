"""Cards about colleagues: `/who` (each person with Teams' icon, label, status and out-of-office
message), `/watch` and `/watches`, and the notice when a watched person is free or back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from bot.core.states import Icon, icon
from bot.core.views import ColleagueView, WatchesView, WatchView, WhoView
from cards.elements import Card, Element, card, command_action, container, owner_data, text
from cards.icons import labelled
from cards.times import UserTimes

WATCHES_COMMAND = "/watches"
# What a watch card's buttons say they were pressed on: a press by someone other than its owner (in a
# shared chat) is answered in place with the owner's watches, and the presser's result as a message.
OWNER_CARD = "watches"


class Owner(NamedTuple):
    """Whose card it is, in a group chat or channel: their id and the name the card calls them."""

    user_id: str
    name: str


def _extra(owner: Owner | None) -> dict[str, str] | None:
    return owner_data(owner.user_id, owner.name, OWNER_CARD) if owner else None


def who_card(view: WhoView) -> Card:
    """One row per person: name, Teams' icon and label, status message, out-of-office message."""
    body: list[Element] = [text(view.heading, size="medium", bold=True)]
    body += [
        container(person_rows(person), spacing="medium", separator=i > 0)
        for i, person in enumerate(view.people)
    ]
    if view.more or view.more_uncounted:
        rest = f"and {view.more} more" if view.more else "and more"
        body.append(text(f"…{rest} not shown: mention whom you want to see.", size="small", subtle=True))
    for sentence in view.not_found:
        body.append(text(sentence, size="small", color="attention", spacing="small"))
    lines = [f"{p.name}: {_person_line(p)}" for p in view.people]
    summary = "; ".join(lines) if lines else view.heading
    extra = ([f"({view.more} more)"] if view.more else []) + list(view.not_found)
    return card(body, fallback_text="\n".join(part for part in (summary, " ".join(extra)) if part))


def person_rows(person: ColleagueView) -> list[Element]:
    """A colleague as Teams shows them to others: name, icon and label, and their messages."""
    rows: list[Element] = [
        text(person.name, bold=True),
        labelled(_icon(person), _label(person), size="default"),
    ]
    if person.status_message:
        rows.append(text(f"“{person.status_message}”", spacing="small"))
    if person.out_of_office_message:
        rows.append(
            text(f"Out of office: {person.out_of_office_message}", size="small", subtle=True, spacing="small")
        )
    return rows


def watch_card(views: Sequence[WatchView], *, owner: Owner | None = None) -> Card:
    """The answer to `/watch`: for each person, what the bot now waits for and until when (or that they
    are free already), with their presence now. `owner` (in group chats and channels) rides with the
    buttons, so a press by someone else leaves this card its owner's (`OWNER_CARD`)."""
    body: list[Element] = []
    lines: list[str] = []
    for i, view in enumerate(views):
        times = UserTimes(view.now, view.time_zone)
        what = "back" if view.back else "free"
        if view.watch_id is None:
            headline = f"{view.person.name} is {what} now"
            detail = "No need to watch: message them now."
        else:
            headline = f"I'll tell you when {view.person.name} is {what}"
            verb = "Now watching" if not view.extended else "Still watching"
            detail = f"{verb} {times.until(view.ends_at)}; I message you here once." if view.ends_at else ""
        items: list[Element] = [text(headline, size="medium", bold=True), text(detail, spacing="small")]
        items.append(container(person_rows(view.person), spacing="small"))
        body.append(container(items, spacing="medium", separator=i > 0))
        lines.append(f"{headline}. {detail}")
    actions: list[Element] = []
    if len(views) == 1 and views[0].person.chat_url and views[0].watch_id is None:
        actions.append(open_chat(views[0].person))
    if len(views) == 1 and views[0].watch_id is not None:
        actions.append(command_action("Stop watching", f"/unwatch #{views[0].watch_id}", _extra(owner)))
    if any(view.watch_id is not None for view in views):
        actions.append(command_action("My watches", WATCHES_COMMAND, _extra(owner)))
    return card(body, fallback_text=" ".join(lines[:2]), actions=actions)


def watches_card(view: WatchesView, *, owner: Owner | None = None) -> Card:
    """`/watches` (and `/unwatch`): each watch with its end and a Stop button; Stop all. In a shared
    chat (`owner` given) the card names whose watches they are, and its buttons carry the owner."""
    times = UserTimes(view.now, view.time_zone)
    body: list[Element] = []
    if view.title:
        body.append(text(view.title, bold=True))
    who, verb = (owner.name, "watches") if owner is not None else ("You", "watch")
    count = f"{len(view.watches)} of at most {view.cap} people" if view.watches else "no one"
    heading = f"{who} {verb} {count}"
    body.append(text(heading, size="medium", bold=True, spacing="medium" if view.title else None))
    for line in view.watches:
        what = "back" if line.back else "free"
        body.append(
            {
                "type": "ColumnSet",
                "spacing": "small",
                "columns": [
                    {
                        "type": "Column",
                        "width": "stretch",
                        "verticalContentAlignment": "center",
                        "items": [text(f"{line.name}: when {what}, {times.until(line.ends_at)}")],
                    },
                    {
                        "type": "Column",
                        "width": "auto",
                        "items": [
                            {
                                "type": "ActionSet",
                                "actions": [
                                    command_action("Stop", f"/unwatch #{line.watch_id}", _extra(owner))
                                ],
                            }
                        ],
                    },
                ],
            }
        )
    if not view.watches:
        body.append(text("/watch @name tells you once when someone is free.", spacing="small"))
    actions = [command_action("Stop all", "/unwatch all", _extra(owner))] if len(view.watches) > 1 else []
    names = ", ".join(line.name for line in view.watches)
    summary = f"{heading}: {names}." if names else f"{heading}."
    return card(body, fallback_text=" ".join(part for part in (view.title, summary) if part), actions=actions)


def watch_notice_card(person: ColleagueView, *, back: bool) -> Card:
    """Sent once, in the chat the watch was asked from, when the watched person is free (or back)."""
    what = "back" if back else "free"
    title = f"{person.name} is {what}"
    body: list[Element] = [
        text(title, size="medium", bold=True),
        container(person_rows(person), spacing="small"),
    ]
    actions = [open_chat(person)] if person.chat_url else []
    return card(body, fallback_text=f"{title}: {_person_line(person)}.", actions=actions)


def watch_ended_card(name: str, *, back: bool, ended: str) -> Card:
    """Sent when a watch reaches its end without the person becoming free (or back)."""
    what = "back" if back else "free"
    message = f"{name} wasn't {what} {ended}, so I stopped watching."
    body: list[Element] = [text("Watch ended", size="medium", bold=True), text(message, spacing="small")]
    return card(body, fallback_text=f"Watch ended. {message}")


def open_chat(person: ColleagueView) -> Element:
    first = person.name.split()[0] if person.name.strip() else "them"
    return {"type": "Action.OpenUrl", "title": f"Chat with {first}", "url": person.chat_url}


def _icon(person: ColleagueView) -> Icon:
    return Icon.OUT_OF_OFFICE if person.out_of_office else icon(person.availability, person.activity)


def _label(person: ColleagueView) -> str:
    """Teams' label; "Busy, out of office" when automatic replies are on beside another state."""
    if person.out_of_office and person.label.casefold() != "out of office":
        return f"{person.label}, out of office"
    return person.label


def _person_line(person: ColleagueView) -> str:
    parts = [_label(person)]
    if person.status_message:
        parts.append(f"“{person.status_message}”")
    if person.out_of_office_message:
        parts.append(f"out of office: {person.out_of_office_message}")
    return " ".join(parts)
