"""SQLModel tables. Everything is stored in UTC; money in minor units (cents) so sums stay exact."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


class Team(SQLModel, table=True):
    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True, index=True)
    timezone: str = Field(default="UTC", max_length=64)
    currency: str | None = Field(default=None, max_length=3)
    language: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    telegram_id: int = Field(sa_type=BigInteger, unique=True, index=True)
    name: str = Field(default="", max_length=128)
    role: str = Field(default="staff", max_length=16)
    team_id: int | None = Field(default=None, foreign_key="teams.id", index=True)
    language: str = Field(default="en", max_length=16)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Decision(SQLModel, table=True):
    __tablename__ = "decisions"
    __table_args__ = (
        # One flow makes one decision, however often its last button arrives.
        UniqueConstraint("user_id", "flow_token", name="uq_decision_flow"),
        Index("ix_decisions_user_created", "user_id", "created_at"),
        Index("ix_decisions_team_created", "team_id", "created_at"),
        Index("ix_decisions_playbook_created", "playbook_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    flow_token: str = Field(max_length=16)
    user_id: int = Field(foreign_key="users.id")
    team_id: int | None = Field(default=None, foreign_key="teams.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    playbook_id: str = Field(max_length=64)
    playbook_version: str = Field(max_length=64)
    path: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    recommended_outcome: str | None = Field(default=None, max_length=64)
    taken_outcome: str | None = Field(default=None, max_length=64)
    taken_text: str | None = Field(default=None, max_length=256)
    disposition: str = Field(max_length=16)
    followed: bool
    favours_customer: bool | None = None
    amount_minor: int | None = Field(default=None, sa_type=BigInteger)
    currency: str = Field(max_length=3)
    limit_minor: int = Field(sa_type=BigInteger)
    over_limit: bool = False
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reaction: str | None = Field(default=None, max_length=16)
    seconds_to_decide: float = 0.0
    backs: int = 0


class PlaybookVersion(SQLModel, table=True):
    """Every version of every playbook ever loaded, so a flow or decision can always be read back."""

    __tablename__ = "playbook_versions"
    __table_args__ = (UniqueConstraint("playbook_id", "version", name="uq_playbook_version"),)

    id: int | None = Field(default=None, primary_key=True)
    playbook_id: str = Field(max_length=64, index=True)
    version: str = Field(max_length=64)
    source: str = Field(sa_column=Column(Text, nullable=False))
    origin: str = Field(default="", max_length=512)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Conversation(SQLModel, table=True):
    """Conversation state (the FSM), so a restart — even kill -9 — resumes where each person was."""

    __tablename__ = "conversations"

    key: str = Field(primary_key=True, max_length=128)
    state: str | None = Field(default=None, max_length=128)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ProcessedUpdate(SQLModel, table=True):
    """Update ids already handled: Telegram may deliver one twice, it must count once."""

    __tablename__ = "processed_updates"

    bot_id: int = Field(sa_type=BigInteger, primary_key=True)
    update_id: int = Field(sa_type=BigInteger, primary_key=True)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
