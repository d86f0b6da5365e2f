"""Every failure a user can meet, as an `ErrorView`: what went wrong and what to do.

Never the exception's own text: Graph's messages are for developers, ours are for people.
"""

from __future__ import annotations

from bot.commands.model import CommandError
from bot.core.views import ErrorView
from bot.graph.auth import TokenError
from bot.graph.errors import (
    GraphBadRequest,
    GraphConnectionError,
    GraphError,
    GraphNotFound,
    GraphPermissionDenied,
    GraphThrottled,
    GraphTimeout,
    GraphUnauthorized,
    GraphUnavailable,
)


def command_error_view(error: CommandError) -> ErrorView:
    return ErrorView(
        title="I couldn't do that",
        message=error.message,
        hint="Nothing was changed. Send /help for every command.",
        example=error.example,
    )


def graph_error_view(error: GraphError) -> ErrorView:
    ref = f" (Graph request id {error.request_id})" if error.request_id else ""
    if isinstance(error, GraphPermissionDenied):
        # Spoken to the person in the chat; the admin detail (the permission, the consent) is in the
        # bot's log line and the admin guide's troubleshooting table.
        return ErrorView(
            title="I'm not allowed to change your presence yet",
            message="Your organization hasn't given Presence Bot permission to set presence in Teams." + ref,
            hint="Ask your Teams admin to finish setting up Presence Bot (it needs admin consent).",
        )
    if isinstance(error, GraphUnauthorized):
        return ErrorView(
            title="The bot couldn't sign in to Microsoft Graph",
            message="Graph did not accept the bot's credentials." + ref,
            hint="Ask your admin to check the bot's Graph client id, secret and tenant configuration.",
        )
    if isinstance(error, GraphThrottled):
        return ErrorView(
            title="Microsoft Graph is busy",
            message="Graph asked the bot to slow down, and the wait was longer than a chat reply allows.",
            hint="Nothing was changed. Try again in a minute.",
        )
    if isinstance(error, GraphTimeout):
        return ErrorView(
            title="Microsoft Graph didn't answer in time",
            message="The change may or may not have been applied.",
            hint="Send /presence in a moment to see what Teams shows, then try again if needed.",
        )
    if isinstance(error, GraphUnavailable | GraphConnectionError):
        return ErrorView(
            title="Microsoft Graph is unavailable",
            message="Graph kept failing, even after several retries." + ref,
            hint="Nothing was changed. Try again in a few minutes.",
        )
    if isinstance(error, GraphNotFound):
        return ErrorView(
            title="Graph doesn't know this user",
            message="Microsoft Graph could not find your account in this tenant." + ref,
            hint="The bot works for accounts in the tenant it's installed in.",
        )
    if isinstance(error, GraphBadRequest):
        return ErrorView(
            title="Microsoft Graph refused the change",
            message=f"Graph answered {error.code}." + ref,
            hint="This is a bug in the bot; please tell your admin what you sent.",
        )
    return ErrorView(
        title="Something went wrong talking to Microsoft Graph",
        message=f"Graph answered {error.status or 'nothing'} {error.code}." + ref,
        hint="Try again in a moment.",
    )


def token_error_view(error: TokenError) -> ErrorView:
    """The identity platform refused the bot a Graph token (bad secret, app not consented in the tenant)."""
    hint = (
        "Try again in a minute."
        if error.transient
        else "Ask your admin to check the bot's app registration: its credential (secret, certificate "
        "or managed identity), and that it is consented in your organization (see docs/admin-guide.md)."
    )
    if error.code == "tenant_required":  # no tenant in the conversation, and no GRAPH_TENANT_ID
        hint = "Ask your admin to set GRAPH_TENANT_ID: this chat did not say which organization you're in."
    return ErrorView(
        title="The bot couldn't sign in to Microsoft Graph",
        message=f"{error} Nothing was changed.",
        hint=hint,
    )


def tenant_refused_view() -> ErrorView:
    return ErrorView(
        title="This organization can't use this bot",
        message="This Presence Bot deployment only serves the organizations its operator allowed.",
        hint="Ask your Teams admin about installing your organization's own Presence Bot.",
    )


def internal_error_view() -> ErrorView:
    return ErrorView(
        title="Something went wrong on our side",
        message="The bot hit an unexpected error; nothing was changed that it knows of.",
        hint="Try again; if it keeps happening, tell your admin the time you tried.",
    )


def lease_conflict_view() -> ErrorView:
    """Another replica of the bot kept working on this user's previous command (or hold refresh) for
    longer than a chat reply can wait: nothing was sent to Graph for this one."""
    return ErrorView(
        title="I'm still busy with your previous change",
        message="Another of the bot's servers is still working on a change for you, so I didn't start "
        "this one. Nothing was changed.",
        hint="Try again in half a minute.",
    )
