"""Help text every command's help shares: what `[when]` may be. Each command's own help line is in its
declaration (`bot.turns.commands`)."""

from __future__ import annotations

WHEN_HELP = (
    "[when] is a length (30m, 1h30m, 90 minutes, 2 hours, for 45 min, PT30M), an end time "
    "(until 5pm, until 17:30, until tomorrow 9am, until Monday) or a day (today, rest of day, tomorrow, "
    "this week) in your time zone."
)
