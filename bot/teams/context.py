"""What the handler reads off a Bot Framework activity: who is speaking, their tenant and time zone.

Kept free of botbuilder types where it can be, so it is easy to test with the Playground's samples.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from botbuilder.schema import Activity

from bot.core.users import UserRef


def sender(activity: Activity) -> UserRef | None:
    """The target user is always the sender: `from.aadObjectId` (Teams), else `from.id` (Emulator)."""
    who = activity.from_property
    if who is None:
        return None
    user_id = (getattr(who, "aad_object_id", None) or who.id or "").strip()
    if not user_id:
        return None
    return UserRef(user_id=user_id, tenant_id=tenant_of(activity), name=who.name or None)


def tenant_of(activity: Activity) -> str | None:
    conversation = activity.conversation
    if conversation is not None and getattr(conversation, "tenant_id", None):
        return str(conversation.tenant_id)
    data = activity.channel_data
    if isinstance(data, dict):
        tenant = data.get("tenant")
        if isinstance(tenant, dict) and tenant.get("id"):
            return str(tenant["id"])
    return None


def _valid_zone(name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip():
        return None
    try:
        ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name.strip()


def time_zone_of(activity: Activity, fallback: str) -> str:
    """The user's IANA zone: `localTimezone`, else the `clientInfo` entity's `timezone`, else `fallback`."""
    zone = _valid_zone(getattr(activity, "local_timezone", None))
    if zone:
        return zone
    for entity in activity.entities or []:
        props = entity.additional_properties if hasattr(entity, "additional_properties") else {}
        if getattr(entity, "type", None) == "clientInfo":
            zone = _valid_zone((props or {}).get("timezone"))
            if zone:
                return zone
    return fallback


def command_text(activity: Activity) -> str | None:
    """The command a message carries: its text, or a card's `Action.Submit` data `{"command": …}`."""
    value = activity.value
    if isinstance(value, dict) and isinstance(value.get("command"), str):
        return str(value["command"])
    return str(activity.text) if activity.text is not None else None


def bot_names(activity: Activity) -> list[str]:
    recipient = activity.recipient
    return [str(recipient.name)] if recipient is not None and recipient.name else []
