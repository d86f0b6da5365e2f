"""The simulated Microsoft Graph presence tenant (see docs/simulator.md)."""

from bot.sim.errors import SimGraphError

__all__ = ["SimGraphError"]
