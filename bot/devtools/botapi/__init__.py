"""A local stand-in for the Telegram Bot API, for tests and demos.

A real aiogram bot runs against it unchanged::

    async with BotAPIStandIn() as api:
        bot = Bot(api.token, session=api.session())
        polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
        ann = api.user(1, name="Ann")
        await ann.send("/start")        # returns once the bot has answered
        assert "Welcome" in ann.screen().text
        await ann.press("Next")

See ``BotAPIStandIn`` for the rule that decides when the bot "has answered".

A pytest fixture that runs a dispatcher against it and stops it cleanly::

    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False))
    await api.wait_for_poll()  # polling has started, so stop_polling() is valid
    yield
    await dp.stop_polling()    # not task.cancel(): that orphans aiogram's inner polling task
    await task

Run it on its own with ``python -m bot.devtools.botapi --console`` (see standalone.py).
"""

from .errors import ApiError, ErrorRecord
from .faults import Faults, FiredFault
from .html import HTMLParseError, ParsedText, parse_html
from .markup import validate_reply_markup
from .models import Attachment, Call, CallbackAnswer, ChatMessage
from .server import DEFAULT_TOKEN, BotAPIStandIn
from .standalone import main, serve
from .users import SimUser

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "Attachment",
    "BotAPIStandIn",
    "Call",
    "CallbackAnswer",
    "ChatMessage",
    "ErrorRecord",
    "Faults",
    "FiredFault",
    "HTMLParseError",
    "ParsedText",
    "SimUser",
    "main",
    "parse_html",
    "serve",
    "validate_reply_markup",
]
