"""Graph wire models (v1.0 presence), camelCase on the wire, snake_case in Python.

Unknown fields are kept (`extra="allow"`) so a newer Graph response never breaks a read.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class GraphModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def wire(self) -> dict[str, object]:
        """The JSON body Graph expects: camelCase, unset optionals left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class ItemBody(GraphModel):
    content: str = ""
    content_type: str = "text"


class DateTimeTimeZone(GraphModel):
    """Graph's `dateTimeTimeZone`: a wall-clock `dateTime` with no offset, and a zone name."""

    date_time: str
    time_zone: str = "UTC"

    @classmethod
    def from_datetime(cls, dt: datetime) -> DateTimeTimeZone:
        utc = dt.astimezone(UTC).replace(tzinfo=None)
        return cls(date_time=utc.isoformat(timespec="seconds"), time_zone="UTC")

    def to_datetime(self) -> datetime | None:
        """Aware datetime, or None when the zone is not one we can read (kept unread, never guessed)."""
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        text = self.date_time.rstrip("Z")
        # Graph sends up to 7 fractional digits; Python reads at most 6.
        if "." in text:
            head, frac = text.split(".", 1)
            text = f"{head}.{frac[:6]}"
        try:
            naive = datetime.fromisoformat(text)
        except ValueError:
            return None
        if naive.tzinfo is not None:
            return naive
        zone = self.time_zone or "UTC"
        if zone.upper() in {"UTC", "COORDINATED UNIVERSAL TIME", "ETC/UTC"}:
            return naive.replace(tzinfo=UTC)
        try:
            return naive.replace(tzinfo=ZoneInfo(zone))
        except (ZoneInfoNotFoundError, ValueError):
            return None


class StatusMessage(GraphModel):
    message: ItemBody | None = None
    expiry_date_time: DateTimeTimeZone | None = None
    published_date_time: str | None = None


class OutOfOfficeSettings(GraphModel):
    is_out_of_office: bool | None = None
    message: str | None = None


class Presence(GraphModel):
    id: str | None = None
    availability: str = "PresenceUnknown"
    activity: str = "PresenceUnknown"
    status_message: StatusMessage | None = None
    out_of_office_settings: OutOfOfficeSettings | None = None
    sequence_number: str | None = None

    @property
    def out_of_office(self) -> bool:
        """Automatic replies are on (what Teams shows with the purple out-of-office icon)."""
        return bool(self.out_of_office_settings and self.out_of_office_settings.is_out_of_office)


class SetPresenceRequest(GraphModel):
    session_id: str
    availability: str
    activity: str
    expiration_duration: str | None = None  # ISO 8601, PT5M..PT4H


class ClearPresenceRequest(GraphModel):
    session_id: str


class SetPreferredPresenceRequest(GraphModel):
    availability: str
    activity: str
    expiration_duration: str | None = None


class SetStatusMessageRequest(GraphModel):
    status_message: StatusMessage


class GraphErrorDetail(GraphModel):
    code: str = "UnknownError"
    message: str = ""
    inner_error: dict[str, object] | None = Field(default=None, alias="innerError")


class GraphErrorBody(GraphModel):
    error: GraphErrorDetail


def iso_duration(seconds: float) -> str:
    """ISO 8601 duration for Graph's `expirationDuration` (whole seconds, largest units first)."""
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or out == "PT":
        out += f"{secs}S"
    return out
