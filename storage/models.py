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
    # Per-role empowerment limits for this team, in major units as strings ({"staff": "80"}):
    # they replace the playbook's value for that role. Set in config.yaml or by a manager.
    limits: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
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
    on_duty: bool = Field(default=False)  # leads on duty receive escalations
    # Usual shift, for training: {"days": [0..6 Monday first], "start": "09:00", "end": "17:00"}.
    shift: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TeamOversight(SQLModel, table=True):
    """Extra teams a supervisor or admin oversees, beyond their own."""

    __tablename__ = "team_oversight"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    team_id: int = Field(foreign_key="teams.id", primary_key=True)


class Invite(SQLModel, table=True):
    """A deep-link invite. Only the token's hash is kept: a database leak opens no door."""

    __tablename__ = "invites"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    team_id: int = Field(foreign_key="teams.id", index=True)
    role: str = Field(max_length=16)
    max_uses: int = 1
    uses: int = 0
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEntry(SQLModel, table=True):
    """Append-only: every change of rights or content, who made it, and the state before and after."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor_id: int | None = Field(default=None, foreign_key="users.id")  # None: the shell or the system
    actor: str = Field(default="", max_length=128)  # how the actor was known then, kept after /forgetme
    action: str = Field(max_length=48, index=True)
    subject: str = Field(default="", max_length=128)
    team_id: int | None = Field(default=None, foreign_key="teams.id")
    before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    after: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


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
    # Escalation, when a lead was asked: their answer, who gave it, and whether time ran out.
    escalation: str | None = Field(default=None, max_length=16)
    lead_user_id: int | None = Field(default=None, foreign_key="users.id")
    on_timeout: bool = False


class Escalation(SQLModel, table=True):
    """A staff member asking the team's on-duty leads. The first answer wins (a guarded UPDATE)."""

    __tablename__ = "escalations"
    __table_args__ = (Index("ix_escalations_status_due", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    team_id: int | None = Field(default=None, foreign_key="teams.id")
    flow_token: str = Field(max_length=16)
    playbook_id: str = Field(max_length=64)
    playbook_version: str = Field(max_length=64)
    flow: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    amount_minor: int | None = Field(default=None, sa_type=BigInteger)
    currency: str = Field(default="EUR", max_length=3)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reason: str = Field(default="asked", max_length=16)  # asked | over_limit
    status: str = Field(default="pending", max_length=16)  # pending approved declined coming timeout cancelled
    answered_by: int | None = Field(default=None, foreign_key="users.id")
    answered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    due_at: datetime = Field(sa_type=UTCDateTime)
    staff_chat_id: int = Field(sa_type=BigInteger)
    staff_message_id: int | None = None
    decision_id: int | None = Field(default=None, foreign_key="decisions.id")


class EscalationNotice(SQLModel, table=True):
    """The message each lead got, so every copy can say who answered."""

    __tablename__ = "escalation_notices"

    escalation_id: int = Field(foreign_key="escalations.id", primary_key=True)
    lead_user_id: int = Field(foreign_key="users.id", primary_key=True)
    chat_id: int = Field(sa_type=BigInteger)
    message_id: int


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
    # Authoring (bot/core/authoring.py): who first published this content, why, and when it first went live.
    author_id: int | None = Field(default=None, foreign_key="users.id")  # None: a file or the shell
    changelog: str = Field(default="", max_length=256)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PlaybookPublication(SQLModel, table=True):
    """Every time a version became live (a file sync, an upload, a roll back): the history managers read."""

    __tablename__ = "playbook_publications"
    __table_args__ = (Index("ix_playbook_publications_playbook", "playbook_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    playbook_id: str = Field(max_length=64)
    version: str = Field(max_length=64)
    origin: str = Field(default="", max_length=512)  # a file path, or bot:upload / bot:rollback
    author_id: int | None = Field(default=None, foreign_key="users.id")
    author: str = Field(default="", max_length=128)  # how the author was known then
    changelog: str = Field(default="", max_length=256)
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PlaybookState(SQLModel, table=True):
    """The live pointer of each playbook, and whether it is retired (hidden from staff, history kept)."""

    __tablename__ = "playbook_state"

    playbook_id: str = Field(primary_key=True, max_length=64)
    live_version: str = Field(max_length=64)
    category: str = Field(default="general", max_length=64)
    retired: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PlaybookDraft(SQLModel, table=True):
    """An uploaded playbook waiting for Publish or Discard; kept in the database so buttons survive a restart."""

    __tablename__ = "playbook_drafts"

    id: str = Field(primary_key=True, max_length=16)
    playbook_id: str = Field(max_length=64)
    version: str = Field(max_length=64)
    source: str = Field(sa_column=Column(Text, nullable=False))
    filename: str = Field(default="", max_length=256)
    changelog: str = Field(default="", max_length=256)
    uploader_id: int | None = Field(default=None, foreign_key="users.id")
    status: str = Field(default="pending", max_length=16)  # pending | published | discarded
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


class UnmatchedPhrase(SQLModel, table=True):
    """What staff typed that no playbook covered (bot/core/unmatched.py groups them for /unmatched).

    reason: no_match (nothing offered), offered (a list was shown; its "None of these" button carries this
    row's id) or none_of_these (that button was pressed). Personal data: purged with notes, and by /forgetme.
    """

    __tablename__ = "unmatched_phrases"
    __table_args__ = (Index("ix_unmatched_phrases_created", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=200)
    team_id: int | None = Field(default=None, foreign_key="teams.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    reason: str = Field(default="no_match", max_length=16)  # no_match | offered | none_of_these


class DigestSent(SQLModel, table=True):
    """One row per team and week whose digest went out: claimed (inserted) before sending, so a second process,
    or the same one after a restart, fails on the primary key and sends nothing."""

    __tablename__ = "digest_sent"

    team_id: int = Field(foreign_key="teams.id", primary_key=True)
    week: str = Field(max_length=8, primary_key=True)  # ISO label, 2026-W47
    claimed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    recipients: int = 0
    blocked: int = 0


class TrainingCard(SQLModel, table=True):
    """A training card as last generated (from a playbook path) or authored (training/*.yaml).

    `id` is short and stable (a hash of `key`), so it fits in callback data and keeps a person's progress
    across wording changes; `key` says where the card comes from ("playbook:item-out-of-stock/elsewhere>wait>
    free-delivery", "authored:greet-first"). A card whose path or file is gone is retired, not deleted.
    """

    __tablename__ = "training_cards"

    id: str = Field(primary_key=True, max_length=16)
    key: str = Field(max_length=256, unique=True)
    source: str = Field(max_length=16)  # playbook | authored
    playbook_id: str | None = Field(default=None, max_length=64, index=True)
    team: str | None = Field(default=None, max_length=64)  # authored cards may be for one team only
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    content_hash: str = Field(max_length=64)
    active: bool = True
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TrainingMemory(SQLModel, table=True):
    """One person's memory of one card (the FSRS state), and when it is next due."""

    __tablename__ = "training_memory"
    __table_args__ = (Index("ix_training_memory_user_due", "user_id", "due"),)

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    card_id: str = Field(foreign_key="training_cards.id", primary_key=True, max_length=16)
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    due: datetime = Field(sa_type=UTCDateTime)
    reviews: int = 0
    lapses: int = 0
    last_review: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TrainingProfile(SQLModel, table=True):
    """Per-person training switches: paused (holidays) and unreachable (blocked the bot: 403)."""

    __tablename__ = "training_profiles"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    paused_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    unreachable_since: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TrainingDelivery(SQLModel, table=True):
    """One card to one person for one slot. Inserted (unique) before anything is sent, claimed
    (pending → sending, a guarded UPDATE) right before the request, marked sent right after: a crash or a
    second process cannot send it twice, and a claim left by a dead process is retried.

    slot: "2026-11-26#1" (the second scheduled card of that local day), "push:<id>", "train:<update id>".
    """

    __tablename__ = "training_deliveries"
    __table_args__ = (
        UniqueConstraint("user_id", "card_id", "slot", name="uq_training_delivery"),
        Index("ix_training_deliveries_status", "status", "id"),
        Index("ix_training_deliveries_user_created", "user_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    card_id: str = Field(foreign_key="training_cards.id", max_length=16)
    slot: str = Field(max_length=48)
    kind: str = Field(default="scheduled", max_length=16)  # scheduled | push | practice
    new_card: bool = False  # the person had never seen this card: counts against training.new_per_day
    status: str = Field(default="pending", max_length=16)  # pending sending sent blocked failed cancelled
    chat_id: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    message_id: int | None = None
    error: str | None = Field(default=None, max_length=200)


class TrainingAnswer(SQLModel, table=True):
    """An answer to a delivered card (one per delivery). Keeps the memory before the answer, so the optional
    "How sure were you?" can re-grade the same review instead of counting a second one."""

    __tablename__ = "training_answers"
    __table_args__ = (
        Index("ix_training_answers_user_at", "user_id", "answered_at"),
        Index("ix_training_answers_team_at", "team_id", "answered_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="training_deliveries.id", unique=True)
    user_id: int = Field(foreign_key="users.id")
    team_id: int | None = Field(default=None, foreign_key="teams.id")
    card_id: str = Field(foreign_key="training_cards.id", max_length=16)
    playbook_id: str | None = Field(default=None, max_length=64)
    answered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    choice: int
    correct: bool
    confidence: str | None = Field(default=None, max_length=16)  # guessed | fairly | sure
    memory_before: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
