"""The one user type: the person a command, a hold or a store row is about."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class UserRef(BaseModel):
    """A person, by tenant and id, as the bot acts for them: always the sender of an activity.

    `user_id` is the AAD object id in Teams (the channel id in the Emulator); the Emulator has no
    tenant (`tenant_id=None`). `name` is for cards and notices only and is not part of the identity.
    """

    model_config = ConfigDict(frozen=True)

    user_id: str = Field(min_length=1)
    tenant_id: str | None = None
    name: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """(tenant, user) as the store keys it: the Emulator's missing tenant is ""."""
        return (self.tenant_id or "", self.user_id)
