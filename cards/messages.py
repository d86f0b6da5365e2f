"""The cards that explain rather than report: errors, help and the welcome on install."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.catalog import WHEN_HELP
from bot.core.views import CommandDoc, ErrorView, HelpView, MissView, WelcomeView
from bot.core.words import spoken_list
from cards.elements import Card, Element, card, command_action, container, sentence, text

# The welcome card's examples: one of each kind a new user is most likely to want first.


def error_card(view: ErrorView) -> Card:
    """What went wrong (in attention colour), what to do, and an example to copy, also as a button that
    runs it (when it is a whole command)."""
    body: list[Element] = [
        text(view.title, color="attention", size="medium", bold=True),
        text(view.message, spacing="small"),
    ]
    if view.hint:
        body.append(text(view.hint, spacing="medium"))
    if view.example:
        body.append(
            container(
                [text("Try:", size="small", subtle=True), text(view.example, monospace=True, spacing="none")],
                style="emphasis",
                spacing="medium",
            )
        )
    # A mention can't ride in a button: an example naming someone (`/watch @Megan`) is shown, not run.
    runnable = (
        view.example is not None
        and view.example.startswith("/")
        and "<" not in view.example
        and "@" not in view.example
    )
    actions = [command_action(f"Try {view.example}", view.example)] if runnable and view.example else []
    return card(body, fallback_text=error_fallback(view), actions=actions)


def help_card(view: HelpView) -> Card:
    """Every command with its usage, what it does and examples, then how to say [when]."""
    body: list[Element] = []
    if view.intro:
        body.append(text(view.intro, bold=True))
    body.append(text("What I can do", size="medium", bold=True, spacing="medium" if view.intro else None))
    body.extend(_command_entry(doc) for doc in view.commands)
    body.append(text(WHEN_HELP, size="small", subtle=True, spacing="medium", separator=True))
    return card(body, fallback_text=help_fallback(view))


def miss_card(view: MissView) -> Card:
    """A message that is not a command: "Did you mean /busy 30m?" with it as a button, or else a short
    help: the most used commands and a button for all of them."""
    if view.suggestion:
        body: list[Element] = [
            text(f"Did you mean {view.suggestion}?", size="medium", bold=True),
        ]
        if view.unknown:
            body.append(text(f"I didn't understand “{view.unknown}”.", subtle=True, spacing="small"))
        actions = [command_action(view.suggestion, view.suggestion), command_action("All commands", "/help")]
        fallback = f"Did you mean {view.suggestion}? Send /help for every command."
        return card(body, fallback_text=fallback, actions=actions)
    intro = f"I didn't understand “{view.unknown}”." if view.unknown else "Here is what I can do."
    body = [
        text(intro, bold=True),
        text("The commands people use most:", spacing="small"),
        *(_command_entry(doc) for doc in view.commands),
    ]
    names = ", ".join(doc.usage.split()[0] for doc in view.commands)
    fallback = f"{intro}\nTry {names}; /help lists every command."
    return card(body, fallback_text=fallback, actions=[command_action("More commands", "/help")])


def welcome_card(view: WelcomeView) -> Card:
    """A greeting, what the bot does in a paragraph, three commands to try (as buttons), and the picker,
    presence and help buttons."""
    greeting = f"Hi {view.user_name}, I'm Presence Bot" if view.user_name else "Hi, I'm Presence Bot"
    body: list[Element] = [
        text(greeting, size="large", bold=True),
        text(
            "I set your Teams presence and status message for you through Microsoft Graph: In a call "
            "for a focus block, Do not disturb until tomorrow morning, a status message that clears "
            "itself. Times are in your time zone, and I tell you plainly when Teams shows something "
            "other than what you asked for.",
            spacing="small",
        ),
        *(
            [
                text(
                    "/who ‹@name› shows a colleague's presence; /watch ‹@name› and I tell you when "
                    "they're free.",
                    spacing="small",
                )
            ]
            if any(doc.name == "who" for doc in view.commands)
            else []
        ),
        text("Try:", bold=True, spacing="medium"),
        # The examples are buttons: a press runs them, as in the help card's "Try" and "Did you mean".
        {
            "type": "ActionSet",
            "spacing": "small",
            "actions": [command_action(example, example) for example in welcome_examples(view.tries)],
        },
    ]
    actions = [
        command_action("Set status", "/set"),
        command_action("Show my presence", "/presence"),
        command_action("Help", "/help"),
    ]
    return card(body, fallback_text=welcome_fallback(view), actions=actions)


def welcome_examples(tries: Sequence[CommandDoc]) -> list[str]:
    """At most three example commands: the first example of each command offered to try."""
    return [doc.examples[0] for doc in tries if doc.examples][:3]


# -- fallback text ------------------------------------------------------------------------------


def error_fallback(view: ErrorView) -> str:
    second = " ".join(part for part in (view.hint, f"Try: {view.example}" if view.example else None) if part)
    return "\n".join(line for line in (f"{sentence(view.title)} {view.message}", second) if line)


def help_fallback(view: HelpView) -> str:
    names = ", ".join(doc.usage.split()[0] for doc in view.commands if doc.usage.strip())
    return "\n".join(line for line in (view.intro, f"Commands: {names}.") if line)


def welcome_fallback(view: WelcomeView) -> str:
    greeting = f"Hi {view.user_name}, I'm Presence Bot" if view.user_name else "Hi, I'm Presence Bot"
    examples = welcome_examples(view.tries)
    tries = f"Try {spoken_list(examples, 'or')}; /help lists every command." if examples else "Send /help."
    return f"{greeting}: I set your Teams presence and status message.\n{tries}"


def teams_safe(usage: str) -> str:
    """Usage text Teams shows as written: it reads `<text>` in a card as an HTML tag and drops it, so
    placeholders are written with single angle quotation marks (`/status ‹text›`)."""
    return usage.replace("<", "‹").replace(">", "›")


def _command_entry(doc: CommandDoc) -> Element:
    items = [
        text(teams_safe(doc.usage), monospace=True, bold=True),
        text(doc.description, spacing="none"),
    ]
    if doc.examples:
        items.append(
            text(" · ".join(doc.examples), monospace=True, size="small", subtle=True, spacing="none")
        )
    return container(items, spacing="medium")
