"""Logging for `moments run`: plain lines or one JSON object per line, never with a secret in them.

aiogram and aiohttp put the request URL, which holds the bot token (/bot<token>/sendMessage), into some
exception messages; a filter on the handler masks the token and the webhook secret in every record, its
arguments and its traceback. Message texts are never logged by Moments' own code (they may hold customer
details); this module cannot enforce that, the code review does.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

MASK = "<secret>"
# Any bot token (digits, a colon, 35 URL-safe characters), also one this process was not configured with.
_TOKEN = re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}")
PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class SecretFilter(logging.Filter):
    """Masks the given secrets (and anything shaped like a bot token) in a record before it is formatted."""

    def __init__(self, secrets: Iterable[str | None]) -> None:
        super().__init__()
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def mask(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return _TOKEN.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: keep the template, drop the arguments it could not take
            message = str(record.msg)
        record.msg = self.mask(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            # Format the traceback now, so the masked text is what every formatter prints.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = self.mask(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", "exc"?}: one line per record, UTC time with milliseconds."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup(level: str, *, json_lines: bool, secrets: Iterable[str | None] = (),
          stream: object | None = None) -> logging.Handler:
    """Replace the root handlers with one that writes to stderr (or `stream`), masked; returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(PLAIN_FORMAT))
    handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # aiohttp logs every request at INFO with the path: a token-based path would leak, and it is noise.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    return handler
