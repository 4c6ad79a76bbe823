"""Logs: JSON lines with time, level, logger, message, exc; the bot token and the webhook secret never in them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot import logs

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
SECRET = "webhook-secret_42"


@pytest.fixture
def capture() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    logs.setup("INFO", json_lines=True, secrets=(TOKEN, SECRET, None), stream=stream)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_json_object_per_line(capture: io.StringIO) -> None:
    logging.getLogger("bot.x").info("update %d handled in %s", 7, "12 ms")
    logging.getLogger("bot.x").debug("below the level")
    [entry] = lines(capture)
    assert entry["level"] == "INFO" and entry["logger"] == "bot.x" and entry["message"] == "update 7 handled in 12 ms"
    assert entry["time"].endswith("+00:00") and "T" in entry["time"] and "exc" not in entry


def test_the_token_and_the_secret_are_masked_in_messages_arguments_and_tracebacks(capture: io.StringIO) -> None:
    url = f"https://api.telegram.org/bot{TOKEN}/sendMessage"
    log = logging.getLogger("aiogram.event")
    log.error("request to %s failed", url)
    log.warning(f"secret {SECRET} in the template itself")
    try:
        raise ConnectionError(f"Cannot connect to host: {url}")
    except ConnectionError:
        log.exception("send failed")
    other = "123456789:" + "A" * 35  # a token this process was not given is masked too
    log.info("another bot: %s", other)
    text = capture.getvalue()
    assert TOKEN not in text and SECRET not in text and other not in text
    entries = lines(capture)
    assert entries[0]["message"] == "request to https://api.telegram.org/bot<secret>/sendMessage failed"
    assert entries[1]["message"] == "secret <secret> in the template itself"
    assert entries[2]["message"] == "send failed" and "ConnectionError: Cannot connect to host" in entries[2]["exc"]
    assert "bot<secret>/sendMessage" in entries[2]["exc"]
    assert entries[3]["message"] == "another bot: <secret>"


def test_plain_lines_are_masked_too() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        logs.setup("info", json_lines=False, secrets=(TOKEN,), stream=stream)
        logging.getLogger("aiohttp.client").warning("GET /bot%s/getMe", TOKEN)
        logging.getLogger("aiohttp.access").info("POST /hook 200")  # access lines are off: noise, and paths
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
    [line] = stream.getvalue().splitlines()
    assert line.endswith("WARNING aiohttp.client: GET /bot<secret>/getMe")


def test_a_malformed_logging_call_still_logs_and_masks(capture: io.StringIO) -> None:
    logging.getLogger("bot.y").warning("token %s and %s", TOKEN)  # one argument short
    [entry] = lines(capture)
    assert TOKEN not in capture.getvalue() and entry["message"] == "token %s and %s"
