"""Fault injection: make the stand-in misbehave the ways the real Bot API does.

Every switch names a Bot API method (case-insensitive, like Telegram) or "*" for all methods.
Faults apply before the method runs, so a failed sendMessage really sends nothing.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Literal, NamedTuple

from .errors import ApiError

ANY = "*"


class FiredFault(NamedTuple):
    method: str
    kind: str  # "error" | "drop" | "rate_limit"
    status: int | None


@dataclass
class Decision:
    """What the server must do instead of (or before) running the method."""

    delay: float = 0.0
    error: ApiError | None = None
    drop: bool = False


@dataclass
class _OneShot:
    method: str
    remaining: int
    kind: Literal["error", "drop"]
    status: int = 429
    retry_after: int | None = None
    description: str | None = None

    def error(self) -> ApiError:
        return ApiError(
            self.status,
            self.description or _describe(self.status, self.retry_after),
            retry_after=self.retry_after,
        )


@dataclass
class _RateLimit:
    per_second: int
    retry_after: int
    accepted: deque[float] = field(default_factory=deque)


class Faults:
    """Switches a test flips; see the module docstring for method matching."""

    def __init__(self) -> None:
        self._one_shots: list[_OneShot] = []
        self._rate_limits: dict[str, _RateLimit] = {}
        self._delays: dict[str, float] = {}
        self.fired: list[FiredFault] = []

    def fail_next(
        self,
        method: str,
        n: int = 1,
        status: int = 429,
        retry_after: int | None = 1,
        description: str | None = None,
    ) -> None:
        """The next ``n`` calls answer ``status``; retry_after is only sent with a 429."""
        retry = retry_after if status == 429 else None
        self._one_shots.append(_OneShot(_key(method), n, "error", status, retry, description))

    def server_error(self, method: str, n: int = 1, status: int = 502) -> None:
        """The next ``n`` calls answer a 5xx, as Telegram does during an outage."""
        self.fail_next(method, n, status=status, retry_after=None)

    def drop_connection(self, method: str, n: int = 1) -> None:
        """The next ``n`` calls have their connection closed without any response."""
        self._one_shots.append(_OneShot(_key(method), n, "drop"))

    def rate_limit(self, method: str, per_second: int, retry_after: int = 1) -> None:
        """More than ``per_second`` accepted calls within any one second answer 429."""
        self._rate_limits[_key(method)] = _RateLimit(per_second, retry_after)

    def slow(self, method: str, delay: float) -> None:
        """Every call waits ``delay`` seconds before it is handled (0 switches it off)."""
        self._delays[_key(method)] = delay

    def clear(self) -> None:
        self._one_shots.clear()
        self._rate_limits.clear()
        self._delays.clear()

    def decide(self, method: str) -> Decision:
        """Consume the fault (if any) that applies to this call of ``method``."""
        key = _key(method)
        decision = Decision(delay=self._delays.get(key, self._delays.get(ANY, 0.0)))
        shot = next((s for s in self._one_shots if s.method in (key, ANY)), None)
        if shot is not None:
            shot.remaining -= 1
            if shot.remaining <= 0:
                self._one_shots.remove(shot)
            self.fired.append(FiredFault(method, shot.kind, shot.status if shot.kind == "error" else None))
            if shot.kind == "drop":
                decision.drop = True
            else:
                decision.error = shot.error()
            return decision
        decision.error = self._rate_limited(method, key)
        return decision

    def _rate_limited(self, method: str, key: str) -> ApiError | None:
        limit = self._rate_limits.get(key) or self._rate_limits.get(ANY)
        if limit is None:
            return None
        now = time.monotonic()
        while limit.accepted and now - limit.accepted[0] >= 1.0:
            limit.accepted.popleft()
        if len(limit.accepted) >= limit.per_second:
            self.fired.append(FiredFault(method, "rate_limit", 429))
            return ApiError(429, _describe(429, limit.retry_after), retry_after=limit.retry_after)
        limit.accepted.append(now)
        return None


def _key(method: str) -> str:
    return method if method == ANY else method.lower()


def _describe(status: int, retry_after: int | None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after}"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"Error {status}"
