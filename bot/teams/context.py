"""What the handler reads off a Bot Framework activity: who is speaking, their tenant and time zone.

Kept free of botbuilder types where it can be, so it is easy to test with the Playground's samples.
"""

from __future__ import annotations

import hashlib
from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity

import cards
from bot.commands.parser import mention_names
from bot.core.colleagues import Directory, Mention
from bot.core.users import UserRef
from bot.core.zones import valid_zone
from bot.store.records import SavedConversation
from bot.turns.model import Inbound, TurnKind

MAX_ENTITIES = 64  # Teams sends clientInfo and one per mention; the rest are not looked at


def sender(activity: Activity) -> UserRef | None:
    """The target user is always the sender: `from.aadObjectId` (Teams), else `from.id` (Emulator)."""
    who = activity.from_property
    if who is None:
        return None
    user_id = (getattr(who, "aad_object_id", None) or who.id or "").strip()
    if not user_id:
        return None
    return UserRef(user_id=user_id, tenant_id=tenant_of(activity), name=who.name or None)


def tenant_ids(activity: Activity) -> tuple[str | None, str | None]:
    """The tenant the conversation names (`conversation.tenantId`, which Teams sends and botbuilder's
    model, expecting `tenantID`, keeps only among its extra properties) and the one the channel data
    names (`channelData.tenant.id`)."""
    conversation_tenant: str | None = None
    conversation = activity.conversation
    if conversation is not None:
        extra = getattr(conversation, "additional_properties", None) or {}
        value = getattr(conversation, "tenant_id", None) or extra.get("tenantId")
        if isinstance(value, str) and value.strip():
            conversation_tenant = value.strip()
    channel_tenant: str | None = None
    data = activity.channel_data
    if isinstance(data, dict):
        tenant = data.get("tenant")
        if isinstance(tenant, dict) and isinstance(tenant.get("id"), str) and tenant["id"].strip():
            channel_tenant = tenant["id"].strip()
    return conversation_tenant, channel_tenant


def tenant_of(activity: Activity) -> str | None:
    """The activity's tenant: the conversation's, else the channel data's."""
    conversation_tenant, channel_tenant = tenant_ids(activity)
    return conversation_tenant or channel_tenant


def activity_key(activity: Activity) -> str | None:
    """What identifies an activity for the redelivery guard: its id is unique only within its
    conversation, so the key is (channel, conversation, id), hashed to a fixed length."""
    if not activity.id:
        return None
    conversation = activity.conversation.id if activity.conversation is not None else ""
    raw = "\x1f".join((str(activity.channel_id or ""), str(conversation or ""), str(activity.id)))
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def reported_zone(activity: Activity) -> str | None:
    """The IANA zone the Teams client reported: `localTimezone`, else the `clientInfo` entity's
    `timezone`; None when neither is a valid zone."""
    zone = valid_zone(getattr(activity, "local_timezone", None))
    if zone:
        return zone
    for entity in (activity.entities or [])[:MAX_ENTITIES]:
        props = entity.additional_properties if hasattr(entity, "additional_properties") else {}
        if getattr(entity, "type", None) == "clientInfo":
            zone = valid_zone((props or {}).get("timezone"))
            if zone:
                return zone
    return None


def bot_names(activity: Activity) -> list[str]:
    recipient = activity.recipient
    return [str(recipient.name)] if recipient is not None and recipient.name else []


def mentions(activity: Activity) -> tuple[Mention, ...]:
    """The people the message mentions (Teams' `mention` entities), the bot itself left out, each once,
    in order; named as the message shows them (`<at>Megan</at>` → "Megan")."""
    bot_id = activity.recipient.id if activity.recipient is not None else None
    found: dict[str, Mention] = {}
    for entity in (activity.entities or [])[:MAX_ENTITIES]:
        if getattr(entity, "type", None) != "mention":
            continue
        props = getattr(entity, "additional_properties", None) or {}
        mentioned = props.get("mentioned")
        if not isinstance(mentioned, dict):
            continue
        who, name, aad = mentioned.get("id"), mentioned.get("name"), mentioned.get("aadObjectId")
        if not isinstance(who, str) or not who.strip() or len(who) > 256 or who == bot_id:
            continue
        shown = mention_names(props["text"]) if isinstance(props.get("text"), str) else []
        label = (shown[0] if shown else "") or (name.strip() if isinstance(name, str) else "") or who
        found.setdefault(
            who,
            Mention(
                channel_id=who.strip(),
                name=label[:200],
                aad_id=aad.strip() if isinstance(aad, str) and aad.strip() else None,
            ),
        )
    return tuple(found.values())


def inbound(activity: Activity, kind: TurnKind, text: str, directory: Directory | None = None) -> Inbound:
    """What the pipeline needs of an activity, read once."""
    conversation = activity.conversation
    conversation_type = getattr(conversation, "conversation_type", None) if conversation else None
    return Inbound(
        kind=kind,
        text=text,
        sender=sender(activity),
        tenant_id=tenant_of(activity),
        tenant_ids=tuple(dict.fromkeys(tenant for tenant in tenant_ids(activity) if tenant)),
        activity_key=activity_key(activity),
        conversation=saved_conversation(activity),
        teams_zone=reported_zone(activity),
        personal=conversation_type == "personal",
        viewer_id=activity.from_property.id if activity.from_property else None,
        bot_names=tuple(bot_names(activity)),
        card_owner=card_owner(activity) if kind is TurnKind.ACTION else None,
        card_kind=card_kind(activity) if kind is TurnKind.ACTION else None,
        form=card_form(activity) if kind is TurnKind.ACTION else {},
        mentions=mentions(activity) if kind is TurnKind.MESSAGE else (),
        directory=directory,
    )


_NOT_INPUTS = frozenset({"command", "owner", "owner_name", "card"})


def invoked_action(activity: Activity) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Universal Action invoke's `value.action` and its `data` (empty where the shape is wrong)."""
    value: dict[str, Any] = activity.value if isinstance(activity.value, dict) else {}
    action: dict[str, Any] = value["action"] if isinstance(value.get("action"), dict) else {}
    data: dict[str, Any] = action["data"] if isinstance(action.get("data"), dict) else {}
    return action, data


def card_form(activity: Activity) -> dict[str, str]:
    """The input values a card's button brought (Teams merges them into the action's data); strings
    only, at most 20 of at most 1,000 characters."""
    _, data = invoked_action(activity)
    form = {
        key: item[:1000]
        for key, item in data.items()
        if isinstance(key, str) and key not in _NOT_INPUTS and isinstance(item, str)
    }
    return dict(list(form.items())[:20])


def card_kind(activity: Activity) -> str | None:
    """Which kind of shared card a button was pressed on, when it says (`cards.OWNER_CARD`); None: a
    presence card."""
    _, data = invoked_action(activity)
    kind = data.get("card")
    return kind if isinstance(kind, str) and kind == cards.OWNER_CARD else None


def card_owner(activity: Activity) -> UserRef | None:
    """Whose presence card a button was pressed on: the `owner` a shared card's buttons carry (in the
    sender's tenant: a card never speaks for another organization)."""
    _, data = invoked_action(activity)
    owner = data.get("owner")
    if not isinstance(owner, str) or not owner.strip() or len(owner) > 256:
        return None
    name = data.get("owner_name")
    return UserRef(
        user_id=owner.strip(),
        tenant_id=tenant_of(activity),
        name=name[:200] if isinstance(name, str) and name.strip() else None,
    )


def saved_conversation(activity: Activity) -> SavedConversation | None:
    """How to reach the sender in this conversation later. The activity id is left out: a notice is a
    new message, not a reply to the command, and the reference then stays the same from one message
    to the next (the store writes it only when it changes)."""
    conversation = activity.conversation
    if conversation is None or not conversation.id or not activity.service_url:
        return None
    reference = TurnContext.get_conversation_reference(activity)
    reference.activity_id = None
    return SavedConversation(
        conversation_id=str(conversation.id),
        conversation_type=getattr(conversation, "conversation_type", None),
        reference=reference.serialize(),
    )
