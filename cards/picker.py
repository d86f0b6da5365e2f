"""The status picker card: Teams' own picker in a card (`/set`, `/status` alone, the welcome's "Set
status"). One Apply (`Action.Execute`, `/set apply`); Teams sends the inputs' values with it."""

from __future__ import annotations

from bot.core.states import STATES, STATUS_MESSAGE_MAX, State
from cards.elements import Card, Element, card, command_action, text

PICKER_APPLY = "/set apply"

# Teams' picker's availabilities, then the bot's session states; (title, value): the state's label as
# Teams names it, and its command word (`bot.core.states.State`).
PICKED = (
    State.AVAILABLE,
    State.BUSY_PICKED,
    State.DND,
    State.BRB,
    State.AWAY,
    State.OFFLINE,
    State.BUSY,
    State.PRESENTING,
)
AVAILABILITY_CHOICES: tuple[tuple[str, str], ...] = tuple((STATES[s].label, s.value) for s in PICKED)
DURATION_CHOICES: tuple[tuple[str, str], ...] = (
    ("30 minutes", "30m"),
    ("1 hour", "1h"),
    ("2 hours", "2h"),
    ("Today", "today"),
    ("This week", "this week"),
    ("Custom (below)", "custom"),
)
CLEAR_CHOICES: tuple[tuple[str, str], ...] = (
    ("With my status", "same"),
    ("Never", "never"),
    ("1 hour", "1h"),
    ("4 hours", "4h"),
    ("Today", "today"),
    ("This week", "this week"),
)


COLLEAGUES_TIP = "Colleagues: /who ‹@name› shows their presence; /watch ‹@name› tells you when they're free."


def _choices(id_: str, label: str, choices: tuple[tuple[str, str], ...], value: str) -> Element:
    return {
        "type": "Input.ChoiceSet",
        "id": id_,
        "label": label,
        "style": "compact",
        "isRequired": True,
        "errorMessage": f"Pick {label.lower()}.",
        "value": value,
        "choices": [{"title": title, "value": choice} for title, choice in choices],
    }


def picker_card(*, colleagues: bool = True) -> Card:
    """Availability, for how long, an optional status message and when it clears, and one Apply; then,
    unless an admin turned them off, where to see colleagues' presence."""
    body: list[Element] = [
        text("Set your status", size="medium", bold=True),
        _choices("availability", "Availability", AVAILABILITY_CHOICES, "busy picked"),
        _choices("duration", "For", DURATION_CHOICES, "1h"),
        {
            "type": "Input.Text",
            "id": "custom",
            "label": "Custom length or end (when “Custom” is picked)",
            "placeholder": "45m, until 5pm, until Monday",
            "maxLength": 100,
        },
        {
            "type": "Input.Text",
            "id": "message",
            "label": "Status message (optional)",
            "placeholder": "Focus time",
            "maxLength": STATUS_MESSAGE_MAX,
        },
        _choices("clear", "Clear the message", CLEAR_CHOICES, "same"),
    ]
    if colleagues:
        body.append(text(COLLEAGUES_TIP, size="small", subtle=True, spacing="medium"))
    return card(
        body,
        fallback_text="Set your status: pick an availability, for how long, and a status message.",
        actions=[command_action("Apply", PICKER_APPLY)],
    )
