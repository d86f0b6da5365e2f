"""`python -m bot.store revision "what changed"`: write a new Alembic revision for the store."""

from bot.store.migrate import main

raise SystemExit(main())
