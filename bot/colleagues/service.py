"""`/who` and `/watch`: colleagues' presence read in bulk, and watches kept in the store.

Who someone is comes from the message: each mention names a Teams member ("29:…"), which the
conversation's roster (`Directory`) turns into an Entra object id, a tenant and a sign-in name. Presence
is read with one `getPresencesByUserId` call per 650 people (the Graph client chunks). Only people in the
sender's own tenant are read or watched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from urllib.parse import quote

from bot.colleagues.ports import PresenceReader, WatchCapReached, Watching, WatchStore
from bot.commands.colleagues import AddWatch, ListWatches, Unwatch, Who
from bot.commands.model import CommandError
from bot.commands.timeexpr import resolve_zone
from bot.core.colleagues import (
    Colleague,
    Directory,
    Mention,
    RosterError,
    WatchKind,
    is_free,
    watch_met,
)
from bot.core.colleagues import Watch as StoredWatch
from bot.core.states import teams_label
from bot.core.users import UserRef
from bot.core.views import ColleagueView, WatchesView, WatchLine, WatchView, WhoView
from bot.core.words import spoken_list
from bot.graph.errors import GraphPermissionDenied
from bot.graph.models import Presence
from bot.store.effects import TurnUnit

log = logging.getLogger(__name__)

WATCH_MAX = timedelta(hours=24)
MENTIONS_MAX = 20  # people one /who or /watch looks up (one roster call each)
_WHO_EXAMPLE = "/who @Megan"
_OFF = (
    "Your Teams admin has turned off /who and /watch for this organization, so I can't show or watch "
    "colleagues' presence."
)


class ColleaguesService:
    """`/who`, `/watch`, `/unwatch` and `/watches`, over three small ports (`bot.colleagues.ports`)."""

    def __init__(
        self,
        reader: PresenceReader,
        store: WatchStore,
        watcher: Watching,
        *,
        enabled: bool = True,
        who_limit: int = 50,
        watch_cap: int = 20,
        workday_end: time = time(18, 0),
    ) -> None:
        self._reader = reader
        self._store = store
        self._watcher = watcher
        self.enabled = enabled
        self._who_limit = who_limit
        self._cap = watch_cap
        self._workday_end = workday_end

    # -- /who ----------------------------------------------------------------------------------------
    async def who(
        self,
        user: UserRef,
        command: Who,
        mentions: Sequence[Mention],
        directory: Directory | None,
        *,
        personal: bool,
    ) -> WhoView:
        self._check_enabled()
        if command.names or mentions:
            people, problems = await self._resolve(user, command.names, mentions, directory)
            heading = spoken_list(c.name for c in people) if people else "No one I could look up"
            return WhoView(
                heading=heading, people=tuple(await self._read(user, people)), not_found=tuple(problems)
            )
        if personal or directory is None:
            raise CommandError(
                "Mention whom to look up (type @ and pick them); /who alone works in a group chat or "
                "channel, where it shows everyone there.",
                _WHO_EXAMPLE,
            )
        try:
            page = await directory.members(self._who_limit)
        except RosterError as error:
            log.warning("roster not read for /who: %s", error)
            raise CommandError(
                "I couldn't read who is in this chat: Teams didn't answer. Try again in a minute, or "
                "mention the people you want to see.",
                _WHO_EXAMPLE,
            ) from None
        # At most the limit (the roster reads no more); members of other tenants are left out.
        seen = await self._read(user, [m for m in page.members if _same_tenant(user, m)])
        heading, shown = "In this chat", seen
        if command.free_only:  # "who is free?": the members free now, of those read
            shown = [p for p in seen if is_free(p.availability, p.activity, p.out_of_office)]
            heading = (
                f"Free in this chat: {len(shown)} of {len(seen)}" if shown else "No one here is free now"
            )
        total = page.total if page.total is not None else len(page.members)
        return WhoView(
            heading=heading,
            people=tuple(shown),
            more=max(0, total - len(page.members)),
            more_uncounted=page.more and page.total is None,
        )

    # -- /watch --------------------------------------------------------------------------------------
    async def watch(
        self,
        user: UserRef,
        command: AddWatch,
        mentions: Sequence[Mention],
        directory: Directory | None,
        *,
        now: datetime,
        time_zone: str,
        unit: TurnUnit | None,
    ) -> list[WatchView]:
        """`/watch @Megan`: watch each colleague mentioned who isn't already free (or back); a notice goes
        to the conversation of the turn `unit` when they are."""
        self._check_enabled()
        conversation_id = unit.conversation_id if unit is not None else None
        people, problems = await self._resolve(user, command.names, mentions, directory)
        if problems and not people:
            raise CommandError(" ".join(problems), "/watch @Megan")
        if any(person.aad_id.lower() == user.user_id.lower() for person in people):
            raise CommandError(
                "That's you: I can only watch someone else. To see your own presence, send /presence.",
                "/presence",
            )
        ends_at = self._watch_end(command, now, time_zone)
        kind = WatchKind.BACK if command.back else WatchKind.FREE
        views: list[WatchView] = []
        before = {w.id for w in await self._store.active_watches(user, now=now)}  # what a repeat extends
        try:
            for person, seen in zip(people, await self._read(user, people), strict=True):
                if watch_met(kind, seen.availability, seen.activity, seen.out_of_office):
                    views.append(
                        WatchView(person=seen, back=command.back, watch_id=None, time_zone=time_zone, now=now)
                    )
                    continue
                stored = await self._store.add_watch(
                    user,
                    person,
                    kind,
                    ends_at=ends_at,
                    conversation_id=conversation_id,
                    now=now,
                    cap=self._cap,
                )
                views.append(
                    WatchView(
                        person=seen,
                        back=command.back,
                        watch_id=stored.id,
                        ends_at=stored.ends_at,
                        extended=stored.id in before,
                        time_zone=time_zone,
                        now=now,
                    )
                )
        except WatchCapReached:
            raise CommandError(
                f"You already watch {self._cap} people, as many as I keep for one person. Stop one "
                "first (/watches lists them), or /unwatch all.",
                "/watches",
            ) from None
        finally:
            if any(view.watch_id is not None for view in views):  # the tenant's poll, once
                await self._watcher.watching(user.tenant_id or "")
        return views

    def _watch_end(self, command: AddWatch, now: datetime, time_zone: str) -> datetime:
        """The end asked for (at most 24 hours away), else the end of the working day in the user's
        zone (the next one when today's is over), at most 24 hours away."""
        if command.when is not None:
            if command.when.end - now > WATCH_MAX:
                raise CommandError(
                    "A watch lasts at most 24 hours; say an end within a day.", "/watch @Megan until 5pm"
                )
            return command.when.end
        zone = resolve_zone(time_zone)
        local = now.astimezone(zone)
        end = datetime.combine(local.date(), self._workday_end, tzinfo=zone)
        if end <= local + timedelta(minutes=5):
            end = datetime.combine(local.date() + timedelta(days=1), self._workday_end, tzinfo=zone)
        return min(end, now + WATCH_MAX)

    # -- /unwatch, /watches --------------------------------------------------------------------------
    async def unwatch(
        self,
        user: UserRef,
        command: Unwatch,
        mentions: Sequence[Mention],
        directory: Directory | None,
        *,
        now: datetime,
        time_zone: str,
    ) -> WatchesView:
        self._check_enabled()
        stopped: list[StoredWatch] = []
        if command.everyone:
            stopped = await self._store.cancel_watches(user, None, now=now)
        elif command.watch_id is not None:
            mine = {w.id: w for w in await self._store.active_watches(user, now=now)}
            if command.watch_id in mine:
                stopped = await self._store.cancel_watches(
                    user, mine[command.watch_id].target.aad_id, now=now
                )
        else:
            people, problems = await self._resolve(user, command.names, mentions, directory)
            if problems and not people:
                raise CommandError(" ".join(problems), "/unwatch all")
            for person in people:
                stopped += await self._store.cancel_watches(user, person.aad_id, now=now)
        title = (
            f"Stopped watching {spoken_list(w.target.name for w in stopped)}."
            if stopped
            else "You weren't watching them."
        )
        if command.everyone and not stopped:
            title = "You weren't watching anyone."
        return await self._watches_view(user, now=now, time_zone=time_zone, title=title)

    async def watches(
        self, user: UserRef, command: ListWatches, *, now: datetime, time_zone: str
    ) -> WatchesView:
        self._check_enabled()
        return await self._watches_view(user, now=now, time_zone=time_zone)

    async def _watches_view(
        self, user: UserRef, *, now: datetime, time_zone: str, title: str | None = None
    ) -> WatchesView:
        lines = tuple(
            WatchLine(watch_id=w.id, name=w.target.name, back=w.kind is WatchKind.BACK, ends_at=w.ends_at)
            for w in await self._store.active_watches(user, now=now)
        )
        return WatchesView(watches=lines, cap=self._cap, time_zone=time_zone, now=now, title=title)

    # -- people --------------------------------------------------------------------------------------
    def _check_enabled(self) -> None:
        if not self.enabled:
            raise CommandError(_OFF)

    async def _resolve(
        self, user: UserRef, names: Sequence[str], mentions: Sequence[Mention], directory: Directory | None
    ) -> tuple[list[Colleague], list[str]]:
        """The mentioned people as colleagues in the sender's tenant, and a sentence for each who isn't."""
        if not mentions:
            who = spoken_list(names) if names else "them"
            raise CommandError(
                f"I couldn't tell who {who} is: mention people by typing @ and picking them from the list.",
                _WHO_EXAMPLE,
            )
        if len(mentions) > MENTIONS_MAX:
            raise CommandError(
                f"That's {len(mentions)} people; I look up at most {MENTIONS_MAX} at once. In a group chat, "
                "/who alone shows everyone there.",
                "/who",
            )
        # Looked up side by side: each is one roster call to Teams.
        found = await asyncio.gather(*(self._member(mention, directory) for mention in mentions))
        people: list[Colleague] = []
        problems: list[str] = []
        for mention, person in zip(mentions, found, strict=True):
            if person is None:
                problems.append(f"I couldn't look up {mention.name}: Teams doesn't list them in this chat.")
            elif not _same_tenant(user, person):
                problems.append(
                    f"{mention.name} is in another organization; I can only show and watch people in yours."
                )
            elif all(p.aad_id != person.aad_id for p in people):
                people.append(person)
        return people, problems

    async def _member(self, mention: Mention, directory: Directory | None) -> Colleague | None:
        if directory is not None:
            try:
                found = await directory.member(mention.channel_id)
            except RosterError as error:
                log.warning("roster lookup failed for a mention: %s", error)
                found = None
            if found is not None:
                return found
        if mention.aad_id:  # Teams sometimes names the Entra id in the mention itself
            return Colleague(aad_id=mention.aad_id, name=mention.name, channel_id=mention.channel_id)
        return None

    async def _read(self, user: UserRef, people: Sequence[Colleague]) -> list[ColleagueView]:
        if not people:
            return []
        try:
            read = await self._reader.get_presences([p.aad_id for p in people], tenant_id=user.tenant_id)
        except GraphPermissionDenied as error:
            log.warning(
                "Graph refused to read colleagues' presence: %r (the app needs Presence.Read.All or "
                "Presence.ReadWrite.All as an application permission, with admin consent)",
                error,
            )
            raise CommandError(
                "I'm not allowed to read colleagues' presence in your organization yet: ask your Teams "
                "admin to grant the app its Microsoft Graph permission."
            ) from None
        by_id = {(p.id or "").lower(): p for p in read}
        return [colleague_view(person, by_id.get(person.aad_id.lower())) for person in people]


def colleague_view(person: Colleague, presence: Presence | None) -> ColleagueView:
    """What a card shows of a colleague: Teams' label, status message and out-of-office message."""
    if presence is None:
        return ColleagueView(
            name=person.name,
            availability="PresenceUnknown",
            activity="PresenceUnknown",
            label="Status unknown",
            chat_url=chat_link(person),
        )
    message = presence.status_message.message if presence.status_message else None
    ooo, out = presence.out_of_office_settings, presence.out_of_office
    return ColleagueView(
        name=person.name,
        availability=presence.availability,
        activity=presence.activity,
        label=teams_label(presence.availability, presence.activity),
        status_message=(message.content.strip() or None) if message else None,
        out_of_office=out,
        out_of_office_message=(ooo.message or "").strip() or None if out and ooo else None,
        chat_url=chat_link(person),
    )


def chat_link(person: Colleague) -> str | None:
    """Teams' deep link to a 1:1 chat: it takes the person's sign-in name (UPN), not an object id."""
    if not person.upn or "@" not in person.upn:
        return None
    return f"https://teams.microsoft.com/l/chat/0/0?users={quote(person.upn, safe='@')}"


def _same_tenant(user: UserRef, person: Colleague) -> bool:
    return person.tenant_id is None or (person.tenant_id or "").lower() == (user.tenant_id or "").lower()
