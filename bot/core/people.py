"""Who is acting: the part of a person the core needs, independent of storage and transport."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Person:
    user_id: int
    telegram_id: int
    name: str
    role: str
    team_id: int | None
    team: str | None
    language: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"
