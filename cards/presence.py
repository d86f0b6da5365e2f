"""The presence card (what Teams shows, what the bot just did, why they differ) and proactive notices."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.core.states import Layer, icon
from bot.core.views import Outcome, PresenceSnapshot, PresenceView
from cards.elements import (
    Card,
    Element,
    card,
    command_action,
    container,
    owner_data,
    refresh,
    sentence,
    text,
)
from cards.icons import labelled
from cards.times import UserTimes, is_open_ended

REFRESH_COMMAND = "/presence"

# (button title, chat command). A card offers what fits the state it shows: the two likeliest next states,
# then, for a state the bot holds, Extend and End now, Clear status message when there is one, Refresh.
BUSY = ("Busy 30m", "/busy 30m")
DND = ("Do not disturb 1h", "/dnd 1h")
AVAILABLE = ("Available", "/available")
NEXT_STATES: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "available": (BUSY, DND),
    "availableidle": (BUSY, DND),
    "busy": (DND, AVAILABLE),
    "busyidle": (DND, AVAILABLE),
    "donotdisturb": (BUSY, AVAILABLE),
}
OTHERWISE = (AVAILABLE, BUSY)  # Away, Be right back, Offline, unknown
MAX_BUTTONS = 6  # what Teams shows on one card without folding them

# Behind the card's "Why?": how the state was set, in a sentence a person can follow.
_LAYER_WORDS: dict[Layer, str] = {
    Layer.SESSION: "The bot set this on its own presence session, which Teams ranks with your other "
    "sessions (Do not disturb > Busy > Available > Away).",
    Layer.PREFERRED: "The bot set this as your picked status, like choosing it in Teams: it shows over "
    "anything apps set while you're signed in to Teams.",
}
WHY_ID = "why"
HEADLINE_ID = "headline"  # the icon and label: what Teams shows


def presence_card(
    view: PresenceView, *, refresh_user_ids: Sequence[str] | None = None, owner: str | None = None
) -> Card:
    """The user's presence as Teams shows it, what the command did and until when, and quick actions.

    `refresh_user_ids` (Teams user ids, "29:…") makes Teams re-run /presence when those users open the
    card, so it never shows a stale state; without it (or with an empty list) there is no `refresh`.
    `owner` (the user's id, in group chats and channels) goes with every button, so a press by someone
    else changes the presser's presence and leaves this card showing its owner.
    """
    return card(
        _presence_body(view),
        fallback_text=presence_fallback(view),
        actions=quick_actions(view, owner, view.user_name),
        refresh=refresh(REFRESH_COMMAND, refresh_user_ids or ()),
    )


def notice_card(title: str, message: str, view: PresenceView | None = None) -> Card:
    """A message the bot sends on its own (a hold ended, Teams overrode it, a scheduled change failed),
    followed by the user's presence and the quick actions when `view` is given.

    Never carries `refresh`: refreshing would replace the notice with a plain presence card.
    """
    body: list[Element] = [text(title, size="medium", bold=True), text(message, spacing="small")]
    lines = [f"{sentence(title)} {message}"]
    if view is None:
        return card(body, fallback_text="\n".join(lines))
    body.append(container(_presence_body(view), spacing="medium", separator=True))
    lines.append(_presence_line(view, _ZoneOnce(UserTimes(view.now, view.time_zone))))
    return card(body, fallback_text="\n".join(lines), actions=quick_actions(view))


def quick_actions(
    view: PresenceView, owner: str | None = None, owner_name: str | None = None
) -> list[Element]:
    """The buttons for the state the card shows (see `NEXT_STATES`)."""
    buttons = list(NEXT_STATES.get(view.presence.availability.lower(), OTHERWISE))
    outcome = view.outcome
    if outcome is not None and outcome.layer is not None and outcome.requested_end is not None:
        end_now = "/clear" if outcome.layer is Layer.SESSION else "/reset"
        buttons += [("Extend 30 min", "/extend 30m"), ("End now", end_now)]
    if view.presence.status_message:
        buttons.append(("Clear status message", "/status clear"))
    buttons.append(("Refresh", REFRESH_COMMAND))
    if len(buttons) > MAX_BUTTONS:  # Refresh stays, last
        buttons = [*buttons[: MAX_BUTTONS - 1], buttons[-1]]
    extra = owner_data(owner, owner_name)
    return [command_action(title, command, extra) for title, command in buttons]


def presence_fallback(view: PresenceView) -> str:
    """One or two plain lines: what Teams shows and until when, then why it differs or when it lapses.

    "Teams shows you as In a call until 5:30 PM (Europe/Berlin). Status: Out for lunch."
    """
    times = _ZoneOnce(UserTimes(view.now, view.time_zone))
    lines = [_presence_line(view, times)]
    outcome = view.outcome
    if view.explanation:
        lines.append(view.explanation)
    elif outcome is not None and (lapse := _lapse_sentence(outcome, times.times)):
        lines.append(lapse)
    return "\n".join(lines)


# -- pieces ---------------------------------------------------------------------------------------


def _presence_body(view: PresenceView) -> list[Element]:
    """Headline, why it differs (as a warning), what the command did, and the zone the times are in."""
    times = UserTimes(view.now, view.time_zone)
    body = _headline(view.presence, view.user_name, times)
    if view.explanation:
        body.append(container([text(view.explanation)], style="warning", spacing="medium"))
    if view.outcome is not None:
        body.append(
            container(_outcome(view.outcome, view.presence.label, times), spacing="medium", separator=True)
        )
    body.append(_zone_footer(view, times))
    return body


def _headline(presence: PresenceSnapshot, user_name: str | None, times: UserTimes) -> list[Element]:
    """Whose presence, Teams' icon and the label as Teams names it, and the status message."""
    items: list[Element] = [
        text(user_name or "Your presence", size="small", subtle=True),
        labelled(icon(presence.availability, presence.activity), presence.label, element_id=HEADLINE_ID),
    ]
    if presence.status_message:
        items.append(text(f"“{presence.status_message}”", spacing="small"))
        if presence.status_expires and not is_open_ended(presence.status_expires):
            items.append(
                text(
                    f"Status message {times.until(presence.status_expires)}",
                    size="small",
                    subtle=True,
                    spacing="none",
                )
            )
    return items


def _outcome(outcome: Outcome, shown_label: str, times: UserTimes) -> list[Element]:
    """The command's summary, until when and on which layer, when it really lapses, and its caveats.

    When Teams shows what was asked, the heading already names the state: one sentence says it was set
    and until when ("Set until 5:30 PM."), instead of repeating the state under its own heading."""
    end = (
        outcome.requested_end if outcome.requested_end and not is_open_ended(outcome.requested_end) else None
    )
    items: list[Element]
    plain_set = outcome.label is not None and outcome.summary == f"Set to {outcome.label}."
    if end is not None and plain_set and (outcome.label or "").casefold() == shown_label.casefold():
        items = [text(f"Set {times.until(end)}.", bold=True)]
    else:
        items = [text(outcome.summary, bold=True)]
        if end is not None:
            items.append(text(_capitalize(times.until(end)) + ".", spacing="small"))
    lapse = _lapse_sentence(outcome, times)
    if lapse:
        # A warning box, not warning-coloured text: Teams' yellow text is hard to read on white.
        items.append(container([text(lapse)], style="warning", spacing="small"))
    layer = [_LAYER_WORDS[outcome.layer]] if outcome.layer is not None else []
    why = layer + [f"• {note}" for note in outcome.notes]
    if why:
        # The explanations (layers, Graph's limits, fades) folded behind "Why?": one plain line above.
        items.append(
            {
                "type": "ActionSet",
                "spacing": "small",
                "actions": [{"type": "Action.ToggleVisibility", "title": "Why?", "targetElements": [WHY_ID]}],
            }
        )
        hidden = container(
            [text(line, size="small", subtle=True, spacing="small") for line in why], spacing="small"
        )
        items.append({**hidden, "id": WHY_ID, "isVisible": False})
    return items


def _lapse_sentence(outcome: Outcome, times: UserTimes) -> str | None:
    """Said plainly when Graph lets the state go before the time the user asked for."""
    if outcome.lapses_at is None or outcome.lapses_at == outcome.requested_end:
        return None
    return f"Graph will let this lapse {times.at(outcome.lapses_at)} unless the bot refreshes it."


def _zone_footer(view: PresenceView, times: UserTimes) -> Element:
    shown = _shows_times(view)
    label = f"Times in {times.zone}" if shown else f"Your time zone: {times.zone}"
    return text(label, size="small", subtle=True, spacing="medium")


def _shows_times(view: PresenceView) -> bool:
    instants = [view.presence.status_expires if view.presence.status_message else None]
    if view.outcome is not None:
        instants += [view.outcome.requested_end, view.outcome.lapses_at]
    return any(dt is not None and not is_open_ended(dt) for dt in instants)


class _ZoneOnce:
    """Formats "until …" for fallback text, naming the zone after the first time only."""

    def __init__(self, times: UserTimes) -> None:
        self.times = times
        self._named = False

    def until(self, dt: datetime) -> str:
        phrase = self.times.until(dt)
        if not self._named:
            self._named = True
            phrase += f" ({self.times.zone})"
        return phrase


def _presence_line(view: PresenceView, times: _ZoneOnce) -> str:
    presence, outcome = view.presence, view.outcome
    shown = f"Teams shows you as {presence.label}"
    if outcome is None:
        line = f"{shown}."
    elif outcome.label is None:  # a status message or reset: the summary says it all
        line = f"{sentence(outcome.summary)} {shown}."
    else:
        end = outcome.requested_end
        until = f" {times.until(end)}" if end is not None and not is_open_ended(end) else ""
        if outcome.label.casefold() == presence.label.casefold():
            line = f"{shown}{until}."
        else:
            line = f"Set to {outcome.label}{until}; {shown}."
    if presence.status_message:
        expires = presence.status_expires
        status_until = f", {times.until(expires)}" if expires and not is_open_ended(expires) else ""
        line += " Status: " + sentence(presence.status_message + status_until)
    return line


def _capitalize(value: str) -> str:
    return value[:1].upper() + value[1:]
