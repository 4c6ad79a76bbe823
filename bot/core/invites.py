"""Invites: tokens, their hashes, durations and the rules that say whether an invite still opens a door.

Pure functions: no Telegram, no database. The token goes to the person once (inside the link); only its
SHA-256 is stored, so a copy of the database lets nobody in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.core.roles import Role

TOKEN_BYTES = 24  # 192 bits of randomness; token_urlsafe gives 32 characters, all allowed in a start payload
MIN_TOKEN_LENGTH = 22  # 22 url-safe characters carry 132 bits: shorter payloads are no token of ours
MAX_TOKEN_LENGTH = 64  # Telegram's limit for a start parameter
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]+")
_DURATION = re.compile(r"(\d{1,4})\s*([dhmw])")
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}

DEFAULT_USES = 1
MAX_USES = 500
DEFAULT_LIFETIME = timedelta(days=7)
MIN_LIFETIME = timedelta(minutes=5)
MAX_LIFETIME = timedelta(days=90)


def new_token() -> str:
    """A fresh random invite token (≥ 128 bits), url-safe for a t.me deep link."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """What the database keeps: hex SHA-256 (64 characters). Tokens are random, so no salt is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(payload: str) -> bool:
    return MIN_TOKEN_LENGTH <= len(payload) <= MAX_TOKEN_LENGTH and bool(_TOKEN_SHAPE.fullmatch(payload))


def deep_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username}?start={token}"


def parse_duration(text: str) -> timedelta | None:
    """'7d', '12h', '30m', '2w' (and combinations such as '1d12h') → a duration; None if it is not one."""
    cleaned = text.strip().lower()
    if not cleaned or _DURATION.sub("", cleaned).strip():
        return None
    total = timedelta()
    for amount, unit in _DURATION.findall(cleaned):
        total += int(amount) * _UNITS[unit]
    return total if total > timedelta() else None


def check_lifetime(lifetime: timedelta) -> bool:
    return MIN_LIFETIME <= lifetime <= MAX_LIFETIME


def check_uses(uses: int) -> bool:
    return 1 <= uses <= MAX_USES


class InviteStatus(StrEnum):
    VALID = "valid"
    UNKNOWN = "unknown"
    REVOKED = "revoked"
    USED_UP = "used_up"
    EXPIRED = "expired"


def invite_status(*, uses: int, max_uses: int, expires_at: datetime, revoked_at: datetime | None,
                  now: datetime) -> InviteStatus:
    """Whether an invite still opens: revoked beats used up beats expired (the most useful answer first)."""
    if revoked_at is not None:
        return InviteStatus.REVOKED
    if uses >= max_uses:
        return InviteStatus.USED_UP
    if expires_at <= now:
        return InviteStatus.EXPIRED
    return InviteStatus.VALID


@dataclass(frozen=True)
class InviteRequest:
    """What `/invite role uses expires team` asked for; error names the first thing that was wrong."""

    role: str = Role.STAFF
    uses: int = DEFAULT_USES
    lifetime: timedelta = DEFAULT_LIFETIME
    team: str | None = None
    error: str | None = None
    detail: str = ""


def parse_invite_args(args: str | None) -> InviteRequest:
    """Words in any order, recognised by shape: a role, a number of uses, a duration, a team name."""
    role, uses, lifetime, team = Role.STAFF.value, DEFAULT_USES, DEFAULT_LIFETIME, None
    for word in (args or "").split():
        lowered = word.lower()
        if lowered in {r.value for r in Role}:
            role = lowered
        elif word.isdigit():
            uses = int(word)
            if not check_uses(uses):
                return InviteRequest(error="uses", detail=word)
        elif (duration := parse_duration(word)) is not None:
            lifetime = duration
            if not check_lifetime(lifetime):
                return InviteRequest(error="expires", detail=word)
        elif team is None and len(word) <= 64:
            team = word
        else:
            return InviteRequest(error="usage", detail=word[:64])
    return InviteRequest(role=role, uses=uses, lifetime=lifetime, team=team)
