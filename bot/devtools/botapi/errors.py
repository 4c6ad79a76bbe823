"""Error values the stand-in answers with, in Telegram's shapes."""

from __future__ import annotations

from typing import Any, NamedTuple


class ApiError(Exception):
    """Raised by a method implementation; becomes ``{"ok": false, ...}`` with this HTTP status."""

    def __init__(self, code: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


class ErrorRecord(NamedTuple):
    """One error the stand-in returned because of what the bot sent (injected faults excluded)."""

    method: str
    code: int
    description: str


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def forbidden(detail: str) -> ApiError:
    return ApiError(403, f"Forbidden: {detail}")


NOT_FOUND = ApiError(404, "Not Found")
UNAUTHORIZED = ApiError(401, "Unauthorized")
