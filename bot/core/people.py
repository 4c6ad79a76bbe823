"""Who is acting: the part of a person the core needs, independent of storage and transport."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from bot.core.roles import Permission, can


@dataclass(frozen=True)
class Person:
    user_id: int
    telegram_id: int
    name: str
    role: str
    team_id: int | None
    team: str | None
    language: str
    currency: str = "EUR"  # the team's: money is shown and recorded in it
    timezone: str = "UTC"  # the team's: times are shown in it, stored in UTC
    team_limits: Mapping[str, Decimal] = field(default_factory=dict)  # per-role overrides of the team
    oversees: frozenset[int] = frozenset()  # team ids beyond their own (supervisors, admins)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def can(self, permission: Permission) -> bool:
        return can(self.role, permission)

    def covers_team(self, team_id: int | None) -> bool:
        """Whether this person's rights reach people and data of `team_id`."""
        return self.can(Permission.ALL_TEAMS) or team_id == self.team_id or team_id in self.oversees
